"""AWS Secrets Manager's operations (see ``secrets.py`` for the records, ``rotation.py`` for rotation)."""

from __future__ import annotations

import base64
import json
import time
import uuid
from typing import TYPE_CHECKING, Any

from cumulo.protocol.errors import AwsError
from cumulo.services.base import Provider, RequestContext
from cumulo.services.pagination import decode_token, encode_token
from cumulo.services.secretsmanager.passwords import random_password
from cumulo.services.secretsmanager.rotation import Rotations, check_rules
from cumulo.services.secretsmanager.secrets import (
    CURRENT,
    NAME,
    SecretStore,
    add_version,
    invalid,
    move_stage,
    same_value,
    select_version,
    stages_map,
)
from cumulo.services.tagging import TagRules, add_tags, remove_tags, tag_list, tag_map

if TYPE_CHECKING:
    from cumulo.platform import Platform

DESCRIBED = ("ARN", "Name", "Description", "KmsKeyId", "RotationEnabled", "RotationLambdaARN", "RotationRules",
             "LastRotatedDate", "LastChangedDate", "LastAccessedDate", "DeletedDate", "NextRotationDate",
             "CreatedDate")
TAG_RULES = TagRules(too_many=lambda: invalid("You can't have more than 50 tags on a secret."))
FILTER_KEYS = {"description", "name", "tag-key", "tag-value", "primary-region", "owning-service", "all"}


def _check_value(params: dict[str, Any]) -> None:
    if params.get("SecretString") is not None and params.get("SecretBinary") is not None:
        raise invalid("You can't specify both a binary secret value and a string secret value in the same secret.")


def _value_members(version_id: str, version: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"VersionId": version_id, "VersionStages": list(version["Stages"]),
                           "CreatedDate": version["CreatedDate"]}
    if "Value" in version:
        out["SecretString"] = version["Value"]
    if "Binary" in version:
        out["SecretBinary"] = base64.b64decode(version["Binary"])
    return out


def _matches(record: dict[str, Any], filters: list[dict[str, Any]]) -> bool:
    """ListSecrets/BatchGetSecretValue filters: every filter must match, any of its values (prefix
    match, ``!`` negates), case-sensitive as AWS is."""
    for item in filters:
        key, values = item.get("Key"), item.get("Values") or []
        if key not in FILTER_KEYS:
            raise invalid(f"Invalid filter key: {key}")
        fields = {"description": [record.get("Description") or ""], "name": [record["Name"]],
                  "tag-key": list(record["Tags"]), "tag-value": list(record["Tags"].values()),
                  "primary-region": [], "owning-service": []}
        fields["all"] = [v for values_ in fields.values() for v in values_]
        candidates = fields[key]
        hit = False
        for value in values:
            negate = value.startswith("!")
            word = value[1:] if negate else value
            found = any(c.startswith(word) for c in candidates)
            hit = hit or (found != negate)
        if not hit:
            return False
    return True


