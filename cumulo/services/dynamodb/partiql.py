"""A PartiQL subset for ExecuteStatement, BatchExecuteStatement and ExecuteTransaction:

* ``SELECT * | a, b.c FROM "table"[."index"] [WHERE ...]`` (a Query when the WHERE fixes the
  partition key, else a Scan),
* ``INSERT INTO "table" VALUE {...}``,
* ``UPDATE "table" SET a = ... [, ...] [REMOVE b] WHERE <full key> [AND condition]``,
* ``DELETE FROM "table" WHERE <full key> [AND condition]``.

The statement is rewritten into the expression language (literals and ``?`` parameters become
``:p`` values, identifiers ``#n`` names) and runs through the same code as the item operations.
"""

from __future__ import annotations

import re
from typing import Any

from cumulo.protocol.errors import AwsError
from cumulo.services.dynamodb.errors import validation
from cumulo.services.dynamodb.expressions.evaluation import evaluate
from cumulo.services.dynamodb.expressions.parser import (
    Compare,
    Context,
    Logical,
    PathRef,
    Value,
    parse_condition,
    parse_projection,
)
from cumulo.services.dynamodb.expressions.projection import project
from cumulo.services.dynamodb.keys import encode_key_value
from cumulo.services.dynamodb.tables import INDEX as INDEX_TABLE
from cumulo.services.dynamodb.tables import ITEMS as ITEMS_TABLE
from cumulo.services.dynamodb.values import format_number, normalize_value, parse_number

_TOKEN = re.compile(r"""\s*(?:
    (?P<string>'(?:[^']|'')*')
  | (?P<quoted>"(?:[^"]|"")*")
  | (?P<number>-?[0-9]+(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?)
  | (?P<word>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op><<|>>|<>|!=|<=|>=|[=<>(),.\[\]{}:?*+-])
)""", re.VERBOSE)


def _syntax(text: str) -> AwsError:
    return validation(f"Statement wasn't well formed, can't be processed: {text}")


