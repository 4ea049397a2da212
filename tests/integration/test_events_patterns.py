"""The recorded AWS event-pattern cases (tests/data/event-patterns) through TestEventPattern."""

from __future__ import annotations

import json
from pathlib import Path

import json5
import pytest
from botocore.exceptions import ClientError

from tests.data_files import EVENT_PATTERN_CASES

CASES = sorted(EVENT_PATTERN_CASES.glob("*.json5"))


def test_all_cases_are_present():
    assert len(CASES) == 78


@pytest.fixture(scope="module")
def events(server):
    return server.client("events")


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_case(events, path: Path):
    case = json5.loads(path.read_text())
    pattern, event = json.dumps(case["EventPattern"]), json.dumps(case["Event"])
    if path.stem.endswith("_EXC"):
        with pytest.raises(ClientError) as raised:
            events.test_event_pattern(EventPattern=pattern, Event=event)
        assert raised.value.response["Error"]["Code"] == "InvalidEventPatternException"
        assert raised.value.response["Error"]["Message"].startswith("Event pattern is not valid. Reason: ")
        assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
        return
    expected = not path.stem.endswith("_NEG")
    assert events.test_event_pattern(EventPattern=pattern, Event=event)["Result"] is expected


def test_pattern_length_limit_is_a_validation_error(events):
    event = json.dumps({"id": "1", "account": "1", "source": "s", "time": "t", "region": "r", "detail-type": "d"})
    pattern = json.dumps({"source": ["x" * 4090]})
    with pytest.raises(ClientError) as raised:
        events.test_event_pattern(EventPattern=pattern, Event=event)
    assert raised.value.response["Error"]["Code"] == "ValidationException"
    assert "Member must have length less than or equal to 4096" in raised.value.response["Error"]["Message"]