class SecretsManagerProvider(Provider):
    service = "secretsmanager"

    def __init__(self, platform: Platform) -> None:
        super().__init__(platform)
        self.rotations = Rotations(platform)

    async def start(self) -> None:
        await self.rotations.start()

    async def stop(self) -> None:
        await self.rotations.stop()

    def _secrets(self, context: RequestContext) -> SecretStore:
        return SecretStore(self.platform.store, context.account_id, context.region)

    def _save(self, context: RequestContext, secrets: SecretStore, record: dict[str, Any]) -> None:
        secrets.save(record)
        self.rotations.plan(context.account_id, context.region, record)

    # ------------------------------------------------------------ secrets
    def create_secret(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        name = params["Name"]
        if not NAME.match(name):
            raise invalid("Invalid name. Must be a valid name containing alphanumeric characters, "
                          "or any of the following: -/_+=.@!")
        _check_value(params)
        tags = tag_map(params.get("Tags"))
        TAG_RULES.check(tags)
        secrets = self._secrets(context)
        token = params.get("ClientRequestToken") or str(uuid.uuid4())
        value, binary = params.get("SecretString"), params.get("SecretBinary")
        existing = secrets.find(name)
        if existing is not None:
            version = existing["Versions"].get(token)
            if version is not None and same_value(version, value, binary):
                return {"ARN": existing["ARN"], "Name": name, "VersionId": token}
            if existing.get("DeletedDate") is not None:
                raise AwsError("InvalidRequestException",
                               "You can't create this secret because a secret with this name is already "
                               "scheduled for deletion.")
            raise AwsError("ResourceExistsException", f"The operation failed because the secret {name} already exists.")
        now = time.time()
        record: dict[str, Any] = {"ARN": secrets.arn(name), "Name": name, "Description": params.get("Description"),
                                  "KmsKeyId": params.get("KmsKeyId"), "CreatedDate": now, "LastChangedDate": now,
                                  "Tags": tags, "Versions": {}, "_origin": now}
        out: dict[str, Any] = {"ARN": record["ARN"], "Name": name}
        if value is not None or binary is not None:
            add_version(record, token, value, binary, [CURRENT])
            out["VersionId"] = token
        if not secrets.insert(record):
            raise AwsError("ResourceExistsException", f"The operation failed because the secret {name} already exists.")
        return out

    def describe_secret(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        record = self._secrets(context).get(params["SecretId"], allow_deleted=True)
        return self._described(record)

    @staticmethod
    def _described(record: dict[str, Any]) -> dict[str, Any]:
        out = {key: record[key] for key in DESCRIBED if record.get(key) is not None}
        out["RotationEnabled"] = bool(record.get("RotationEnabled"))
        if record["Tags"]:
            out["Tags"] = tag_list(record["Tags"])
        out["VersionIdsToStages"] = stages_map(record)
        return out

    def get_secret_value(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        record = self._secrets(context).get(params["SecretId"])
        version_id, version = select_version(record, params.get("VersionId"), params.get("VersionStage"))
        return {"ARN": record["ARN"], "Name": record["Name"], **_value_members(version_id, version)}

    def batch_get_secret_value(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        ids, filters = params.get("SecretIdList"), params.get("Filters")
        if (ids is None) == (filters is None):
            raise invalid("Either 'SecretIdList' or 'Filters' must be provided, but not both.")
        secrets = self._secrets(context)
        values, errors = [], []
        if ids is not None:
            if len(ids) > 20:
                raise invalid("SecretIdList can contain at most 20 secrets.")
            for secret_id in ids:
                try:
                    record = secrets.get(secret_id)
                    version_id, version = select_version(record, None, None)
                except AwsError as exc:
                    errors.append({"SecretId": secret_id, "ErrorCode": exc.code, "Message": exc.message})
                    continue
                values.append({"ARN": record["ARN"], "Name": record["Name"], **_value_members(version_id, version)})
            return {"SecretValues": values, "Errors": errors}
        page, token = self._page(context, params, "batch", lambda r: r.get("DeletedDate") is None
                                 and _matches(r, filters or []), default_limit=20)
        for record in page:
            try:
                version_id, version = select_version(record, None, None)
            except AwsError as exc:
                errors.append({"SecretId": record["ARN"], "ErrorCode": exc.code, "Message": exc.message})
                continue
            values.append({"ARN": record["ARN"], "Name": record["Name"], **_value_members(version_id, version)})
        return {"SecretValues": values, "Errors": errors, **({"NextToken": token} if token else {})}

    def _page(self, context: RequestContext, params: dict[str, Any], kind: str, keep: Any,
              default_limit: int = 100) -> tuple[list[dict[str, Any]], str | None]:
        limit = params.get("MaxResults") or default_limit
        if not 1 <= limit <= 100:
            raise invalid("MaxResults must be between 1 and 100.")
        start = decode_token(params.get("NextToken"), kind, "InvalidNextTokenException",
                             "The NextToken value is invalid.") or 0
        records = [r for r in self._secrets(context).all() if keep(r)]
        if params.get("SortBy") == "name":
            records.sort(key=lambda r: r["Name"])
        else:
            records.sort(key=lambda r: (r["CreatedDate"], r["Name"]))
        if params.get("SortOrder") == "desc":
            records.reverse()
        page = records[start:start + limit]
        more = start + limit < len(records)
        return page, encode_token(kind, start + limit) if more else None

    def list_secrets(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        include_deleted, filters = params.get("IncludePlannedDeletion"), params.get("Filters") or []
        page, token = self._page(context, params, "list", lambda r: (include_deleted or r.get("DeletedDate") is None)
                                 and _matches(r, filters))
        listed = []
        for record in page:
            entry = self._described(record)
            entry["SecretVersionsToStages"] = entry.pop("VersionIdsToStages")
            listed.append(entry)
        return {"SecretList": listed, **({"NextToken": token} if token else {})}

    def list_secret_version_ids(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        record = self._secrets(context).get(params["SecretId"], allow_deleted=True)
        versions = sorted(record["Versions"].items(), key=lambda item: item[1]["CreatedDate"], reverse=True)
        if not params.get("IncludeDeprecated"):
            versions = [(vid, v) for vid, v in versions if v["Stages"]]
        return {"ARN": record["ARN"], "Name": record["Name"],
                "Versions": [{"VersionId": vid, "VersionStages": list(v["Stages"]), "CreatedDate": v["CreatedDate"]}
                             for vid, v in versions]}

    def put_secret_value(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        _check_value(params)
        value, binary = params.get("SecretString"), params.get("SecretBinary")
        if value is None and binary is None:
            raise invalid("You must provide either SecretString or SecretBinary.")
        secrets = self._secrets(context)
        with self.platform.store.transaction():
            record = secrets.get(params["SecretId"])
            token = params.get("ClientRequestToken") or str(uuid.uuid4())
            stages = params.get("VersionStages") or [CURRENT]
            add_version(record, token, value, binary, stages)
            self._save(context, secrets, record)
        return {"ARN": record["ARN"], "Name": record["Name"], "VersionId": token,
                "VersionStages": list(record["Versions"][token]["Stages"])}

    def update_secret(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        _check_value(params)
        secrets = self._secrets(context)
        with self.platform.store.transaction():
            record = secrets.get(params["SecretId"])
            for key in ("Description", "KmsKeyId"):
                if params.get(key) is not None:
                    record[key] = params[key]
            out = {"ARN": record["ARN"], "Name": record["Name"]}
            value, binary = params.get("SecretString"), params.get("SecretBinary")
            if value is not None or binary is not None:
                token = params.get("ClientRequestToken") or str(uuid.uuid4())
                add_version(record, token, value, binary, [CURRENT])
                out["VersionId"] = token
            record["LastChangedDate"] = time.time()
            self._save(context, secrets, record)
        return out

    def update_secret_version_stage(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        secrets = self._secrets(context)
        stage, move_to, remove_from = params["VersionStage"], params.get("MoveToVersionId"), \
            params.get("RemoveFromVersionId")
        with self.platform.store.transaction():
            record = secrets.get(params["SecretId"])
            for version_id in (move_to, remove_from):
                if version_id is not None and version_id not in record["Versions"]:
                    raise invalid(f"Secrets Manager can't find the specified secret version: {version_id}")
            holder = next((vid for vid, v in record["Versions"].items() if stage in v["Stages"]), None)
            if holder is not None and holder != move_to and holder != remove_from:
                raise invalid(f"The staging label {stage} is currently attached to version {holder}, but you "
                              "didn't specify that version as the RemoveFromVersionId.")
            if remove_from is not None and holder != remove_from:
                raise invalid(f"The staging label {stage} isn't attached to version {remove_from}.")
            if move_to is None and stage == CURRENT:
                raise invalid("You can't remove the staging label AWSCURRENT without moving it to another version.")
            move_stage(record, stage, move_to)
            record["LastChangedDate"] = time.time()
            self._save(context, secrets, record)
        return {"ARN": record["ARN"], "Name": record["Name"]}

    def delete_secret(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        window, force = params.get("RecoveryWindowInDays"), params.get("ForceDeleteWithoutRecovery")
        if window is not None and force:
            raise invalid("You can't use ForceDeleteWithoutRecovery in conjunction with RecoveryWindowInDays.")
        if window is not None and not 7 <= window <= 30:
            raise invalid("The RecoveryWindowInDays value must be between 7 and 30 days (inclusive).")
        secrets = self._secrets(context)
        with self.platform.store.transaction():
            record = secrets.get(params["SecretId"], allow_deleted=True)
            now = time.time()
            if force:
                secrets.remove(record["Name"])
                record["_purge_at"] = None
                record.pop("_rotate_at", None)
                self.rotations.plan(context.account_id, context.region, record)
                return {"ARN": record["ARN"], "Name": record["Name"], "DeletionDate": now}
            if record.get("DeletedDate") is not None:
                raise AwsError("InvalidRequestException", "You can't perform this operation on the secret "
                               "because it was already scheduled for deletion.")
            days = window or 30
            clock = self.rotations.clock
            record["DeletedDate"] = now
            record["_purge_at"] = clock.now(record["_origin"]) + days * 86400
            deletion = clock.real(record["_origin"], record["_purge_at"])
            self._save(context, secrets, record)
        return {"ARN": record["ARN"], "Name": record["Name"], "DeletionDate": now + days * 86400
                if clock.speed == 1 else deletion}

    def restore_secret(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        secrets = self._secrets(context)
        with self.platform.store.transaction():
            record = secrets.get(params["SecretId"], allow_deleted=True)
            record.pop("DeletedDate", None)
            record.pop("_purge_at", None)
            self._save(context, secrets, record)
        return {"ARN": record["ARN"], "Name": record["Name"]}

    def get_random_password(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return {"RandomPassword": random_password(params)}

    # ------------------------------------------------------------ rotation
    def rotate_secret(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        secrets = self._secrets(context)
        token = params.get("ClientRequestToken") or str(uuid.uuid4())
        with self.platform.store.transaction():
            record = secrets.get(params["SecretId"])
            if params.get("RotationLambdaARN"):
                record["RotationLambdaARN"] = params["RotationLambdaARN"]
            if params.get("RotationRules"):
                check_rules(params["RotationRules"])
                record["RotationRules"] = {k: v for k, v in params["RotationRules"].items() if v is not None}
            if not record.get("RotationLambdaARN"):
                raise AwsError("InvalidRequestException",
                               "No Lambda rotation function ARN is associated with this secret.")
            record["RotationEnabled"] = True
            self.rotations.schedule_next(record)
            immediately = params.get("RotateImmediately", True)
            if immediately and self.rotations.running(context.account_id, context.region, record["Name"]):
                raise AwsError("InvalidRequestException",
                               "A previous rotation isn't complete. That rotation will be reattempted.")
            if immediately:
                token = self.rotations.begin(secrets, record, token)
            self._save(context, secrets, record)
        if immediately:
            self.platform.spawn(self.rotations.rotate(context.account_id, context.region, record["Name"], token),
                                name=f"rotate {record['Name']}")
        return {"ARN": record["ARN"], "Name": record["Name"], "VersionId": token}

    def cancel_rotate_secret(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        secrets = self._secrets(context)
        with self.platform.store.transaction():
            record = secrets.get(params["SecretId"])
            record["RotationEnabled"] = False
            self.rotations.schedule_next(record)
            pending = next((vid for vid, v in record["Versions"].items() if "AWSPENDING" in v["Stages"]), None)
            self._save(context, secrets, record)
        out = {"ARN": record["ARN"], "Name": record["Name"]}
        return {**out, "VersionId": pending} if pending else out

    # ------------------------------------------------------------ policies and tags
    def put_resource_policy(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        try:
            document = json.loads(params["ResourcePolicy"])
        except ValueError as exc:
            raise AwsError("MalformedPolicyDocumentException", "The resource policy is not valid JSON.") from exc
        if not isinstance(document, dict) or "Statement" not in document:
            raise AwsError("MalformedPolicyDocumentException", "The policy document must contain a Statement.")
        secrets = self._secrets(context)
        with self.platform.store.transaction():
            record = secrets.get(params["SecretId"])
            record["Policy"] = params["ResourcePolicy"]
            secrets.save(record)
        return {"ARN": record["ARN"], "Name": record["Name"]}

    def get_resource_policy(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        record = self._secrets(context).get(params["SecretId"], allow_deleted=True)
        out = {"ARN": record["ARN"], "Name": record["Name"]}
        return {**out, "ResourcePolicy": record["Policy"]} if record.get("Policy") else out

    def delete_resource_policy(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        secrets = self._secrets(context)
        with self.platform.store.transaction():
            record = secrets.get(params["SecretId"])
            record.pop("Policy", None)
            secrets.save(record)
        return {"ARN": record["ARN"], "Name": record["Name"]}

    def validate_resource_policy(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        try:
            document = json.loads(params["ResourcePolicy"])
        except ValueError:
            return {"PolicyValidationPassed": False, "ValidationErrors": [
                {"CheckName": "JSON_SYNTAX", "ErrorMessage": "The resource policy is not valid JSON."}]}
        passed = isinstance(document, dict) and "Statement" in document
        return {"PolicyValidationPassed": passed, "ValidationErrors": [] if passed else [
            {"CheckName": "STATEMENT", "ErrorMessage": "The policy document must contain a Statement."}]}

    def tag_resource(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        secrets = self._secrets(context)
        with self.platform.store.transaction():
            record = secrets.get(params["SecretId"])
            add_tags(record, tag_map(params["Tags"]), TAG_RULES, field="Tags")
            secrets.save(record)
        return {}

    def untag_resource(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        secrets = self._secrets(context)
        with self.platform.store.transaction():
            record = secrets.get(params["SecretId"])
            remove_tags(record, params["TagKeys"], field="Tags")
            secrets.save(record)
        return {}
