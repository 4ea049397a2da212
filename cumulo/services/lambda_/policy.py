"""Resource-based policies of functions (AddPermission / RemovePermission / GetPolicy).

Statements are stored as AWS returns them; they are recorded, not enforced yet.
"""

from __future__ import annotations

import json
import re
from typing import Any

from cumulo.protocol.errors import AwsError

SERVICE_PRINCIPAL = re.compile(r"^[a-z0-9.-]+\.amazonaws\.com(\.cn)?$")
MAX_POLICY_BYTES = 20 * 1024


def principal_block(principal: str) -> Any:
    if principal == "*":
        return "*"
    if re.fullmatch(r"\d{12}", principal):
        return {"AWS": f"arn:aws:iam::{principal}:root"}
    if principal.startswith("arn:"):
        return {"AWS": principal}
    if SERVICE_PRINCIPAL.match(principal):
        return {"Service": principal}
    raise AwsError("InvalidParameterValueException",
                   "The provided principal was invalid. Please check the principal and try again.")


def build_statement(params: dict[str, Any], resource_arn: str) -> dict[str, Any]:
    action = params["Action"]
    if not re.fullmatch(r"(lambda:[*]|lambda:[a-zA-Z]+|[*])", action):
        raise AwsError("ValidationException",
                       f"1 validation error detected: Value '{action}' at 'action' failed to satisfy "
                       "constraint: Member must satisfy regular expression pattern: "
                       "(lambda:[*]|lambda:[a-zA-Z]+|[*])")
    statement: dict[str, Any] = {
        "Sid": params["StatementId"],
        "Effect": "Allow",
        "Principal": principal_block(params["Principal"]),
        "Action": action,
        "Resource": resource_arn,
    }
    conditions: dict[str, dict[str, str]] = {}
    if params.get("SourceAccount"):
        conditions.setdefault("StringEquals", {})["AWS:SourceAccount"] = params["SourceAccount"]
    if params.get("PrincipalOrgID"):
        conditions.setdefault("StringEquals", {})["aws:PrincipalOrgID"] = params["PrincipalOrgID"]
    if params.get("EventSourceToken"):
        conditions.setdefault("StringEquals", {})["lambda:EventSourceToken"] = params["EventSourceToken"]
    if params.get("FunctionUrlAuthType"):
        conditions.setdefault("StringEquals", {})["lambda:FunctionUrlAuthType"] = params["FunctionUrlAuthType"]
    if params.get("InvokedViaFunctionUrl"):
        conditions.setdefault("Bool", {})["lambda:InvokedViaFunctionUrl"] = "true"
    if params.get("SourceArn"):
        conditions.setdefault("ArnLike", {})["AWS:SourceArn"] = params["SourceArn"]
    if conditions:
        statement["Condition"] = conditions
    return statement


def policy_document(statements: list[dict[str, Any]]) -> str:
    return json.dumps({"Version": "2012-10-17", "Id": "default", "Statement": statements},
                      separators=(",", ":"))


def check_policy_size(statements: list[dict[str, Any]]) -> None:
    if len(policy_document(statements).encode()) > MAX_POLICY_BYTES:
        raise AwsError("PolicyLengthExceededException",
                       "The final policy size (bigger than 20480) is bigger than the limit.")
