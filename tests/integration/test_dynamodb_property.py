"""Property test: Query, Scan and UpdateItem results against a plain-Python reference model, on
random items (number and string sort keys across signs and magnitudes) and random conditions."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.integration.dynamodb_support import make_table

OPS = {"<": lambda a, b: a < b, "<=": lambda a, b: a <= b, ">": lambda a, b: a > b, ">=": lambda a, b: a >= b,
       "=": lambda a, b: a == b}
numbers = st.decimals(min_value=Decimal("-1e6"), max_value=Decimal("1e6"), places=3, allow_nan=False)
sort_keys = st.one_of(numbers, st.integers(-5, 5).map(Decimal))
values = st.one_of(st.integers(-100, 100).map(Decimal), st.text("abcXYZ", max_size=4))


def wire(value):
    return {"N": str(value)} if isinstance(value, Decimal) else {"S": value}


def same_type_less(op, left, right) -> bool:
    """DynamoDB's comparison: ordering only between values of one type."""
    if isinstance(left, Decimal) != isinstance(right, Decimal):
        return False
    return OPS[op](left, right)


@pytest.fixture(scope="module")
def ddb(server):
    return server.client("dynamodb")


items_strategy = st.dictionaries(st.tuples(st.sampled_from(["a", "b"]), sort_keys), values, min_size=1, max_size=30)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(items=items_strategy, op=st.sampled_from(sorted(OPS)), bound=sort_keys, forward=st.booleans(),
       limit=st.integers(1, 7), filter_op=st.sampled_from(["<", ">=", "="]), filter_value=values,
       delta=st.integers(-50, 50))
def test_query_scan_update_match_the_model(ddb, items, op, bound, forward, limit, filter_op, filter_value, delta):
    name = make_table(ddb)
    for start in range(0, len(items), 25):
        batch = list(items.items())[start:start + 25]
        ddb.batch_write_item(RequestItems={name: [{"PutRequest": {"Item": {
            "pk": {"S": pk}, "sk": {"N": str(sk)}, "v": wire(v)}}} for (pk, sk), v in batch]})

    # Query with a sort-key condition, in both directions, page by page.
    got, start_key = [], None
    while True:
        extra = {"ExclusiveStartKey": start_key} if start_key else {}
        page = ddb.query(TableName=name, KeyConditionExpression=f"pk = :p AND sk {op} :b", Limit=limit,
                         ScanIndexForward=forward, FilterExpression=f"v {filter_op} :f",
                         ExpressionAttributeValues={":p": {"S": "a"}, ":b": {"N": str(bound)},
                                                    ":f": wire(filter_value)}, **extra)
        got += [Decimal(i["sk"]["N"]) for i in page["Items"]]
        start_key = page.get("LastEvaluatedKey")
        if not start_key:
            break
    expected = sorted((sk for (pk, sk), v in items.items()
                       if pk == "a" and OPS[op](sk, bound) and same_type_less(filter_op, v, filter_value)),
                      reverse=not forward)
    assert got == expected

    # Scan with the same filter.
    scanned = ddb.scan(TableName=name, FilterExpression=f"v {filter_op} :f",
                       ExpressionAttributeValues={":f": wire(filter_value)})["Items"]
    assert sorted((i["pk"]["S"], Decimal(i["sk"]["N"])) for i in scanned) == sorted(
        key for key, v in items.items() if same_type_less(filter_op, v, filter_value))

    # A conditional arithmetic update on every item: numbers change, strings fail the condition.
    for (pk, sk), v in items.items():
        arguments = {"TableName": name, "Key": {"pk": {"S": pk}, "sk": {"N": str(sk)}},
                     "UpdateExpression": "SET v = v + :d", "ConditionExpression": "attribute_type(v, :n)",
                     "ExpressionAttributeValues": {":d": {"N": str(delta)}, ":n": {"S": "N"}},
                     "ReturnValues": "UPDATED_NEW"}
        if isinstance(v, Decimal):
            assert Decimal(ddb.update_item(**arguments)["Attributes"]["v"]["N"]) == v + delta
        else:
            with pytest.raises(ddb.exceptions.ConditionalCheckFailedException):
                ddb.update_item(**arguments)
    ddb.delete_table(TableName=name)
