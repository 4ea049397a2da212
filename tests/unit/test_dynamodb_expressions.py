"""Expression parsing and evaluation never fail with anything but DynamoDB's ValidationException:
random token soups are parsed or refused, parsed expressions evaluate or are refused."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from cumulo.protocol.errors import AwsError
from cumulo.services.dynamodb.expressions.evaluation import check_static, evaluate
from cumulo.services.dynamodb.expressions.parser import Context, parse_condition, parse_projection, parse_update
from cumulo.services.dynamodb.expressions.update import apply_update, check_actions

TOKENS = ["a", "b", "#n", ":v", ":s", ":l", "(", ")", ",", ".", "[0]", "[1]", "=", "<>", "<", ">=", "+", "-",
          "AND", "OR", "NOT", "BETWEEN", "IN", "SET", "REMOVE", "ADD", "DELETE", "size", "contains",
          "begins_with", "attribute_exists", "if_not_exists", "list_append", "attribute_type", "m.x", "l[0]"]
VALUES = {":v": {"N": "1"}, ":s": {"SS": ["x"]}, ":l": {"L": [{"N": "2"}]}}
ITEMS = st.fixed_dictionaries({}, optional={
    "a": st.sampled_from([{"N": "3"}, {"S": "abc"}, {"SS": ["x", "y"]}, {"L": [{"N": "1"}]}]),
    "b": st.sampled_from([{"N": "-1"}, {"B": b"\x00"}, {"NULL": True}, {"M": {"x": {"N": "1"}}}]),
    "l": st.just({"L": [{"S": "q"}, {"N": "5"}]}),
    "m": st.just({"M": {"x": {"BOOL": True}}}),
})
soup = st.lists(st.sampled_from(TOKENS), min_size=1, max_size=12).map(" ".join)


def context() -> Context:
    return Context({"#n": "n"}, dict(VALUES))


@settings(max_examples=300)
@given(soup, ITEMS)
def test_conditions_parse_and_evaluate_or_are_refused(text, item):
    try:
        tree = parse_condition(text, context())
        check_static(tree, "ConditionExpression")
        evaluate(item, tree)
    except AwsError as error:
        assert error.code == "ValidationException"


@settings(max_examples=300)
@given(soup, ITEMS)
def test_updates_apply_or_are_refused(text, item):
    try:
        actions = parse_update(text, context())
        check_actions(actions, ("pk",))
        apply_update(item, actions)
    except AwsError as error:
        assert error.code == "ValidationException"


@settings(max_examples=100)
@given(soup)
def test_projections_parse_or_are_refused(text):
    try:
        parse_projection(text, context())
    except AwsError as error:
        assert error.code == "ValidationException"
