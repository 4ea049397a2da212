"""DynamoDB items through boto3: Put/Get/Update/Delete with conditions and the full expression
language, Query and Scan with indexes and pages, AWS's validation messages, the resource API."""

from __future__ import annotations

from decimal import Decimal

import pytest
from boto3.dynamodb.conditions import Attr, Key

from tests.integration.dynamodb_support import error_of, make_table, resource, unique


@pytest.fixture(scope="module")
def ddb(server):
    return server.client("dynamodb")


@pytest.fixture(scope="module")
def table(ddb, server):
    return resource(server).Table(make_table(ddb))


# ------------------------------------------------------------- put / get
def test_put_get_round_trip_every_type(table):
    item = {"pk": "types", "sk": 1, "s": "text", "n": Decimal("-12.5"), "b": b"\x00\xff", "t": True,
            "null": None, "ss": {"a", "b"}, "ns": {1, 2}, "bs": {b"x"}, "l": [1, "two", [3]],
            "m": {"deep": {"deeper": "yes"}}, "empty": ""}
    table.put_item(Item=item)
    assert table.get_item(Key={"pk": "types", "sk": 1})["Item"] == item


def test_numbers_keep_38_digits_and_are_normalised(ddb, table):
    big = "1234567890123456789012345678901234567.8"
    table.put_item(Item={"pk": "num", "sk": 1, "big": Decimal(big), "z": Decimal("1.500")})
    got = ddb.get_item(TableName=table.name, Key={"pk": {"S": "num"}, "sk": {"N": "1"}})["Item"]
    assert got["big"] == {"N": big}
    assert got["z"] == {"N": "1.5"}
    error = error_of(lambda: ddb.put_item(TableName=table.name, Item={
        "pk": {"S": "num"}, "sk": {"N": "2"}, "x": {"N": "1234567890123456789012345678901234567891"}}))
    assert error["Code"] == "ValidationException"
    assert error["Message"] == "Attempting to store more than 38 significant digits in a Number"
    error = error_of(lambda: ddb.put_item(TableName=table.name, Item={
        "pk": {"S": "num"}, "sk": {"N": "2"}, "x": {"N": "abc"}}))
    assert error["Message"] == "A value provided cannot be converted into a number"


def test_key_errors(ddb, table):
    error = error_of(lambda: ddb.put_item(TableName=table.name, Item={"pk": {"S": "x"}}))
    assert error["Message"] == "One or more parameter values were invalid: Missing the key sk in the item"
    error = error_of(lambda: ddb.put_item(TableName=table.name, Item={"pk": {"N": "1"}, "sk": {"N": "1"}}))
    assert error["Message"] == ("One or more parameter values were invalid: Type mismatch for key pk expected: S "
                                "actual: N")
    error = error_of(lambda: ddb.put_item(TableName=table.name, Item={"pk": {"S": ""}, "sk": {"N": "1"}}))
    assert error["Message"] == ("One or more parameter values are not valid. The AttributeValue for a key attribute "
                                "cannot contain an empty string value. Key: pk")
    error = error_of(lambda: ddb.get_item(TableName=table.name, Key={"pk": {"S": "x"}}))
    assert error["Message"] == "The provided key element does not match the schema"
    error = error_of(lambda: ddb.get_item(TableName="missing-table", Key={"pk": {"S": "x"}}))
    assert (error["Code"], error["Message"]) == ("ResourceNotFoundException", "Requested resource not found")


def test_set_rules(ddb, table):
    error = error_of(lambda: ddb.put_item(TableName=table.name, Item={
        "pk": {"S": "set"}, "sk": {"N": "1"}, "s": {"SS": []}}))
    assert error["Message"] == "One or more parameter values were invalid: An string set  may not be empty"
    error = error_of(lambda: ddb.put_item(TableName=table.name, Item={
        "pk": {"S": "set"}, "sk": {"N": "1"}, "s": {"SS": ["a", "a"]}}))
    assert error["Message"] == "One or more parameter values were invalid: Input collection [a, a] contains duplicates."


def test_item_size_limit(table):
    error = error_of(lambda: table.put_item(Item={"pk": "big", "sk": 1, "blob": "x" * (400 * 1024)}))
    assert error["Message"] == "Item size has exceeded the maximum allowed size"


