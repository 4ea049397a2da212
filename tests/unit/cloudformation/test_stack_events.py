"""DescribeStackEvents lists a stack's events newest first, whatever the time of day."""

from __future__ import annotations

import uuid
from types import SimpleNamespace

import pytest

from cumulo.services.base import RequestContext
from cumulo.services.cloudformation.provider import STACKS, CloudFormationProvider
from cumulo.settings import Settings
from cumulo.store.sqlite import SqliteStore

UUID_EPOCH_TICKS = 0x01B21DD213814000  # 100 ns ticks from 1582-10-15 to 1970-01-01, as uuid1 counts


@pytest.fixture
def platform(tmp_path):
    store = SqliteStore(tmp_path / "state.db")
    yield SimpleNamespace(store=store, settings=Settings(data_dir=tmp_path / "data"))
    store.close()


def test_events_are_listed_newest_first_across_a_wrap_of_the_clocks_low_bits(platform, monkeypatch):
    # Two events 2 us apart, on either side of the moment the low 32 bits of uuid1's 100 ns clock wrap.
    wrap_ticks = (1_800_000_000 * 10_000_000 + UUID_EPOCH_TICKS) // 2**32 * 2**32 + 2**32
    moments = iter([(wrap_ticks - 10 - UUID_EPOCH_TICKS) * 100, (wrap_ticks + 10 - UUID_EPOCH_TICKS) * 100])
    monkeypatch.setattr(uuid, "_generate_time_safe", None, raising=False)  # use time.time_ns, not libuuid
    monkeypatch.setattr(uuid, "_last_timestamp", None, raising=False)
    monkeypatch.setattr("time.time_ns", lambda: next(moments))  # uuid1 reads the clock through it
    provider = CloudFormationProvider(platform)
    context = RequestContext.internal(platform, "cloudformation", "DescribeStackEvents", "000000000000", "us-east-1")
    stack = {"StackName": "shop", "StackId": "arn:aws:cloudformation:us-east-1:000000000000:stack/shop/1"}
    platform.store.put(STACKS, provider._key(context, "shop"), stack)
    provider._event(stack, "shop", stack["StackId"], "AWS::CloudFormation::Stack", "CREATE_COMPLETE")
    provider._event(stack, "shop", stack["StackId"], "AWS::CloudFormation::Stack", "UPDATE_COMPLETE")
    monkeypatch.undo()
    events = provider.describe_stack_events(context, {"StackName": "shop"})["StackEvents"]
    assert [e["ResourceStatus"] for e in events] == ["UPDATE_COMPLETE", "CREATE_COMPLETE"]
