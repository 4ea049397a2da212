"""Deployment order: the dependency graph, concurrent creation, and deletion in reverse order."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from cumulo.services.cloudformation.errors import ValidationFailure
from cumulo.services.cloudformation.ordering import dependency_graph
from cumulo.services.cloudformation.resources.base import Deployed, ResourceContext, ResourceFailure, ResourceHandler
from cumulo.services.cloudformation.stack_operation import StackOperation
from cumulo.services.cloudformation.template import prepare

THING = "Test::Thing"
STACK_ID = "arn:aws:cloudformation:eu-west-1:123456789012:stack/shop/1111"


def no_objects(bucket: str, key: str) -> bytes:
    raise AssertionError("these templates include nothing from S3")


def thing(depends_on: Any = None, **properties: Any) -> dict[str, Any]:
    definition: dict[str, Any] = {"Type": THING, "Properties": properties}
    if depends_on is not None:
        definition["DependsOn"] = depends_on
    return definition


# ------------------------------------------------------------ the graph
def test_dependencies_come_from_ref_getatt_sub_and_depends_on():
    resources = {"Bucket": thing(), "Role": thing(), "Queue": thing(), "Table": thing(),
                 "Fn": thing(Code={"Ref": "Bucket"}, Role={"Fn::GetAtt": ["Role", "Arn"]},
                             Env={"Url": {"Fn::Sub": "${Queue.Arn}/x"}}, Name={"Fn::GetAtt": "Table.Name"}),
                 "Alarm": thing(depends_on="Fn"),
                 "Dashboard": thing(depends_on=["Fn", "Alarm"])}
    assert dependency_graph(resources) == {
        "Bucket": set(), "Role": set(), "Queue": set(), "Table": set(),
        "Fn": {"Bucket", "Role", "Queue", "Table"}, "Alarm": {"Fn"}, "Dashboard": {"Fn", "Alarm"}}


def test_references_to_parameters_and_self_are_not_dependencies():
    resources = {"A": thing(Name={"Fn::Sub": "${AWS::StackName}-${Stage}-${A}"}, Self={"Ref": "A"})}
    assert dependency_graph(resources) == {"A": set()}


def test_depends_on_an_undeclared_resource_is_an_error():
    with pytest.raises(ValidationFailure, match=r"Unresolved resource dependencies \[Ghost\]"):
        dependency_graph({"A": thing(depends_on=["Ghost"])})


@pytest.mark.parametrize("resources, cycle", [
    ({"A": thing(X={"Ref": "B"}), "B": thing(X={"Fn::GetAtt": ["A", "Arn"]})}, "A, B"),
    ({"A": thing(depends_on="C"), "B": thing(X={"Ref": "A"}), "C": thing(X={"Fn::Sub": "${B}"}),
      "D": thing(X={"Ref": "A"})}, "A, B, C"),
])
def test_a_cycle_is_an_error_naming_its_resources(resources, cycle):
    with pytest.raises(ValidationFailure, match=rf"Circular dependency between resources: \[{cycle}\]"):
        dependency_graph(resources)


def test_prepare_rejects_a_cycle_before_anything_is_created():
    body = {"Resources": {"A": thing(depends_on="B"), "B": thing(depends_on="A")}}
    with pytest.raises(ValidationFailure, match="Circular dependency"):
        prepare(body, {}, "123456789012", "eu-west-1", "shop", STACK_ID, {THING}, no_objects)


# ------------------------------------------------------------ running the graph
class Recorder(ResourceHandler):
    """Records when each resource's create and delete start and end; ``Broken`` fails to create."""

    type = THING

    def __init__(self) -> None:
        self.log: list[tuple[str, str]] = []

    async def create(self, ctx: ResourceContext, props: dict[str, Any]) -> Deployed:
        self.log.append(("create-start", ctx.logical_id))
        await asyncio.sleep(0)  # let concurrent work interleave
        if ctx.logical_id == "Broken":
            raise ResourceFailure("it broke")
        self.log.append(("create-end", ctx.logical_id))
        return Deployed(f"{ctx.logical_id}-id", {"Arn": f"arn:{ctx.logical_id}"})

    async def delete(self, ctx: ResourceContext, physical_id: str, props: dict[str, Any]) -> None:
        self.log.append(("delete-start", ctx.logical_id))
        await asyncio.sleep(0)
        self.log.append(("delete-end", ctx.logical_id))

    def position(self, event: str, logical_id: str) -> int:
        return self.log.index((event, logical_id))


