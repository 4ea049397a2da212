"""AWS STS: who the caller is, and temporary credentials for roles.

Tools (the SAM CLI, CDK, Terraform) call GetCallerIdentity before anything else. AssumeRole mints
a role session (:mod:`cumulo.iam.sessions`), as the Lambda runner does for each function's
execution role: the server accepts requests signed with its credentials (session token included)
and, with ``--enforce-iam``, holds them to the role's policies.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from cumulo.arns import split_arn
from cumulo.iam.roles import find_role
from cumulo.iam.sessions import random_id
from cumulo.services.base import Provider, RequestContext

if TYPE_CHECKING:
    from cumulo.platform import Platform


class StsProvider(Provider):
    service = "sts"
    validation_error_code = "ValidationError"

    def __init__(self, platform: Platform) -> None:
        super().__init__(platform)
        self.sessions = platform.sessions

    async def start(self) -> None:
        self.sessions.purge_expired()

    def get_caller_identity(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        session = self.sessions.find(context.access_key) if context.access_key else None
        if session is not None:
            return {"UserId": session.user_id, "Account": session.account, "Arn": session.arn}
        return {"UserId": context.access_key or "AKIAIOSFODNN7EXAMPLE", "Account": context.account_id,
                "Arn": f"arn:aws:iam::{context.account_id}:root"}

    def assume_role(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        duration = params.get("DurationSeconds") or 3600
        role_arn, session_name = params["RoleArn"], params["RoleSessionName"]
        parsed = split_arn(role_arn)
        account = parsed.account if parsed else context.account_id
        role = find_role(self.platform.store, role_arn)
        session = self.sessions.mint(account=account, role_arn=role_arn, session_name=session_name,
                                     role_id=role["RoleId"] if role else random_id("AROA", 17), duration_s=duration)
        return {
            "Credentials": {"AccessKeyId": session.access_key, "SecretAccessKey": session.secret_key,
                            "SessionToken": session.token,
                            "Expiration": dt.datetime.fromtimestamp(session.expires_at, dt.UTC)},
            "AssumedRoleUser": {"AssumedRoleId": session.user_id, "Arn": session.arn},
            "PackedPolicySize": 0,
        }