# ------------------------------------------------------------ conditions
def test_conditional_put_and_return_item_on_failure(ddb, table):
    table.put_item(Item={"pk": "cond", "sk": 1, "v": 1})
    error = error_of(lambda: table.put_item(Item={"pk": "cond", "sk": 1, "v": 2},
                                            ConditionExpression=Attr("pk").not_exists(),
                                            ReturnValuesOnConditionCheckFailure="ALL_OLD"))
    assert (error["Code"], error["Message"]) == ("ConditionalCheckFailedException", "The conditional request failed")
    assert error["response"]["Item"] == {"pk": {"S": "cond"}, "sk": {"N": "1"}, "v": {"N": "1"}}
    assert table.get_item(Key={"pk": "cond", "sk": 1})["Item"]["v"] == 1
    old = table.put_item(Item={"pk": "cond", "sk": 1, "v": 3}, ConditionExpression=Attr("v").eq(1),
                         ReturnValues="ALL_OLD")
    assert old["Attributes"]["v"] == 1


@pytest.mark.parametrize("expression, values, expected", [
    ("attribute_exists(a)", {}, True),
    ("attribute_not_exists(nope)", {}, True),
    ("attribute_type(a, :t)", {":t": {"S": "N"}}, True),
    ("begins_with(s, :p)", {":p": {"S": "hel"}}, True),
    ("contains(s, :p)", {":p": {"S": "llo"}}, True),
    ("contains(tags, :p)", {":p": {"S": "red"}}, True),
    ("contains(l, :p)", {":p": {"N": "2"}}, True),
    ("size(s) = :n", {":n": {"N": "5"}}, True),
    ("size(l) > :n", {":n": {"N": "5"}}, False),
    ("a BETWEEN :lo AND :hi", {":lo": {"N": "1"}, ":hi": {"N": "10"}}, True),
    ("a IN (:x, :y)", {":x": {"N": "7"}, ":y": {"N": "5"}}, True),
    ("a <> :x AND NOT (s = :y)", {":x": {"N": "7"}, ":y": {"S": "bye"}}, True),
    ("a < :x OR m.k.z = :y", {":x": {"N": "1"}, ":y": {"S": "deep"}}, True),
    ("l[1] = :y", {":y": {"N": "2"}}, True),
    ("nope <> :y", {":y": {"N": "2"}}, True),
    ("nope = :y", {":y": {"N": "2"}}, False),
    ("a > :s", {":s": {"S": "1"}}, False),
])
def test_condition_language(ddb, table, expression, values, expected):
    key = {"pk": {"S": "lang"}, "sk": {"N": "1"}}
    ddb.put_item(TableName=table.name, Item={**key, "a": {"N": "5"}, "s": {"S": "hello"},
                                              "tags": {"SS": ["red", "blue"]}, "l": {"L": [{"N": "1"}, {"N": "2"}]},
                                              "m": {"M": {"k": {"M": {"z": {"S": "deep"}}}}}})
    arguments = {"ConditionExpression": expression}
    if values:
        arguments["ExpressionAttributeValues"] = values
    if expected:
        ddb.delete_item(TableName=table.name, Key=key, **arguments)
        assert "Item" not in ddb.get_item(TableName=table.name, Key=key)
    else:
        assert error_of(lambda: ddb.delete_item(TableName=table.name, Key=key, **arguments))["Code"] == \
            "ConditionalCheckFailedException"


