"""Where roles and managed policies are kept, and what the platform reads of a role.

The IAM provider (``cumulo/services/iam/``) is the API over the ``iam.roles`` and
``iam.policies`` tables; the platform itself reads them too (a role's id when minting a
function's credentials, its identity-based policies when enforcing IAM), through these functions.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import unquote

from cumulo.iam.aws_managed import aws_managed_document
from cumulo.store.base import Store

ROLES, POLICIES = "iam.roles", "iam.policies"


def role_key(account: str, role_name: str) -> str:
    return f"{account}:{role_name}"


def find_role(store: Store, role_arn: str) -> dict[str, Any] | None:
    """The stored role an ARN (``arn:aws:iam::ACCOUNT:role[/path]/NAME``) names, or None."""
    parts = role_arn.split(":", 5)
    if len(parts) != 6 or not parts[5].startswith("role/"):
        return None
    return store.get(ROLES, role_key(parts[4], parts[5].rsplit("/", 1)[-1]))


def role_policy_documents(store: Store, role_arn: str) -> list[dict[str, Any]]:
    """The role's inline policies and attached managed policies, parsed (empty for an unknown role).

    Attached AWS managed policies count as far as IAM knows their documents
    (:mod:`cumulo.iam.aws_managed`).
    """
    role = find_role(store, role_arn)
    if role is None:
        return []
    documents = [json.loads(unquote(text)) for text in role["_inline"].values()]
    for policy_arn in role["_attached"]:
        managed = store.get(POLICIES, policy_arn)
        if managed is not None:
            documents.append(json.loads(unquote(managed["_document"])))
        elif (known := aws_managed_document(policy_arn)) is not None:
            documents.append(known)
    return documents
