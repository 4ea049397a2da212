"""AWS STS: who the caller is, and temporary credentials for roles (accepted by Cumulo on loopback).

Tools (the SAM CLI, CDK, Terraform) call GetCallerIdentity before anything else; AssumeRole
returns well-formed temporary credentials whose access key is accepted wherever signatures are
not verified.
"""

from __future__ import annotations

import datetime as dt
import secrets
import string
from typing import Any

from cumulo.arns import split_arn
from cumulo.services.base import Provider, RequestContext

ALPHABET = string.ascii_uppercase + string.digits


def _token(prefix: str, length: int) -> str:
    return prefix + "".join(secrets.choice(ALPHABET) for _ in range(length))


class StsProvider(Provider):
    service = "sts"
    validation_error_code = "ValidationError"

    def get_caller_identity(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return {"UserId": context.access_key or "AKIAIOSFODNN7EXAMPLE", "Account": context.account_id,
                "Arn": f"arn:aws:iam::{context.account_id}:root"}

    def assume_role(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        duration = params.get("DurationSeconds") or 3600
        role_arn, session = params["RoleArn"], params["RoleSessionName"]
        role_name = role_arn.rsplit("/", 1)[-1]
        role = split_arn(role_arn)
        account = role.account if role else context.account_id
        role_id = _token("AROA", 17)
        return {
            "Credentials": {"AccessKeyId": _token("ASIA", 16), "SecretAccessKey": secrets.token_urlsafe(30),
                            "SessionToken": secrets.token_urlsafe(120),
                            "Expiration": dt.datetime.now(dt.UTC) + dt.timedelta(seconds=duration)},
            "AssumedRoleUser": {"AssumedRoleId": f"{role_id}:{session}",
                                "Arn": f"arn:aws:sts::{account}:assumed-role/{role_name}/{session}"},
            "PackedPolicySize": 0,
        }
