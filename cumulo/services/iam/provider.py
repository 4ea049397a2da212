"""AWS IAM roles and policies, recorded and returned as AWS does.

Serverless templates create execution roles and reference their ARNs; tools read them back.
Permissions are evaluated only with ``--enforce-iam``, and only for requests signed with a role
session's credentials (function environments, STS AssumeRole): see :mod:`cumulo.iam`.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any
from urllib.parse import quote, unquote

from cumulo.iam.aws_managed import AWS_POLICY_PREFIX
from cumulo.iam.roles import POLICIES, ROLES, role_key
from cumulo.iam.sessions import random_id
from cumulo.protocol.errors import AwsError
from cumulo.services.base import Provider, RequestContext


def _no_such(kind: str, name: str) -> AwsError:
    return AwsError("NoSuchEntity", f"The {kind} with name {name} cannot be found.", status=404)


def _document(text: str) -> str:
    """A policy document as IAM returns it (URL-encoded JSON), rejecting documents that are not JSON."""
    try:
        json.loads(unquote(text))
    except ValueError as exc:
        raise AwsError("MalformedPolicyDocument", "This policy contains invalid Json") from exc
    return quote(unquote(text), safe="")


class IamProvider(Provider):
    service = "iam"
    validation_error_code = "ValidationError"

    def _role(self, context: RequestContext, name: str) -> dict[str, Any]:
        role = self.platform.store.get(ROLES, role_key(context.account_id, name))
        if role is None:
            raise _no_such("role", name)
        return role

    def _save(self, context: RequestContext, role: dict[str, Any]) -> None:
        self.platform.store.put(ROLES, role_key(context.account_id, role['RoleName']), role)

    @staticmethod
    def _public(role: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in role.items() if not k.startswith("_")}

    # ------------------------------------------------------------ roles
    def create_role(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        name, path = params["RoleName"], params.get("Path") or "/"
        role = {
            "Path": path, "RoleName": name, "RoleId": random_id("AROA", 17),
            "Arn": f"arn:aws:iam::{context.account_id}:role{path}{name}",
            "CreateDate": dt.datetime.now(dt.UTC).isoformat(),
            "AssumeRolePolicyDocument": _document(params["AssumeRolePolicyDocument"]),
            "Description": params.get("Description") or "",
            "MaxSessionDuration": params.get("MaxSessionDuration") or 3600,
            "Tags": params.get("Tags") or [], "_inline": {}, "_attached": [],
        }
        if not self.platform.store.insert(ROLES, role_key(context.account_id, name), role):
            raise AwsError("EntityAlreadyExists", f"Role with name {name} already exists.", status=409)
        return {"Role": self._public(role)}

    def get_role(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return {"Role": self._public(self._role(context, params["RoleName"]))}

    def list_roles(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        prefix = params.get("PathPrefix") or "/"
        roles = [self._public(r) for _, r in self.platform.store.scan(ROLES, f"{context.account_id}:")
                 if r["Path"].startswith(prefix)]
        return {"Roles": roles, "IsTruncated": False}

    def delete_role(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        role = self._role(context, params["RoleName"])
        if role["_inline"] or role["_attached"]:
            raise AwsError("DeleteConflict", "Cannot delete entity, must delete policies first.", status=409)
        self.platform.store.delete(ROLES, role_key(context.account_id, role['RoleName']))
        return {}

    def update_assume_role_policy(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        role = self._role(context, params["RoleName"])
        role["AssumeRolePolicyDocument"] = _document(params["PolicyDocument"])
        self._save(context, role)
        return {}

    def put_role_policy(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        role = self._role(context, params["RoleName"])
        role["_inline"][params["PolicyName"]] = _document(params["PolicyDocument"])
        self._save(context, role)
        return {}

    def get_role_policy(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        role = self._role(context, params["RoleName"])
        document = role["_inline"].get(params["PolicyName"])
        if document is None:
            raise AwsError("NoSuchEntity", f"The role policy with name {params['PolicyName']} cannot be found.",
                           status=404)
        return {"RoleName": role["RoleName"], "PolicyName": params["PolicyName"], "PolicyDocument": document}

    def delete_role_policy(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        role = self._role(context, params["RoleName"])
        if role["_inline"].pop(params["PolicyName"], None) is None:
            raise AwsError("NoSuchEntity", f"The role policy with name {params['PolicyName']} cannot be found.",
                           status=404)
        self._save(context, role)
        return {}

    def list_role_policies(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return {"PolicyNames": sorted(self._role(context, params["RoleName"])["_inline"]), "IsTruncated": False}

    def attach_role_policy(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        role = self._role(context, params["RoleName"])
        arn = params["PolicyArn"]
        if not arn.startswith(AWS_POLICY_PREFIX) and self.platform.store.get(POLICIES, arn) is None:
            raise AwsError("NoSuchEntity", f"Policy {arn} does not exist or is not attachable.", status=404)
        if arn not in role["_attached"]:
            role["_attached"].append(arn)
            self._save(context, role)
        return {}

    def detach_role_policy(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        role = self._role(context, params["RoleName"])
        if params["PolicyArn"] not in role["_attached"]:
            raise AwsError("NoSuchEntity", f"Policy {params['PolicyArn']} was not found.", status=404)
        role["_attached"].remove(params["PolicyArn"])
        self._save(context, role)
        return {}

    def list_attached_role_policies(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        attached = self._role(context, params["RoleName"])["_attached"]
        return {"AttachedPolicies": [{"PolicyName": arn.rsplit("/", 1)[1], "PolicyArn": arn} for arn in attached],
                "IsTruncated": False}

    def tag_role(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        role = self._role(context, params["RoleName"])
        tags = {t["Key"]: t["Value"] for t in role["Tags"]}
        tags.update({t["Key"]: t["Value"] for t in params["Tags"]})
        role["Tags"] = [{"Key": k, "Value": v} for k, v in tags.items()]
        self._save(context, role)
        return {}

    def untag_role(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        role = self._role(context, params["RoleName"])
        role["Tags"] = [t for t in role["Tags"] if t["Key"] not in params["TagKeys"]]
        self._save(context, role)
        return {}

    # ------------------------------------------------------------ managed policies
    def create_policy(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        path = params.get("Path") or "/"
        arn = f"arn:aws:iam::{context.account_id}:policy{path}{params['PolicyName']}"
        now = dt.datetime.now(dt.UTC).isoformat()
        policy = {"PolicyName": params["PolicyName"], "PolicyId": random_id("ANPA", 17), "Arn": arn, "Path": path,
                  "DefaultVersionId": "v1", "AttachmentCount": 0, "IsAttachable": True,
                  "Description": params.get("Description") or "", "CreateDate": now, "UpdateDate": now,
                  "Tags": params.get("Tags") or [], "_document": _document(params["PolicyDocument"])}
        if not self.platform.store.insert(POLICIES, arn, policy):
            raise AwsError("EntityAlreadyExists", f"A policy called {params['PolicyName']} already exists. "
                           "Duplicate names are not allowed.", status=409)
        return {"Policy": self._public(policy)}

    def get_policy(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        policy = self.platform.store.get(POLICIES, params["PolicyArn"])
        if policy is None:
            raise AwsError("NoSuchEntity", f"Policy {params['PolicyArn']} was not found.", status=404)
        return {"Policy": self._public(policy)}

    def delete_policy(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        if not self.platform.store.delete(POLICIES, params["PolicyArn"]):
            raise AwsError("NoSuchEntity", f"Policy {params['PolicyArn']} was not found.", status=404)
        return {}

    def list_policies(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        prefix = f"arn:aws:iam::{context.account_id}:"
        policies = [self._public(p) for _, p in self.platform.store.scan(POLICIES, prefix)]
        return {"Policies": policies, "IsTruncated": False}