class Statement:
    """One statement's tokens, rewritten piece by piece into expression text with placeholders."""

    def __init__(self, text: str, parameters: list[dict[str, Any]]) -> None:
        self.tokens: list[tuple[str, str]] = []
        position = 0
        while position < len(text):
            match = _TOKEN.match(text, position)
            if match is None or match.end() == position:
                if text[position:].strip() == "":
                    break
                raise _syntax(f"unexpected character at {position}")
            self.tokens.append((match.lastgroup or "", match.group(match.lastgroup or 0)))
            position = match.end()
        self.position = 0
        self.parameters = [normalize_value(p) for p in parameters]
        self.used_parameters = 0
        self.names: dict[str, str] = {}
        self.values: dict[str, dict[str, Any]] = {}

    def peek(self, offset: int = 0) -> tuple[str, str]:
        index = self.position + offset
        return self.tokens[index] if index < len(self.tokens) else ("eof", "")

    def next(self) -> tuple[str, str]:
        token = self.peek()
        self.position += 1
        return token

    def word(self, *words: str) -> bool:
        kind, text = self.peek()
        return kind == "word" and text.upper() in words

    def expect(self, text: str) -> None:
        found = self.next()[1]
        if found.upper() != text:
            raise _syntax(f"expected {text}, found {found or 'end of statement'}")

    def name(self, identifier: str) -> str:
        placeholder = f"#n{len(self.names)}"
        self.names[placeholder] = identifier
        return placeholder

    def value(self, value: dict[str, Any]) -> str:
        placeholder = f":p{len(self.values)}"
        self.values[placeholder] = value
        return placeholder

    def table_name(self) -> tuple[str, str | None]:
        kind, text = self.next()
        if kind not in ("quoted", "word"):
            raise _syntax("expected a table name")
        table = text[1:-1].replace('""', '"') if kind == "quoted" else text
        index = None
        if self.peek()[1] == ".":
            self.next()
            kind, text = self.next()
            index = text[1:-1] if kind == "quoted" else text
        return table, index

    def literal(self) -> dict[str, Any]:
        kind, text = self.next()
        if kind == "string":
            return {"S": text[1:-1].replace("''", "'")}
        if kind == "number":
            return {"N": format_number(parse_number(text))}
        if text == "?":
            if self.used_parameters >= len(self.parameters):
                raise validation("Number of parameters in request and statement don't match.")
            self.used_parameters += 1
            return self.parameters[self.used_parameters - 1]
        if kind == "word" and text.upper() in ("TRUE", "FALSE"):
            return {"BOOL": text.upper() == "TRUE"}
        if kind == "word" and text.upper() == "NULL":
            return {"NULL": True}
        if text == "[":
            items = []
            while self.peek()[1] != "]":
                items.append(self.literal())
                if self.peek()[1] == ",":
                    self.next()
            self.next()
            return {"L": items}
        if text == "{":
            members = {}
            while self.peek()[1] != "}":
                key = self.literal()
                self.expect(":")
                members[key["S"]] = self.literal()
                if self.peek()[1] == ",":
                    self.next()
            self.next()
            return {"M": members}
        if text == "<<":
            elements = []
            while self.peek()[1] != ">>":
                elements.append(self.literal())
                if self.peek()[1] == ",":
                    self.next()
            self.next()
            kinds = {next(iter(e)) for e in elements}
            if len(kinds) != 1 or not kinds <= {"S", "N", "B"}:
                raise _syntax("a set holds strings, numbers or binaries of one type")
            kind_name = kinds.pop()
            return {kind_name + "S": [e[kind_name] for e in elements]}
        raise _syntax(f"unexpected {text or 'end of statement'}")

    def path(self) -> str:
        kind, text = self.next()
        if kind not in ("word", "quoted"):
            raise _syntax(f"unexpected {text}")
        parts = [self.name(text[1:-1] if kind == "quoted" else text)]
        while self.peek()[1] in (".", "["):
            if self.next()[1] == ".":
                kind, text = self.next()
                parts.append("." + self.name(text[1:-1] if kind == "quoted" else text))
            else:
                parts.append(f"[{self.next()[1]}]")
                self.expect("]")
        return "".join(parts)

    def operand(self) -> str:
        kind, text = self.peek()
        if kind in ("string", "number") or text in ("?", "[", "{", "<<") or self.word("TRUE", "FALSE", "NULL"):
            return self.value(self.literal())
        if kind == "word" and self.peek(1)[1] == "(":
            self.next()
            self.next()
            args = [self.operand()]
            while self.peek()[1] == ",":
                self.next()
                args.append(self.operand())
            self.expect(")")
            return f"{text}({', '.join(args)})"
        return self.path()

    def condition(self, stop: tuple[str, ...] = ()) -> str:
        """A WHERE clause as condition-expression text."""
        parts: list[str] = []
        while self.peek()[0] != "eof" and not self.word(*stop):
            kind, text = self.peek()
            upper = text.upper()
            if kind == "word" and upper in ("AND", "OR", "NOT", "BETWEEN"):
                parts.append(upper)
                self.next()
            elif kind == "word" and upper == "IN":
                self.next()
                values = self.literal()
                parts.append("IN (" + ", ".join(self.value(v) for v in values.get("L", [])) + ")")
            elif kind == "word" and upper == "IS":
                self.next()
                negate = self.word("NOT")
                if negate:
                    self.next()
                self.expect("MISSING")
                target = parts.pop()
                parts.append(f"{'attribute_exists' if negate else 'attribute_not_exists'}({target})")
            elif text in ("(", ")"):
                parts.append(text)
                self.next()
            elif kind == "op" and text in ("=", "<>", "!=", "<", "<=", ">", ">="):
                parts.append("<>" if text == "!=" else text)
                self.next()
            else:
                parts.append(self.operand())
        return " ".join(parts)

    def context(self) -> Context:
        return Context(dict(self.names), dict(self.values))

    def done(self) -> None:
        if self.peek()[0] != "eof":
            raise _syntax(f"unexpected {self.peek()[1]}")
        if self.used_parameters != len(self.parameters):
            raise validation("Number of parameters in request and statement don't match.")


def _key_of(tree: Any, names: tuple[str, ...]) -> dict[str, Any]:
    """The key attributes a WHERE clause fixes with equalities joined by AND."""
    found: dict[str, Any] = {}

    def walk(node: Any) -> None:
        if isinstance(node, Logical) and node.op == "AND":
            walk(node.left)
            walk(node.right)
        elif isinstance(node, Compare) and node.op == "=":
            path, value = (node.left, node.right) if isinstance(node.left, PathRef) else (node.right, node.left)
            if isinstance(path, PathRef) and isinstance(value, Value) and len(path.path) == 1 and path.path[0] in names:
                found[path.path[0]] = value.value

    walk(tree)
    return found