def operation_for(recorder: Recorder) -> tuple[StackOperation, dict[str, Any], list[tuple[str, str]]]:
    stack: dict[str, Any] = {"_account": "123456789012", "_region": "eu-west-1", "StackName": "shop",
                             "StackId": STACK_ID}
    events: list[tuple[str, str]] = []

    def event(_stack: dict[str, Any], logical_id: str, *rest: Any) -> None:
        events.append((logical_id, rest[2]))

    operation = StackOperation(None, stack, lambda _: None, event, lambda _: None)
    operation.handlers = {THING: recorder}
    return operation, stack, events


CHAIN = {"Resources": {"Bucket": thing(), "Other": thing(),
                       "Fn": thing(Code={"Ref": "Bucket"}),
                       "Alias": thing(Target={"Fn::GetAtt": ["Fn", "Arn"]}),
                       "Url": thing(depends_on="Alias")}}


def deploy(body: dict[str, Any]) -> tuple[Recorder, StackOperation, dict[str, Any], list[tuple[str, str]], Any]:
    recorder = Recorder()
    operation, stack, events = operation_for(recorder)
    template = prepare(body, {}, "123456789012", "eu-west-1", "shop", STACK_ID, {THING}, no_objects)
    stack["_dependencies"] = {lid: sorted(deps) for lid, deps in template.dependencies.items()}
    outcome = asyncio.run(operation.deploy(template, None))
    return recorder, operation, stack, events, outcome


def test_a_resource_is_created_after_everything_it_refers_to():
    recorder, _, stack, events, outcome = deploy(CHAIN)
    assert outcome.ok
    for dependency, dependent in [("Bucket", "Fn"), ("Fn", "Alias"), ("Alias", "Url")]:
        assert recorder.position("create-end", dependency) < recorder.position("create-start", dependent)
    assert stack["resources"]["Fn"]["properties"] == {"Code": "Bucket-id"}
    assert stack["resources"]["Alias"]["properties"] == {"Target": "arn:Fn"}
    assert ("Url", "CREATE_COMPLETE") in events


def test_independent_resources_are_created_concurrently():
    recorder, *_ = deploy(CHAIN)
    # Bucket and Other wait for nothing: both start before either finishes.
    assert max(recorder.position("create-start", "Bucket"), recorder.position("create-start", "Other")) < \
        min(recorder.position("create-end", "Bucket"), recorder.position("create-end", "Other"))


def test_deletion_runs_in_reverse_order():
    recorder, operation, stack, events, _ = deploy(CHAIN)
    recorder.log.clear()
    outcome = asyncio.run(operation.delete_resources(dict(stack["resources"])))
    assert outcome.ok and stack["resources"] == {}
    for dependency, dependent in [("Bucket", "Fn"), ("Fn", "Alias"), ("Alias", "Url")]:
        assert recorder.position("delete-end", dependent) < recorder.position("delete-start", dependency)
    assert ("Bucket", "DELETE_COMPLETE") in events


def test_a_failed_create_stops_its_dependents_and_roll_back_deletes_what_was_created():
    body = {"Resources": {"Bucket": thing(), "Broken": thing(Code={"Ref": "Bucket"}),
                          "After": thing(X={"Ref": "Broken"})}}
    recorder, operation, stack, events, outcome = deploy(body)
    assert not outcome.ok and "[Broken]. it broke" in outcome.reason
    assert ("create-start", "After") not in recorder.log
    assert ("Broken", "CREATE_FAILED") in events
    rolled = asyncio.run(operation.roll_back(None, None))
    assert rolled.ok and stack["resources"] == {}
    assert ("delete-end", "Bucket") in recorder.log


def test_resources_removed_by_an_update_are_deleted_dependents_first():
    recorder, operation, stack, _, _ = deploy(CHAIN)
    previous = prepare(CHAIN, {}, "123456789012", "eu-west-1", "shop", STACK_ID, {THING}, no_objects)
    smaller = prepare({"Resources": {"Other": thing()}}, {}, "123456789012", "eu-west-1", "shop", STACK_ID, {THING},
                      no_objects)
    # As the provider does: the stack's stored graph becomes the new template's before the update runs.
    stack["_dependencies"] = {lid: sorted(deps) for lid, deps in smaller.dependencies.items()}
    recorder.log.clear()
    assert asyncio.run(operation.deploy(smaller, previous)).ok
    assert set(stack["resources"]) == {"Other"}
    for dependency, dependent in [("Bucket", "Fn"), ("Fn", "Alias"), ("Alias", "Url")]:
        assert recorder.position("delete-end", dependent) < recorder.position("delete-start", dependency)