@pytest.mark.parametrize("arguments, message", [
    ({"ConditionExpression": "a = :v"},
     "Invalid ConditionExpression: An expression attribute value used in expression is not defined; "
     "attribute value: :v"),
    ({"ConditionExpression": "#n = :v", "ExpressionAttributeValues": {":v": {"N": "1"}}},
     "Invalid ConditionExpression: An expression attribute name used in the document path is not defined; "
     "attribute name: #n"),
    ({"ConditionExpression": "a = :v", "ExpressionAttributeValues": {":v": {"N": "1"}, ":w": {"N": "2"}}},
     "Value provided in ExpressionAttributeValues unused in expressions: keys: {:w}"),
    ({"ConditionExpression": "a = :v", "ExpressionAttributeValues": {":v": {"N": "1"}},
      "ExpressionAttributeNames": {"#x": "x"}},
     "Value provided in ExpressionAttributeNames unused in expressions: keys: {#x}"),
    ({"ConditionExpression": "status = :v", "ExpressionAttributeValues": {":v": {"N": "1"}}},
     "Invalid ConditionExpression: Attribute name is a reserved keyword; reserved keyword: status"),
    ({"ConditionExpression": "a = ", "ExpressionAttributeValues": {":v": {"N": "1"}}},
     'Invalid ConditionExpression: Syntax error; token: "<EOF>", near: "= "'),
    ({"ConditionExpression": "a BETWEEN :hi AND :lo",
      "ExpressionAttributeValues": {":lo": {"N": "1"}, ":hi": {"N": "5"}}},
     "Invalid ConditionExpression: The BETWEEN operator requires upper bound to be greater than or equal to lower "
     "bound; lower bound operand: AttributeValue: {N:5}, upper bound operand: AttributeValue: {N:1}"),
    ({"ExpressionAttributeValues": {":v": {"N": "1"}}},
     "ExpressionAttributeValues can only be specified when using expressions: ConditionExpression is null"),
    ({"ConditionExpression": "attribute_type(a, :t)", "ExpressionAttributeValues": {":t": {"S": "X"}}},
     "Invalid ConditionExpression: Invalid attribute type name found; type: X, valid types: "
     "{ B,BOOL,BS,L,M,N,NS,NULL,S,SS }"),
])
def test_expression_errors(ddb, table, arguments, message):
    error = error_of(lambda: ddb.delete_item(TableName=table.name, Key={"pk": {"S": "e"}, "sk": {"N": "1"}},
                                             **arguments))
    assert (error["Code"], error["Message"]) == ("ValidationException", message)


# ---------------------------------------------------------------- update
def test_update_expression_actions(table):
    key = {"pk": "upd", "sk": 1}
    table.put_item(Item={**key, "count": 1, "tags": {"a", "b"}, "l": [1, 2, 3], "m": {"x": 1},
                         "gone": "soon"})
    answer = table.update_item(
        Key=key,
        UpdateExpression="SET #c = #c + :one, l[1] = :ten, m.y = :two, fresh = if_not_exists(fresh, :zero) "
                         "REMOVE gone ADD tags :c, tally :five",
        ExpressionAttributeNames={"#c": "count"},
        ExpressionAttributeValues={":one": 1, ":ten": 10, ":two": 2, ":zero": 0, ":c": {"c"}, ":five": 5},
        ReturnValues="ALL_NEW")["Attributes"]
    assert answer == {**key, "count": 2, "tags": {"a", "b", "c"}, "l": [1, 10, 3], "m": {"x": 1, "y": 2},
                      "fresh": 0, "tally": 5}
    answer = table.update_item(Key=key, UpdateExpression="SET l = list_append(:first, l) DELETE tags :a",
                               ExpressionAttributeValues={":first": [0], ":a": {"a", "c"}},
                               ReturnValues="UPDATED_NEW")["Attributes"]
    assert answer == {"l": [0, 1, 10, 3], "tags": {"b"}}
    answer = table.update_item(Key=key, UpdateExpression="REMOVE l[0], l[2]", ReturnValues="UPDATED_OLD")
    assert answer["Attributes"] == {"l": [0, 10]}
    assert table.get_item(Key=key)["Item"]["l"] == [1, 3]


def test_update_creates_missing_item(table):
    table.update_item(Key={"pk": "new", "sk": 1}, UpdateExpression="ADD visits :one",
                      ExpressionAttributeValues={":one": 1})
    assert table.get_item(Key={"pk": "new", "sk": 1})["Item"] == {"pk": "new", "sk": 1, "visits": 1}