def execute(provider: Any, context: Any, params: dict[str, Any]) -> dict[str, Any]:
    statement = Statement(params["Statement"], params.get("Parameters") or [])
    verb = statement.next()[1].upper()
    if verb == "SELECT":
        return _select(provider, context, statement, params)
    if verb == "INSERT":
        return _insert(provider, context, statement, transactional=False)
    if verb == "UPDATE":
        return _update(provider, context, statement, transactional=False)
    if verb == "DELETE":
        return _delete(provider, context, statement, transactional=False)
    raise _syntax(f"unsupported statement {verb}")


def _select(provider: Any, context: Any, statement: Statement, params: dict[str, Any]) -> dict[str, Any]:
    projection: list[str] = []
    if statement.peek()[1] == "*":
        statement.next()
    else:
        projection.append(statement.path())
        while statement.peek()[1] == ",":
            statement.next()
            projection.append(statement.path())
    statement.expect("FROM")
    table_name, index_name = statement.table_name()
    table = provider.tables.get(context.account_id, context.region, table_name)
    where = None
    if statement.word("WHERE"):
        statement.next()
        where = statement.condition()
    statement.done()
    expression_context = statement.context()
    tree = parse_condition(where, expression_context, "WHERE clause") if where else None
    paths = parse_projection(", ".join(projection), expression_context) if projection else None
    index = table.indexes.get(index_name) if index_name else None
    if index_name and index is None:
        raise validation(f"The table does not have the specified index: {index_name}")
    schema = index.schema if index else table.schema
    key = _key_of(tree, (schema.hash_name,)) if tree is not None else {}
    if index is None:
        store_table, prefix = ITEMS_TABLE, f"{table.id}/"
    else:
        store_table, prefix = INDEX_TABLE, f"{table.id}/{index.name}/"
    if schema.hash_name in key:
        prefix += encode_key_value(key[schema.hash_name]) + "/"
    items = []
    limit = params.get("Limit")
    start = params.get("NextToken")
    last = None
    for store_key, item in provider.items.range(store_table, prefix, None, None, start_after=start):
        if tree is None or evaluate(item, tree):
            items.append(project(item, paths) if paths else item)
        if limit is not None and len(items) >= limit:
            last = store_key
            break
    answer: dict[str, Any] = {"Items": items}
    if last is not None:
        answer["NextToken"] = last
    return answer


def _insert(provider: Any, context: Any, statement: Statement, transactional: bool) -> Any:
    statement.expect("INTO")
    table_name, _ = statement.table_name()
    statement.expect("VALUE")
    item = statement.literal()
    statement.done()
    if "M" not in item:
        raise _syntax("INSERT takes a VALUE that is a map")
    table = provider.tables.get(context.account_id, context.region, table_name)
    params = {"TableName": table_name, "Item": item["M"], "ConditionExpression": "attribute_not_exists(#k)",
              "ExpressionAttributeNames": {"#k": table.schema.hash_name}}
    return _write(provider, context, "Put", params, transactional, duplicate=True)


def _update(provider: Any, context: Any, statement: Statement, transactional: bool) -> Any:
    table_name, _ = statement.table_name()
    sets: list[str] = []
    removes: list[str] = []
    while statement.word("SET", "REMOVE"):
        clause = statement.next()[1].upper()
        target = statement.path()
        if clause == "REMOVE":
            removes.append(target)
            continue
        statement.expect("=")
        value = statement.operand()
        while statement.peek()[1] in ("+", "-"):
            value += f" {statement.next()[1]} {statement.operand()}"
        sets.append(f"{target} = {value}")
        while statement.peek()[1] == ",":
            statement.next()
            target = statement.path()
            statement.expect("=")
            sets.append(f"{target} = {statement.operand()}")
    statement.expect("WHERE")
    where = statement.condition()
    statement.done()
    expression = " ".join(part for part in (("SET " + ", ".join(sets)) if sets else "",
                                            ("REMOVE " + ", ".join(removes)) if removes else "") if part)
    return _keyed_write(provider, context, statement, table_name, where, transactional, "Update",
                        {"UpdateExpression": expression})


