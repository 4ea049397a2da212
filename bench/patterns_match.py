"""Event-pattern matching throughput: Cumulo's RuleSet against moto's per-rule matcher.

A bus with N mixed rules (exact, prefix, numeric, anything-but, cidr, wildcard, arrays of
objects, $or) receives realistic events from a few sources (EC2 state changes, S3 object
creations, shop orders with line items, sign-ins). Cumulo matches each event against all rules
at once (``RuleSet.match``); moto, like most emulators, tries every rule in turn
(``EventPattern.load(pattern).matches_event(event)``), so at 10,000 rules it is measured on a
small sample of events. Both see the same rules and events; the figures are events per second
on one core and the ratio (moto's figures are left out when moto is not installed). moto
does not match inside arrays of objects, so its match counts differ slightly.

    python -m bench.patterns_match           # 10 / 1,000 / 10,000 rules
    python -m bench.patterns_match --quick   # smaller samples
"""

from __future__ import annotations

import importlib.util
import json
import random
import sys
import time

from bench.report import Figure, print_figures
from cumulo.patterns import RuleSet

BENCH = "patterns_match"
RULE_COUNTS = (10, 1_000, 10_000)
SOURCES = ("aws.ec2", "aws.s3", "com.shop.orders", "com.shop.auth", "aws.autoscaling")
STATES = ("pending", "running", "stopping", "stopped", "shutting-down", "terminated")
COUNTRIES = ("DE", "FR", "US", "JP", "BR", "IN", "GB", "ES")


def make_events(count: int, rng: random.Random) -> list[dict]:
    events = []
    for n in range(count):
        source = SOURCES[n % len(SOURCES)]
        base = {
            "version": "0",
            "id": f"7bf73129-1428-4cd3-a780-{n:012d}",
            "account": f"{rng.randrange(10**11, 10**12)}",
            "time": f"2026-11-{1 + n % 28:02d}T{n % 24:02d}:{n % 60:02d}:00Z",
            "region": rng.choice(("us-east-1", "eu-west-1", "ap-northeast-1")),
            "source": source,
        }
        if source == "aws.ec2":
            base["detail-type"] = "EC2 Instance State-change Notification"
            base["resources"] = [f"arn:aws:ec2:us-east-1:123456789012:instance/i-{n:017x}"]
            base["detail"] = {"instance-id": f"i-{n:017x}", "state": rng.choice(STATES)}
        elif source == "aws.s3":
            base["detail-type"] = "Object Created"
            folder = rng.randrange(200)
            ext = rng.choice(("png", "jpg", "txt", "csv"))
            base["detail"] = {
                "bucket": {"name": f"bucket-{rng.randrange(50)}"},
                "object": {"key": f"uploads/u{folder}/file-{n}.{ext}", "size": rng.randrange(1, 10**7)},
                "reason": "PutObject",
                "source-ip-address": f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(256)}",
            }
        elif source == "com.shop.orders":
            base["detail-type"] = rng.choice(("OrderPlaced", "OrderShipped", "OrderCancelled"))
            base["detail"] = {
                "orderId": f"o-{n}",
                "amount": round(rng.uniform(1, 2000), 2),
                "currency": rng.choice(("EUR", "USD", "JPY")),
                "customer": {
                    "id": f"c-{rng.randrange(5000)}",
                    "tier": rng.choice(("gold", "silver", "basic")),
                },
                "country": rng.choice(COUNTRIES),
                "items": [
                    {
                        "sku": f"SKU-{rng.randrange(300)}",
                        "qty": rng.randrange(1, 6),
                        "price": rng.randrange(1, 500),
                    }
                    for _ in range(rng.randrange(1, 4))
                ],
            }
        elif source == "com.shop.auth":
            base["detail-type"] = "SignIn"
            base["detail"] = {
                "user": f"user{rng.randrange(10000)}@example.com",
                "sourceIp": f"192.168.{rng.randrange(256)}.{rng.randrange(256)}",
                "mfa": rng.random() < 0.5,
                "userAgent": rng.choice(("Mozilla/5.0 (X11)", "curl/8.4", "aws-cli/2.15")),
            }
        else:
            base["detail-type"] = "EC2 Instance Launch Successful"
            base["detail"] = {"AutoScalingGroupName": f"asg-{rng.randrange(100)}", "Cause": None}
        events.append(base)
    return events


