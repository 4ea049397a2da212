"""RuleSet: many rules at once, adding, replacing and removing, concurrent use."""

from __future__ import annotations

import json
import threading

import pytest

from cumulo.patterns import InvalidEventPattern, RuleSet, compile_pattern

EC2_RUNNING = {
    "source": "aws.ec2",
    "detail-type": "EC2 Instance State-change Notification",
    "detail": {"state": "running"},
}


def test_returns_every_matching_rule():
    rules = RuleSet()
    rules.add("by-source", {"source": ["aws.ec2"]})
    rules.add("by-state", {"detail": {"state": ["running", "pending"]}})
    rules.add("other-source", {"source": ["aws.s3"]})
    rules.add("not-stopped", {"detail": {"state": [{"anything-but": "stopped"}]}})
    assert rules.match(EC2_RUNNING) == {"by-source", "by-state", "not-stopped"}
    assert rules.match(json.dumps(EC2_RUNNING)) == {"by-source", "by-state", "not-stopped"}


def test_rules_sharing_fields_stay_distinct():
    rules = RuleSet()
    rules.add("a", {"source": ["aws.ec2"], "detail": {"state": ["running"]}})
    rules.add("b", {"source": ["aws.ec2"], "detail": {"state": ["stopped"]}})
    rules.add("c", {"source": ["aws.ec2", "aws.s3"], "detail": {"state": ["stopped"]}})
    assert rules.match(EC2_RUNNING) == {"a"}
    assert rules.match({**EC2_RUNNING, "detail": {"state": "stopped"}}) == {"b", "c"}


def test_rule_with_or_is_reported_once():
    rules = RuleSet()
    rules.add("r", {"$or": [{"source": ["aws.ec2"]}, {"detail": {"state": ["running"]}}]})
    assert rules.match(EC2_RUNNING) == {"r"}


def test_add_replaces_and_remove_forgets():
    rules = RuleSet()
    rules.add("r", {"source": ["aws.ec2"]})
    rules.add("r", {"source": ["aws.s3"]})
    assert len(rules) == 1
    assert rules.match(EC2_RUNNING) == set()
    assert rules.match({"source": "aws.s3"}) == {"r"}
    assert rules.remove("r") is True
    assert rules.remove("r") is False
    assert rules.match({"source": "aws.s3"}) == set()
    assert "r" not in rules


def test_removing_one_rule_keeps_the_others_intact():
    rules = RuleSet()
    patterns = {
        "exact": {"source": ["aws.ec2"]},
        "same-exact": {"source": ["aws.ec2"]},
        "prefix": {"source": [{"prefix": "aws."}]},
        "range": {"detail": {"n": [{"numeric": [">", 1]}]}},
        "range2": {"detail": {"n": [{"numeric": [">", 5]}]}},
        "cidr": {"detail": {"ip": [{"cidr": "10.0.0.0/8"}]}},
        "absent": {"detail": {"gone": [{"exists": False}]}},
        "wild": {"source": [{"wildcard": "aws.*2"}]},
    }
    for rule_id, pattern in patterns.items():
        rules.add(rule_id, pattern)
    event = {"source": "aws.ec2", "detail": {"n": 7, "ip": "10.1.2.3"}}
    assert rules.match(event) == set(patterns)
    for rule_id in list(patterns):
        rules.remove(rule_id)
        del patterns[rule_id]
        assert rules.match(event) == set(patterns)
    assert not rules._root.indexes and not rules._root.edges, "nothing is left behind"


def test_invalid_pattern_changes_nothing():
    rules = RuleSet()
    rules.add("r", {"source": ["aws.ec2"]})
    with pytest.raises(InvalidEventPattern):
        rules.add("r", {"source": "aws.ec2"})
    assert rules.match(EC2_RUNNING) == {"r"}


def test_compiled_patterns_can_be_added():
    compiled = compile_pattern('{"source": ["aws.ec2"]}')
    rules = RuleSet()
    assert rules.add("r", compiled) is compiled
    assert rules.get("r") is compiled
    assert list(rules) == ["r"]


def test_unused_parts_of_the_event_are_ignored():
    rules = RuleSet()
    rules.add("r", {"detail": {"state": ["running"]}})
    big = {**EC2_RUNNING, "resources": [{"x": [1, 2, {"y": "z"}]}] * 50, "extra": {"deep": {"er": 1}}}
    assert rules.match(big) == {"r"}


def test_non_object_events_match_nothing():
    rules = RuleSet()
    rules.add("r", {"a": [{"exists": False}]})
    assert rules.match("[1, 2]") == set()


def test_concurrent_updates_and_matches():
    rules = RuleSet()
    rules.add("stable", {"source": ["aws.ec2"]})
    errors: list[BaseException] = []

    def churn(worker: int) -> None:
        try:
            for i in range(200):
                rules.add((worker, i), {"source": ["aws.ec2"], "detail": {"state": [f"s{i}"]}})
                rules.remove((worker, i))
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    def reader() -> None:
        try:
            for _ in range(400):
                assert "stable" in rules.match(EC2_RUNNING)
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=churn, args=(w,)) for w in range(3)] + [
        threading.Thread(target=reader)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert rules.match(EC2_RUNNING) == {"stable"}


def test_deeply_nested_events_are_only_walked_where_rules_look():
    deep: dict = {}
    node = deep
    for _ in range(5000):
        node["n"] = {}
        node = node["n"]
    event = {"source": "aws.ec2", "detail": deep}
    rules = RuleSet()
    rules.add("r", {"source": ["aws.ec2"]})
    assert rules.match(event) == {"r"}
    assert compile_pattern({"source": ["aws.ec2"]}).matches(event)
