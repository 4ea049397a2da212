"""DynamoDB batches, transactions and PartiQL through boto3: all-or-nothing writes, cancellation
reasons in request order, idempotency tokens, duplicate keys refused, PartiQL statements."""

from __future__ import annotations

import pytest

from tests.integration.dynamodb_support import error_of, make_table, resource


@pytest.fixture(scope="module")
def ddb(server):
    return server.client("dynamodb")


@pytest.fixture(scope="module")
def name(ddb):
    return make_table(ddb)


def key(pk: str, sk: int = 1) -> dict:
    return {"pk": {"S": pk}, "sk": {"N": str(sk)}}


def test_batch_write_and_get(ddb, name):
    ddb.batch_write_item(RequestItems={name: [{"PutRequest": {"Item": {**key(f"b{i}"), "v": {"N": str(i)}}}}
                                             for i in range(25)]})
    got = ddb.batch_get_item(RequestItems={name: {"Keys": [key(f"b{i}") for i in range(30)],
                                                  "ProjectionExpression": "v"}})
    assert sorted(int(i["v"]["N"]) for i in got["Responses"][name]) == list(range(25))
    assert got["UnprocessedKeys"] == {}
    answer = ddb.batch_write_item(RequestItems={name: [{"DeleteRequest": {"Key": key(f"b{i}")}} for i in range(5)]})
    assert answer["UnprocessedItems"] == {}
    assert "Item" not in ddb.get_item(TableName=name, Key=key("b0"))


def test_batch_errors_write_nothing(ddb, name):
    error = error_of(lambda: ddb.batch_write_item(RequestItems={name: [
        {"PutRequest": {"Item": key("dup")}}, {"PutRequest": {"Item": key("dup")}}]}))
    assert (error["Code"], error["Message"]) == ("ValidationException",
                                                 "Provided list of item keys contains duplicates")
    error = error_of(lambda: ddb.batch_write_item(RequestItems={name: [
        {"PutRequest": {"Item": key("ok")}}, {"PutRequest": {"Item": {"pk": {"S": "bad"}}}}]}))
    assert error["Code"] == "ValidationException"
    assert "Item" not in ddb.get_item(TableName=name, Key=key("ok"))
    error = error_of(lambda: ddb.batch_get_item(RequestItems={"no-such-table": {"Keys": [key("x")]}}))
    assert (error["Code"], error["Message"]) == ("ResourceNotFoundException", "Requested resource not found")


def test_transaction_commits_all(ddb, name):
    ddb.put_item(TableName=name, Item={**key("acct-a"), "balance": {"N": "100"}})
    ddb.put_item(TableName=name, Item={**key("acct-b"), "balance": {"N": "0"}})
    ddb.put_item(TableName=name, Item={**key("bank"), "open": {"BOOL": True}})
    ddb.transact_write_items(TransactItems=[
        {"Update": {"TableName": name, "Key": key("acct-a"), "UpdateExpression": "SET balance = balance - :x",
                    "ConditionExpression": "balance >= :x", "ExpressionAttributeValues": {":x": {"N": "30"}}}},
        {"Update": {"TableName": name, "Key": key("acct-b"), "UpdateExpression": "SET balance = balance + :x",
                    "ExpressionAttributeValues": {":x": {"N": "30"}}}},
        {"Put": {"TableName": name, "Item": {**key("log"), "what": {"S": "transfer"}}}},
        {"ConditionCheck": {"TableName": name, "Key": key("bank"), "ConditionExpression": "#o = :t",
                            "ExpressionAttributeNames": {"#o": "open"},
                            "ExpressionAttributeValues": {":t": {"BOOL": True}}}},
    ])
    got = ddb.transact_get_items(TransactItems=[{"Get": {"TableName": name, "Key": key(k)}}
                                                for k in ("acct-a", "acct-b", "nothing")])["Responses"]
    assert [r.get("Item", {}).get("balance") for r in got] == [{"N": "70"}, {"N": "30"}, None]