def make_rules(count: int, rng: random.Random) -> list[str]:
    """``count`` rules cycling through the kinds, with values spread over the event space."""
    kinds = (
        lambda: {"source": ["aws.ec2"], "detail": {"state": [rng.choice(STATES)]}},
        lambda: {
            "source": ["aws.s3"],
            "detail": {"object": {"key": [{"prefix": f"uploads/u{rng.randrange(200)}/"}]}},
        },
        lambda: {
            "source": ["com.shop.orders"],
            "detail-type": ["OrderPlaced"],
            "detail": {
                "amount": [
                    {"numeric": [">", (low := rng.randrange(0, 1900)), "<=", low + rng.randrange(5, 100)]}
                ]
            },
        },
        lambda: {"source": ["aws.ec2"], "detail": {"state": [{"anything-but": rng.sample(STATES, 3)}]}},
        lambda: {
            "source": ["com.shop.auth"],
            "detail": {"sourceIp": [{"cidr": f"192.168.{rng.randrange(256)}.0/24"}]},
        },
        lambda: {
            "source": ["aws.s3"],
            "detail": {
                "object": {
                    "key": [{"wildcard": f"uploads/u{rng.randrange(200)}/*.{rng.choice(('png', 'csv'))}"}]
                }
            },
        },
        lambda: {
            "source": ["com.shop.orders"],
            "detail": {
                "items": {
                    "sku": [f"SKU-{rng.randrange(300)}"],
                    "qty": [{"numeric": [">=", rng.randrange(1, 6)]}],
                }
            },
        },
        lambda: {
            "detail-type": ["OrderShipped", "OrderCancelled"],
            "$or": [
                {"detail": {"country": [rng.choice(COUNTRIES)]}},
                {"detail": {"customer": {"tier": ["gold"]}, "currency": [rng.choice(("EUR", "USD"))]}},
            ],
        },
        lambda: {
            "source": [{"prefix": "com.shop"}],
            "detail": {"customer": {"id": [f"c-{rng.randrange(5000)}"]}},
        },
        lambda: {
            "source": ["aws.autoscaling"],
            "detail": {"AutoScalingGroupName": [{"suffix": f"-{rng.randrange(100)}"}]},
        },
    )
    return [json.dumps(kinds[n % len(kinds)]()) for n in range(count)]


def _rate(count: int, seconds: float) -> float:
    return count / seconds if seconds > 0 else float("inf")


def measure_cumulo(rules: list[str], events: list[dict]) -> tuple[float, int]:
    rule_set = RuleSet()
    for n, rule in enumerate(rules):
        rule_set.add(n, rule)
    for event in events[:200]:  # builds the lazily indexed ranges and exclusions
        rule_set.match(event)
    matched = 0
    start = time.perf_counter()
    for event in events:
        matched += len(rule_set.match(event))
    return _rate(len(events), time.perf_counter() - start), matched


def measure_moto(rules: list[str], events: list[dict]) -> tuple[float, int]:
    from moto.events.models import EventPattern  # the peer; never imported by cumulo itself

    patterns = [EventPattern.load(rule) for rule in rules]
    matched = 0
    start = time.perf_counter()
    for event in events:
        matched += sum(1 for pattern in patterns if pattern.matches_event(event))
    return _rate(len(events), time.perf_counter() - start), matched


def run(quick: bool = False) -> list[Figure]:
    rng = random.Random(20261123)
    events = make_events(2_000 if quick else 20_000, rng)
    figures: list[Figure] = []
    with_moto = importlib.util.find_spec("moto") is not None
    for count in RULE_COUNTS:
        rules = make_rules(count, rng)
        cumulo_rate, cumulo_matches = measure_cumulo(rules, events)
        label = f"{count:,} rules"
        matches_note = f"{cumulo_matches / len(events):.2f} matches/event"
        figures.append(
            Figure(BENCH, f"cumulo events/s, {label}", round(cumulo_rate, 1), "ev/s", matches_note)
        )
        if not with_moto:
            continue
        # moto tries every rule per event: give it about the same total work at each size.
        sample = max(5, min(len(events), (20_000 if quick else 200_000) // count))
        moto_rate, moto_matches = measure_moto(rules, events[:sample])
        figures += [
            Figure(
                BENCH,
                f"moto events/s, {label}",
                round(moto_rate, 1),
                "ev/s",
                f"sample of {sample} events, {moto_matches / sample:.2f} matches/event",
            ),
            Figure(BENCH, f"cumulo/moto, {label}", round(cumulo_rate / moto_rate, 1), "x"),
        ]
    return figures


if __name__ == "__main__":
    print_figures(run(quick="--quick" in sys.argv))
