"""The states that only shape data and choose the next state: Pass, Choice, Wait, Succeed and Fail.

Each handler takes the execution, the state, its raw input and its `Visit`, exits the state (or
raises) and returns ``(output, name of the next state or None)``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cumulo.asl import errors
from cumulo.asl.choice import parse_timestamp
from cumulo.asl.model import ChoiceState, FailState, PassState, SucceedState, WaitState
from cumulo.asl.paths import to_json
from cumulo.asl.visit import Visit, is_int

if TYPE_CHECKING:
    from cumulo.asl.engine import Execution


async def run_pass(ex: Execution, state: PassState, raw: Any, visit: Visit) -> tuple[Any, str | None]:
    if state.jsonata:
        states = {"input": raw}
        output = ex.render(state.output, None, visit, states, raw)
        assigned = ex.render(state.assign, None, visit, states)
    else:
        effective = ex.input_path(state, raw, visit)
        if state.parameters is not None:
            result = state.parameters.render(effective, visit)
            if ex.inspection is not None:
                ex.inspection["afterParameters"] = result
        elif state.result is not None:
            result = state.result.render(None, visit)
        else:
            result = effective
        assigned = ex.render(state.assign, result, visit)
        combined = ex.result_path(state.result_path, raw, result)
        if ex.inspection is not None:
            ex.inspection["result"] = result
            ex.inspection["afterResultPath"] = combined
        output = ex.output_path(state, combined, visit)
    ex.exit_state(state, visit, output, assigned)
    return output, state.next


async def run_choice(ex: Execution, state: ChoiceState, raw: Any, visit: Visit) -> tuple[Any, str | None]:
    if state.jsonata:
        states = {"input": raw}
        for i, branch in enumerate(state.choices):
            matched = branch.condition.render(None, visit, states)  # type: ignore[union-attr]
            if not isinstance(matched, bool):
                raise errors.EvaluationError(
                    errors.QUERY_EVALUATION_ERROR,
                    f"The Condition of Choices[{i}] must evaluate to a boolean, got {to_json(matched)}")
            if matched:
                output = ex.render(branch.output or state.output, None, visit, states, raw)
                assigned = ex.render(branch.assign or state.assign, None, visit, states)
                ex.exit_state(state, visit, output, assigned)
                return output, branch.next
        target = state.default
        output = ex.render(state.output, None, visit, states, raw)
        assigned = ex.render(state.assign, None, visit, states)
    else:
        effective = ex.input_path(state, raw, visit)
        target, assign_node = state.default, state.assign
        for branch in state.choices:
            if branch.rule.evaluate(effective, visit):  # type: ignore[union-attr]
                target, assign_node = branch.next, branch.assign or state.assign
                break
        else:
            if target is None:
                raise errors.StatesError(errors.NO_CHOICE_MATCHED, f"No Matches! for the state '{state.name}'")
        assigned = ex.render(assign_node, effective, visit)
        output = ex.output_path(state, effective, visit)
    if target is None:
        raise errors.StatesError(errors.NO_CHOICE_MATCHED, f"No Matches! for the state '{state.name}'")
    ex.exit_state(state, visit, output, assigned)
    return output, target


async def run_wait(ex: Execution, state: WaitState, raw: Any, visit: Visit) -> tuple[Any, str | None]:
    effective = raw if state.jsonata else ex.input_path(state, raw, visit)
    states = {"input": raw}
    if state.seconds is not None:
        seconds = state.seconds.render(effective, visit, states)
        if not is_int(seconds) or seconds < 0:
            raise visit.evaluation_error(
                f"The Seconds value must be a non-negative integer, got {to_json(seconds)}")
        deadline = visit.entered_time + seconds
    else:
        stamp = state.timestamp.render(effective, visit, states)  # type: ignore[union-attr]
        parsed = parse_timestamp(stamp)
        if parsed is None:
            raise visit.evaluation_error(f"The Timestamp value must be an RFC3339 timestamp, got {to_json(stamp)}")
        deadline = parsed.timestamp()
    if not ex.single_state:
        await ex.flush()
        await ex.clock.sleep_until(deadline)
    if state.jsonata:
        output = ex.render(state.output, None, visit, states, raw)
        assigned = ex.render(state.assign, None, visit, states)
    else:
        assigned = ex.render(state.assign, effective, visit)
        output = ex.output_path(state, effective, visit)
    ex.exit_state(state, visit, output, assigned)
    return output, state.next


async def run_succeed(ex: Execution, state: SucceedState, raw: Any, visit: Visit) -> tuple[Any, str | None]:
    if state.jsonata:
        output = ex.render(state.output, None, visit, {"input": raw}, raw)
    else:
        output = ex.output_path(state, ex.input_path(state, raw, visit), visit)
    ex.exit_state(state, visit, output, None)
    return output, None


async def run_fail(ex: Execution, state: FailState, raw: Any, visit: Visit) -> tuple[Any, str | None]:
    states = {"input": raw}
    error = ex.render(state.error, raw, visit, states)
    cause = ex.render(state.cause, raw, visit, states)
    for field_name, value in (("Error", error), ("Cause", cause)):
        if value is not None and not isinstance(value, str):
            raise visit.evaluation_error(
                f"The value of the field '{field_name}' must be a string, got {to_json(value)}")
    raise errors.StatesError(error or "", cause)