def test_transaction_cancelled_with_reasons_in_order(ddb, name):
    ddb.put_item(TableName=name, Item={**key("t1"), "v": {"N": "1"}})
    error = error_of(lambda: ddb.transact_write_items(TransactItems=[
        {"Put": {"TableName": name, "Item": {**key("t-new"), "v": {"N": "1"}}}},
        {"Delete": {"TableName": name, "Key": key("t1"), "ConditionExpression": "v = :two",
                    "ExpressionAttributeValues": {":two": {"N": "2"}},
                    "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}},
        {"Update": {"TableName": name, "Key": key("t2"), "UpdateExpression": "SET v = v + :one",
                    "ExpressionAttributeValues": {":one": {"N": "1"}}}},
    ]))
    assert error["Code"] == "TransactionCanceledException"
    assert error["Message"] == ("Transaction cancelled, please refer cancellation reasons for specific reasons "
                                "[None, ConditionalCheckFailed, ValidationError]")
    reasons = error["response"]["CancellationReasons"]
    assert reasons[0] == {"Code": "None"}
    assert reasons[1]["Code"] == "ConditionalCheckFailed"
    assert reasons[1]["Item"] == {**key("t1"), "v": {"N": "1"}}
    assert reasons[2]["Code"] == "ValidationError"
    assert "Item" not in ddb.get_item(TableName=name, Key=key("t-new"))
    assert ddb.get_item(TableName=name, Key=key("t1"))["Item"]["v"] == {"N": "1"}


def test_transaction_refuses_two_operations_on_one_item(ddb, name):
    error = error_of(lambda: ddb.transact_write_items(TransactItems=[
        {"Put": {"TableName": name, "Item": key("same")}}, {"Delete": {"TableName": name, "Key": key("same")}}]))
    assert error["Message"] == "Transaction request cannot include multiple operations on one item"


def test_transaction_idempotency_token(ddb, name):
    items = [{"Update": {"TableName": name, "Key": key("idem"), "UpdateExpression": "ADD n :one",
                         "ExpressionAttributeValues": {":one": {"N": "1"}}}}]
    ddb.transact_write_items(TransactItems=items, ClientRequestToken="token-1")
    ddb.transact_write_items(TransactItems=items, ClientRequestToken="token-1")
    assert ddb.get_item(TableName=name, Key=key("idem"))["Item"]["n"] == {"N": "1"}
    other = [{"Put": {"TableName": name, "Item": key("idem-other")}}]
    error = error_of(lambda: ddb.transact_write_items(TransactItems=other, ClientRequestToken="token-1"))
    assert error["Code"] == "IdempotentParameterMismatchException"


def test_partiql_statements(ddb, name, server):
    ddb.execute_statement(Statement=f"INSERT INTO \"{name}\" VALUE {{'pk': 'pq', 'sk': 1, 'colour': 'red'}}")
    ddb.execute_statement(Statement=f'INSERT INTO "{name}" VALUE {{\'pk\': ?, \'sk\': 2, \'colour\': ?}}',
                          Parameters=[{"S": "pq"}, {"S": "blue"}])
    error = error_of(lambda: ddb.execute_statement(
        Statement=f"INSERT INTO \"{name}\" VALUE {{'pk': 'pq', 'sk': 1}}"))
    assert (error["Code"], error["Message"]) == ("DuplicateItemException", "Duplicate primary key exists in table")
    rows = ddb.execute_statement(Statement=f"SELECT colour FROM \"{name}\" WHERE pk = 'pq' AND sk > 0")["Items"]
    assert rows == [{"colour": {"S": "red"}}, {"colour": {"S": "blue"}}]
    ddb.execute_statement(Statement=f"UPDATE \"{name}\" SET colour = 'green' SET n = 5 WHERE pk = 'pq' AND sk = 1")
    assert resource(server).Table(name).get_item(Key={"pk": "pq", "sk": 1})["Item"]["colour"] == "green"
    error = error_of(lambda: ddb.execute_statement(
        Statement=f"UPDATE \"{name}\" SET colour = 'x' WHERE pk = 'pq' AND sk = 99"))
    assert error["Code"] == "ConditionalCheckFailedException"
    ddb.execute_statement(Statement=f"DELETE FROM \"{name}\" WHERE pk = 'pq' AND sk = 2")
    rows = ddb.execute_statement(Statement=f"SELECT * FROM \"{name}\" WHERE pk = ?",
                                 Parameters=[{"S": "pq"}])["Items"]
    assert [r["sk"] for r in rows] == [{"N": "1"}]
    batch = ddb.batch_execute_statement(Statements=[
        {"Statement": f"SELECT * FROM \"{name}\" WHERE pk = 'pq' AND sk = 1"},
        {"Statement": f"INSERT INTO \"{name}\" VALUE {{'pk': 'pq', 'sk': 1}}"}])["Responses"]
    assert batch[0]["Item"]["colour"] == {"S": "green"}
    assert batch[1]["Error"]["Code"] == "DuplicateItem"
    error = error_of(lambda: ddb.execute_transaction(TransactStatements=[
        {"Statement": f"INSERT INTO \"{name}\" VALUE {{'pk': 'pq-tx', 'sk': 1}}"},
        {"Statement": f"UPDATE \"{name}\" SET colour = 'x' WHERE pk = 'pq' AND sk = 42"}]))
    assert error["Code"] == "TransactionCanceledException"
    assert "Item" not in ddb.get_item(TableName=name, Key=key("pq-tx"))
    ddb.execute_transaction(TransactStatements=[
        {"Statement": f"INSERT INTO \"{name}\" VALUE {{'pk': 'pq-tx', 'sk': 1}}"}])
    assert "Item" in ddb.get_item(TableName=name, Key=key("pq-tx"))