@pytest.mark.parametrize("expression, values, message", [
    ("SET pk = :v", {":v": {"S": "x"}},
     "One or more parameter values were invalid: Cannot update attribute pk. This attribute is part of the key"),
    ("SET a = :v, a.b = :v", {":v": {"S": "x"}},
     "Invalid UpdateExpression: Two document paths overlap with each other; must remove or rewrite one of these "
     "paths; path one: [a], path two: [a, b]"),
    ("ADD a :v", {":v": {"S": "x"}},
     "Invalid UpdateExpression: Incorrect operand type for operator or function; operator: ADD, operand type: STRING"),
    ("SET a = :v SET b = :v", {":v": {"S": "x"}},
     'Invalid UpdateExpression: The "SET" section can only be used once in an update expression;'),
    ("SET a = absent + :v", {":v": {"N": "1"}},
     "The provided expression refers to an attribute that does not exist in the item"),
    ("SET s = s + :v", {":v": {"N": "1"}}, "An operand in the update expression has an incorrect data type"),
    ("SET nope.deeper = :v", {":v": {"N": "1"}},
     "The document path provided in the update expression is invalid for update"),
])
def test_update_errors_change_nothing(ddb, table, expression, values, message):
    key = {"pk": {"S": "bad-update"}, "sk": {"N": "1"}}
    ddb.put_item(TableName=table.name, Item={**key, "s": {"S": "text"}})
    error = error_of(lambda: ddb.update_item(TableName=table.name, Key=key, UpdateExpression=expression,
                                             ExpressionAttributeValues=values))
    assert (error["Code"], error["Message"]) == ("ValidationException", message)
    assert ddb.get_item(TableName=table.name, Key=key)["Item"] == {**key, "s": {"S": "text"}}


def test_projection_expression(table):
    table.put_item(Item={"pk": "proj", "sk": 1, "a": 1, "b": {"c": 2, "d": 3}, "l": [10, 20, 30]})
    got = table.get_item(Key={"pk": "proj", "sk": 1}, ProjectionExpression="a, b.d, l[2], #x",
                         ExpressionAttributeNames={"#x": "missing"})["Item"]
    assert got == {"a": 1, "b": {"d": 3}, "l": [30]}


# ---------------------------------------------------------- query / scan
@pytest.fixture(scope="module")
def ordered(ddb, server):
    """A table whose sort keys are numbers spanning signs and magnitudes."""
    name = make_table(ddb)
    numbers = ["-1000", "-10.5", "-10", "-1", "-0.001", "0", "0.001", "1", "1.5", "10", "100", "1E+20"]
    for number in numbers:
        ddb.put_item(TableName=name, Item={"pk": {"S": "p"}, "sk": {"N": number}, "f": {"N": number}})
    ddb.put_item(TableName=name, Item={"pk": {"S": "other"}, "sk": {"N": "5"}})
    return name, numbers


def test_query_orders_numbers_as_dynamodb(ddb, ordered):
    name, numbers = ordered
    items = ddb.query(TableName=name, KeyConditionExpression="pk = :p",
                      ExpressionAttributeValues={":p": {"S": "p"}})["Items"]
    assert [Decimal(i["sk"]["N"]) for i in items] == sorted(Decimal(n) for n in numbers)
    backwards = ddb.query(TableName=name, KeyConditionExpression="pk = :p", ScanIndexForward=False,
                          ExpressionAttributeValues={":p": {"S": "p"}})["Items"]
    assert backwards == items[::-1]


@pytest.mark.parametrize("condition, values, expected", [
    ("sk < :a", {":a": "0"}, ["-1000", "-10.5", "-10", "-1", "-0.001"]),
    ("sk <= :a", {":a": "1"}, ["-1000", "-10.5", "-10", "-1", "-0.001", "0", "0.001", "1"]),
    ("sk > :a", {":a": "1"}, ["1.5", "10", "100", "100000000000000000000"]),
    ("sk >= :a", {":a": "10"}, ["10", "100", "100000000000000000000"]),
    ("sk = :a", {":a": "1.50"}, ["1.5"]),
    ("sk BETWEEN :a AND :b", {":a": "-10", ":b": "0.001"}, ["-10", "-1", "-0.001", "0", "0.001"]),
])
def test_query_sort_key_conditions(ddb, ordered, condition, values, expected):
    name, _ = ordered
    items = ddb.query(TableName=name, KeyConditionExpression=f"pk = :p AND {condition}",
                      ExpressionAttributeValues={":p": {"S": "p"}, **{k: {"N": v} for k, v in values.items()}})["Items"]
    assert [i["sk"]["N"] for i in items] == expected


def test_query_pages_with_limit_and_filter(ddb, ordered):
    name, numbers = ordered
    seen, start, pages = [], None, 0
    while True:
        extra = {"ExclusiveStartKey": start} if start else {}
        page = ddb.query(TableName=name, KeyConditionExpression="pk = :p", Limit=5, FilterExpression="f > :z",
                         ExpressionAttributeValues={":p": {"S": "p"}, ":z": {"N": "0"}}, **extra)
        pages += 1
        assert page["ScannedCount"] <= 5
        seen += [i["sk"]["N"] for i in page["Items"]]
        start = page.get("LastEvaluatedKey")
        if start is None:
            break
    assert seen == ["0.001", "1", "1.5", "10", "100", "100000000000000000000"]
    assert pages == 3
    count = ddb.query(TableName=name, KeyConditionExpression="pk = :p", Select="COUNT",
                      ExpressionAttributeValues={":p": {"S": "p"}})
    assert count["Count"] == len(numbers) and "Items" not in count