def _delete(provider: Any, context: Any, statement: Statement, transactional: bool) -> Any:
    statement.expect("FROM")
    table_name, _ = statement.table_name()
    statement.expect("WHERE")
    where = statement.condition()
    statement.done()
    return _keyed_write(provider, context, statement, table_name, where, transactional, "Delete", {})


def _keyed_write(provider: Any, context: Any, statement: Statement, table_name: str, where: str,
                 transactional: bool, kind: str, extra: dict[str, Any]) -> Any:
    table = provider.tables.get(context.account_id, context.region, table_name)
    tree = parse_condition(where, Context(dict(statement.names), dict(statement.values)), "WHERE clause")
    key = _key_of(tree, table.schema.names)
    if set(key) != set(table.schema.names):
        raise validation("Where clause does not contain a mandatory equality on all key attributes")
    condition = where
    if kind == "Update":
        condition = f"({where}) AND attribute_exists({statement.name(table.schema.hash_name)})"
    params = {"TableName": table_name, "Key": key, "ConditionExpression": condition,
              "ExpressionAttributeNames": dict(statement.names), "ExpressionAttributeValues": dict(statement.values),
              **extra}
    if not params["ExpressionAttributeValues"]:
        del params["ExpressionAttributeValues"]
    return _write(provider, context, kind, params, transactional, duplicate=False, quiet=kind == "Delete")


def _write(provider: Any, context: Any, kind: str, params: dict[str, Any], transactional: bool,
           duplicate: bool, quiet: bool = False) -> Any:
    plan = {"Put": provider.writes.plan_put, "Update": provider.writes.plan_update,
            "Delete": provider.writes.plan_delete}[kind](context, params, transactional=True)
    if transactional:
        return plan
    try:
        provider.writes.execute(plan, {})
    except AwsError as error:
        if error.code != "ConditionalCheckFailedException":
            raise
        if duplicate:
            raise AwsError("DuplicateItemException", "Duplicate primary key exists in table") from None
        if not quiet:
            raise
    return {}


def execute_batch(provider: Any, context: Any, params: dict[str, Any]) -> dict[str, Any]:
    responses = []
    for request in params["Statements"]:
        try:
            result = execute(provider, context, {"Statement": request["Statement"],
                                                 "Parameters": request.get("Parameters")})
            response: dict[str, Any] = {}
            if result.get("Items"):
                response["Item"] = result["Items"][0]
            responses.append(response)
        except AwsError as error:
            code = {"ConditionalCheckFailedException": "ConditionalCheckFailed",
                    "DuplicateItemException": "DuplicateItem", "ResourceNotFoundException": "ResourceNotFound",
                    "ValidationException": "ValidationError"}.get(error.code, "InternalServerError")
            responses.append({"Error": {"Code": code, "Message": error.message}})
    return {"Responses": responses}


def execute_transaction(provider: Any, context: Any, params: dict[str, Any]) -> dict[str, Any]:
    statements = params["TransactStatements"]
    if all(s["Statement"].lstrip().upper().startswith("SELECT") for s in statements):
        return {"Responses": [{"Item": r["Items"][0]} if r.get("Items") else {} for r in (
            execute(provider, context, {"Statement": s["Statement"], "Parameters": s.get("Parameters")})
            for s in statements)]}
    plans = []
    for request in statements:
        statement = Statement(request["Statement"], request.get("Parameters") or [])
        verb = statement.next()[1].upper()
        handler = {"INSERT": _insert, "UPDATE": _update, "DELETE": _delete}.get(verb)
        if handler is None:
            raise validation("Only INSERT, UPDATE and DELETE statements can be mixed in a transaction")
        plans.append(handler(provider, context, statement, transactional=True))
    identities = {f"{p.table.id}|{p.table.item_key(p.key)}" for p in plans}
    if len(identities) != len(plans):
        raise validation("Transaction request cannot include multiple operations on one item")
    with provider.items.store.transaction():
        reasons = [provider.batches._attempt(plan) for plan in plans]
        if any(reason["Code"] != "None" for reason in reasons):
            codes = ", ".join(reason["Code"] for reason in reasons)
            raise AwsError("TransactionCanceledException", "Transaction cancelled, please refer cancellation "
                           f"reasons for specific reasons [{codes}]", fields={"CancellationReasons": reasons})
    return {"Responses": [{} for _ in plans]}


__all__ = ["execute", "execute_batch", "execute_transaction"]