def test_query_string_sort_keys_and_begins_with(ddb, table, server):
    strings = resource(server).Table(make_table(ddb, sort="S"))
    for sort in ["a", "ab", "abc", "b", "B", "ä", "a\u0000"]:
        strings.put_item(Item={"pk": "s", "sk": sort})
    items = strings.query(KeyConditionExpression=Key("pk").eq("s"))["Items"]
    assert [i["sk"] for i in items] == sorted(["a", "ab", "abc", "b", "B", "ä", "a\u0000"],
                                              key=lambda s: s.encode())
    items = strings.query(KeyConditionExpression=Key("pk").eq("s") & Key("sk").begins_with("ab"))["Items"]
    assert [i["sk"] for i in items] == ["ab", "abc"]


def test_query_binary_sort_order(ddb, server):
    name = make_table(ddb, sort="B")
    values = [b"\x00", b"\x00\x01", b"\x7f", b"\x80", b"\xff", b"\xff\x00"]
    for value in reversed(values):
        ddb.put_item(TableName=name, Item={"pk": {"S": "b"}, "sk": {"B": value}})
    items = ddb.query(TableName=name, KeyConditionExpression="pk = :p",
                      ExpressionAttributeValues={":p": {"S": "b"}})["Items"]
    assert [i["sk"]["B"] for i in items] == values


@pytest.mark.parametrize("expression, message", [
    ("sk = :z", "Query condition missed key schema element: pk"),
    ("pk = :p OR sk = :z", "Invalid operator used in KeyConditionExpression: OR"),
    ("pk = :p AND f = :z", "Query condition missed key schema element: sk"),
])
def test_query_key_condition_errors(ddb, ordered, expression, message):
    name, _ = ordered
    values = {":p": {"S": "p"}, ":z": {"N": "0"}}
    used = {k: v for k, v in values.items() if k in expression}
    error = error_of(lambda: ddb.query(TableName=name, KeyConditionExpression=expression,
                                       ExpressionAttributeValues=used))
    assert (error["Code"], error["Message"]) == ("ValidationException", message)


def test_filter_on_key_is_refused(ddb, ordered):
    name, _ = ordered
    error = error_of(lambda: ddb.query(TableName=name, KeyConditionExpression="pk = :p", FilterExpression="sk > :z",
                                       ExpressionAttributeValues={":p": {"S": "p"}, ":z": {"N": "0"}}))
    assert error["Message"] == ("Filter Expression can only contain non-primary key attributes: "
                                "Primary key attribute: sk")


def test_parallel_scan_segments_cover_the_table_once(ddb, server):
    name = make_table(ddb, sort=None)
    with resource(server).Table(name).batch_writer() as writer:
        for i in range(60):
            writer.put_item(Item={"pk": f"item-{i}", "n": i})
    seen = []
    for segment in range(3):
        page = ddb.scan(TableName=name, Segment=segment, TotalSegments=3)
        seen += [i["pk"]["S"] for i in page["Items"]]
    assert sorted(seen) == sorted(f"item-{i}" for i in range(60))
    total = ddb.scan(TableName=name, FilterExpression="n < :t", ExpressionAttributeValues={":t": {"N": "10"}})
    assert (total["Count"], total["ScannedCount"]) == (10, 60)


def test_global_and_local_secondary_indexes(ddb, server):
    name = unique()
    ddb.create_table(
        TableName=name, BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": a, "AttributeType": t} for a, t in
                              (("pk", "S"), ("sk", "N"), ("email", "S"), ("score", "N"))],
        GlobalSecondaryIndexes=[{"IndexName": "by-email",
                                 "KeySchema": [{"AttributeName": "email", "KeyType": "HASH"}],
                                 "Projection": {"ProjectionType": "KEYS_ONLY"}}],
        LocalSecondaryIndexes=[{"IndexName": "by-score", "KeySchema": [
            {"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "score", "KeyType": "RANGE"}],
            "Projection": {"ProjectionType": "ALL"}}])
    table = resource(server).Table(name)
    answer = table.put_item(Item={"pk": "u", "sk": 1, "email": "a@x", "score": 30, "extra": "e1"},
                            ReturnItemCollectionMetrics="SIZE", ReturnConsumedCapacity="TOTAL")
    assert answer["ItemCollectionMetrics"]["ItemCollectionKey"] == {"pk": "u"}
    assert answer["ConsumedCapacity"] == {"TableName": name, "CapacityUnits": 1.0}
    table.put_item(Item={"pk": "u", "sk": 2, "email": "b@x", "score": 10, "extra": "e2"})
    table.put_item(Item={"pk": "u", "sk": 3, "score": 20})  # not in by-email
    by_email = table.query(IndexName="by-email", KeyConditionExpression=Key("email").eq("a@x"))["Items"]
    assert by_email == [{"pk": "u", "sk": 1, "email": "a@x"}]
    table.update_item(Key={"pk": "u", "sk": 1}, UpdateExpression="SET email = :e",
                      ExpressionAttributeValues={":e": "c@x"})
    assert table.query(IndexName="by-email", KeyConditionExpression=Key("email").eq("a@x"))["Items"] == []
    assert len(table.query(IndexName="by-email", KeyConditionExpression=Key("email").eq("c@x"))["Items"]) == 1
    by_score = table.query(IndexName="by-score", KeyConditionExpression=Key("pk").eq("u") & Key("score").gt(15))
    assert [i["sk"] for i in by_score["Items"]] == [3, 1]
    assert len(table.scan(IndexName="by-email")["Items"]) == 2
    error = error_of(lambda: table.put_item(Item={"pk": "u", "sk": 4, "email": 5}))
    assert error["Message"] == ("One or more parameter values were invalid: Type mismatch for Index Key email "
                                "Expected: S Actual: N IndexName: by-email")
    error = error_of(lambda: table.query(IndexName="by-email", ConsistentRead=True,
                                         KeyConditionExpression=Key("email").eq("c@x")))
    assert error["Message"] == "Consistent reads are not supported on global secondary indexes"
    table.delete_item(Key={"pk": "u", "sk": 2})
    assert table.query(IndexName="by-email", KeyConditionExpression=Key("email").eq("b@x"))["Items"] == []


def test_legacy_parameters(ddb, ordered):
    name, _ = ordered
    page = ddb.query(TableName=name, KeyConditions={
        "pk": {"ComparisonOperator": "EQ", "AttributeValueList": [{"S": "p"}]},
        "sk": {"ComparisonOperator": "GT", "AttributeValueList": [{"N": "10"}]}},
        QueryFilter={"f": {"ComparisonOperator": "LT", "AttributeValueList": [{"N": "1000"}]}})
    assert [i["sk"]["N"] for i in page["Items"]] == ["100"]
    key = {"pk": {"S": "legacy"}, "sk": {"N": "1"}}
    ddb.put_item(TableName=name, Item={**key, "v": {"N": "1"}}, Expected={"v": {"Exists": False}})
    ddb.update_item(TableName=name, Key=key, AttributeUpdates={"v": {"Action": "ADD", "Value": {"N": "2"}}},
                    Expected={"v": {"Value": {"N": "1"}}})
    assert ddb.get_item(TableName=name, Key=key, AttributesToGet=["v"])["Item"] == {"v": {"N": "3"}}
    error = error_of(lambda: ddb.put_item(TableName=name, Item=key, Expected={"v": {"Exists": False}}))
    assert error["Code"] == "ConditionalCheckFailedException"


def test_pages_stop_at_one_megabyte(ddb, server):
    name = make_table(ddb)
    table = resource(server).Table(name)
    with table.batch_writer() as writer:
        for i in range(12):
            writer.put_item(Item={"pk": "big", "sk": i, "blob": "x" * 100_000})
    first = table.query(KeyConditionExpression=Key("pk").eq("big"))
    assert 10 <= first["Count"] < 12 and "LastEvaluatedKey" in first
    rest = table.query(KeyConditionExpression=Key("pk").eq("big"), ExclusiveStartKey=first["LastEvaluatedKey"])
    assert first["Count"] + rest["Count"] == 12 and "LastEvaluatedKey" not in rest
