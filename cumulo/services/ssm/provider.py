"""AWS Systems Manager's Parameter Store operations (records and checks in ``parameters.py``)."""

from __future__ import annotations

import json
import re
import time
from typing import Any

from cumulo.protocol.errors import AwsError
from cumulo.services.api_calls import ServiceUnavailable, call_api
from cumulo.services.base import Provider, RequestContext
from cumulo.services.pagination import decode_token, encode_token
from cumulo.services.ssm.parameters import (
    DEFAULT_KEY,
    MAX_LABELS,
    MAX_VERSIONS,
    TYPES,
    ParameterStore,
    check_name,
    check_policies,
    check_value,
    ciphertext,
    select,
    split_selector,
    validation,
)
from cumulo.services.ssm.parameters import not_found as parameter_not_found
from cumulo.services.tagging import TagRules, add_tags, remove_tags, tag_list, tag_map

TAG_RULES = TagRules(too_many=lambda: AwsError("TooManyTagsError", "The Tags parameter allows at most 50 tags."))
SECRET_REFERENCE = "/aws/reference/secretsmanager/"
LABEL = re.compile(r"^[A-Za-z0-9_.\-]{1,100}$")
METADATA = ("Type", "KeyId", "LastModifiedDate", "LastModifiedUser", "Description", "AllowedPattern", "Version",
            "Tier", "Policies", "DataType")


def _token(params: dict[str, Any], kind: str) -> Any:
    return decode_token(params.get("NextToken"), kind, "InvalidNextToken", "The specified token isn't valid.")


def _label_valid(label: str) -> bool:
    return bool(LABEL.match(label)) and not label[0].isdigit() and not re.match(r"^(aws|ssm)", label, re.I)


class SsmProvider(Provider):
    service = "ssm"

    def _parameters(self, context: RequestContext) -> ParameterStore:
        return ParameterStore(self.platform.store, context.account_id, context.region)

    def _answer(self, context: RequestContext, record: dict[str, Any], version: dict[str, Any],
                decrypt: bool, selector: str | None = None) -> dict[str, Any]:
        value = version["Value"]
        if version["Type"] == "SecureString" and not decrypt:
            value = ciphertext(record["Name"], version)
        name = record["Name"] + (f":{selector}" if selector else "")
        out = {"Name": record["Name"], "Type": version["Type"], "Value": value, "Version": version["Version"],
               "LastModifiedDate": version["LastModifiedDate"], "DataType": version["DataType"],
               "ARN": self._parameters(context).arn(record["Name"])}
        if selector:
            out["Selector"] = f":{selector}"
            out["Name"] = name.rpartition(":")[0]
        return out

    # ------------------------------------------------------------ writes
    def put_parameter(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        name, value = params["Name"], params["Value"]
        check_name(name)
        if params.get("Type") is not None and params["Type"] not in TYPES:
            raise validation(f"1 validation error detected: Value '{params['Type']}' at 'type' failed to satisfy "
                             "constraint: Member must satisfy enum value set: [SecureString, StringList, String]")
        if params.get("Tags") and params.get("Overwrite"):
            raise validation("Invalid request: tags and overwrite can't be used together. To create a parameter "
                             "with tags, please remove overwrite flag. To update tags for an existing parameter, "
                             "please use AddTagsToResource or RemoveTagsFromResource.")
        parameters = self._parameters(context)
        with self.platform.store.transaction():
            record = parameters.find(name)
            if record is not None and not params.get("Overwrite"):
                raise AwsError("ParameterAlreadyExists", "The parameter already exists. To overwrite this value, "
                               "set the overwrite option in the request to true.")
            latest = record["Versions"][-1] if record else {}
            kind = params.get("Type") or latest.get("Type")
            if kind is None:
                raise validation("A parameter type is required when you create a parameter.")
            tier = params.get("Tier") or latest.get("Tier") or "Standard"
            if tier == "Intelligent-Tiering":
                tier = "Advanced" if len(value.encode()) > 4096 or params.get("Policies") else "Standard"
            if latest.get("Tier") == "Advanced" and tier == "Standard":
                raise validation("This parameter uses the advanced-parameter tier. You can't downgrade a parameter "
                                 "from the advanced-parameter tier to the standard-parameter tier.")
            pattern = params.get("AllowedPattern", latest.get("AllowedPattern"))
            data_type = params.get("DataType") or latest.get("DataType") or "text"
            check_value(value, tier, pattern, data_type)
            policies = check_policies(params.get("Policies"), tier) if params.get("Policies") is not None \
                else latest.get("Policies", [])
            tags = tag_map(params.get("Tags"))
            TAG_RULES.check(tags)
            if record is None:
                record = {"Name": name, "Tags": tags, "Versions": []}
            number = (latest.get("Version") or 0) + 1
            version = {"Version": number, "Value": value, "Type": kind, "Tier": tier, "DataType": data_type,
                       "Description": params.get("Description", latest.get("Description")),
                       "AllowedPattern": pattern, "Policies": policies, "Labels": [],
                       "KeyId": (params.get("KeyId") or latest.get("KeyId") or DEFAULT_KEY)
                       if kind == "SecureString" else None,
                       "LastModifiedDate": time.time(),
                       "LastModifiedUser": f"arn:aws:iam::{context.account_id}:root"}
            if len(record["Versions"]) >= MAX_VERSIONS:
                if record["Versions"][0]["Labels"]:
                    raise AwsError("ParameterMaxVersionLimitExceeded",
                                   f"You attempted to create a new version of {name} by calling the PutParameter "
                                   "API with the overwrite flag. Version 1, the oldest version, can't be deleted "
                                   "because it has a label associated with it. Move the label to another version "
                                   "of the parameter, and try again.")
                record["Versions"].pop(0)
            record["Versions"].append(version)
            parameters.save(record)
        return {"Version": number, "Tier": tier}

    def delete_parameter(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        if not self._parameters(context).remove(params["Name"]):
            raise parameter_not_found()
        return {}

    def delete_parameters(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        parameters = self._parameters(context)
        deleted, invalid = [], []
        with self.platform.store.transaction():
            for name in params["Names"]:
                (deleted if parameters.remove(name) else invalid).append(name)
        return {"DeletedParameters": deleted, "InvalidParameters": invalid}

    def label_parameter_version(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        parameters = self._parameters(context)
        with self.platform.store.transaction():
            record = parameters.get(params["Name"])
            number = params.get("ParameterVersion") or record["Versions"][-1]["Version"]
            version = select(record, str(number))
            invalid = [label for label in params["Labels"] if not _label_valid(label)]
            valid = [label for label in params["Labels"] if _label_valid(label)]
            if len(set(version["Labels"]) | set(valid)) > MAX_LABELS:
                raise AwsError("ParameterVersionLabelLimitExceeded", "A parameter version can have maximum 10 "
                               "labels. Move one or more labels to another version and try again.")
            for label in valid:
                for other in record["Versions"]:
                    if label in other["Labels"]:
                        other["Labels"].remove(label)
                version["Labels"].append(label)
            parameters.save(record)
        return {"InvalidLabels": invalid, "ParameterVersion": version["Version"]}

    def unlabel_parameter_version(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        parameters = self._parameters(context)
        with self.platform.store.transaction():
            record = parameters.get(params["Name"])
            version = select(record, str(params["ParameterVersion"]))
            removed = [label for label in params["Labels"] if label in version["Labels"]]
            version["Labels"] = [label for label in version["Labels"] if label not in removed]
            parameters.save(record)
        return {"RemovedLabels": removed, "InvalidLabels": [x for x in params["Labels"] if x not in removed]}

    # ------------------------------------------------------------ reads
    async def get_parameter(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        if params["Name"].startswith(SECRET_REFERENCE):
            return {"Parameter": await self._secret_reference(context, params)}
        name, selector = split_selector(params["Name"])
        record = self._parameters(context).get(name)
        version = select(record, selector)
        return {"Parameter": self._answer(context, record, version, params.get("WithDecryption", False), selector)}

    async def _secret_reference(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        """``/aws/reference/secretsmanager/<secret>``: a secret read through Parameter Store, as AWS allows."""
        if not params.get("WithDecryption"):
            raise validation("WithDecryption flag must be True for retrieving a Secret Value from Secrets Manager")
        secret_id = params["Name"][len(SECRET_REFERENCE):]
        try:
            secret = await call_api(self.platform, "secretsmanager", "GetSecretValue", {"SecretId": secret_id},
                                    account=context.account_id, region=context.region)
        except (AwsError, ServiceUnavailable) as exc:
            raise parameter_not_found() from exc
        source = {k: v for k, v in secret.items() if k in ("ARN", "Name", "VersionId", "VersionStages")}
        return {"Name": params["Name"], "Type": "SecureString", "Value": secret.get("SecretString", ""),
                "Version": 0, "SourceResult": json.dumps({**source, "SecretString": secret.get("SecretString")}),
                "LastModifiedDate": secret["CreatedDate"], "ARN": secret["ARN"], "DataType": "text"}

    def get_parameters(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        parameters = self._parameters(context)
        found, invalid = [], []
        for reference in params["Names"]:
            name, selector = split_selector(reference)
            record = parameters.find(name)
            try:
                if record is None:
                    raise parameter_not_found()
                version = select(record, selector)
            except AwsError:
                invalid.append(reference)
                continue
            found.append(self._answer(context, record, version, params.get("WithDecryption", False), selector))
        return {"Parameters": found, "InvalidParameters": invalid}

    def get_parameters_by_path(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        path = params["Path"]
        if not path.startswith("/"):
            raise validation("The parameter doesn't meet the parameter name requirements. The parameter name "
                             "must begin with a forward slash \"/\".")
        prefix = path if path.endswith("/") else path + "/"
        limit = params.get("MaxResults") or 10
        after = _token(params, "by-path")
        recursive = params.get("Recursive", False)
        filters = params.get("ParameterFilters") or []
        for item in filters:
            if item["Key"] not in ("Type", "KeyId", "Label"):
                raise AwsError("InvalidFilterKey", f"The following filter key is not valid: {item['Key']}. Valid "
                               "filter keys include: [Type, KeyId, Label].")
        answered, last = [], None
        for record in self._parameters(context).scan(prefix, after):
            if not recursive and "/" in record["Name"][len(prefix):]:
                continue
            if not _filtered(record, filters):
                continue
            if len(answered) == limit:
                return {"Parameters": answered, "NextToken": encode_token("by-path", last)}
            answered.append(self._answer(context, record, record["Versions"][-1], params.get("WithDecryption", False)))
            last = record["Name"]
        return {"Parameters": answered}

    def describe_parameters(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        limit = params.get("MaxResults") or 50
        after = _token(params, "describe")
        filters = list(params.get("ParameterFilters") or [])
        for item in params.get("Filters") or []:
            filters.append({"Key": item["Key"], "Values": item["Values"],
                            "Option": "BeginsWith" if item["Key"] == "Name" else "Equals"})
        described, last = [], None
        for record in self._parameters(context).scan("", after):
            if not _filtered(record, filters):
                continue
            if len(described) == limit:
                return {"Parameters": described, "NextToken": encode_token("describe", last)}
            latest = record["Versions"][-1]
            entry = {"Name": record["Name"], "ARN": self._parameters(context).arn(record["Name"])}
            entry.update({key: latest[key] for key in METADATA if latest.get(key) not in (None, "")})
            entry["Policies"] = latest["Policies"]
            described.append(entry)
            last = record["Name"]
        return {"Parameters": described}

    def get_parameter_history(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        record = self._parameters(context).get(params["Name"])
        limit = params.get("MaxResults") or 50
        start = _token(params, "history") or 0
        decrypt = params.get("WithDecryption", False)
        history = []
        for version in record["Versions"][start:start + limit]:
            entry = {"Name": record["Name"], **{key: version[key] for key in METADATA
                                                if version.get(key) not in (None, "")}}
            entry["Value"] = version["Value"] if version["Type"] != "SecureString" or decrypt \
                else ciphertext(record["Name"], version)
            entry["Labels"] = list(version["Labels"])
            entry["Policies"] = version["Policies"]
            history.append(entry)
        more = start + limit < len(record["Versions"])
        return {"Parameters": history, **({"NextToken": encode_token("history", start + limit)} if more else {})}

    # ------------------------------------------------------------ tags
    def _tagged(self, context: RequestContext, params: dict[str, Any]) -> tuple[ParameterStore, dict[str, Any]]:
        if params["ResourceType"] != "Parameter":
            raise AwsError("InvalidResourceType", "The resource type isn't valid. Cumulo keeps tags on parameters.")
        parameters = self._parameters(context)
        record = parameters.find(params["ResourceId"])
        if record is None:
            raise AwsError("InvalidResourceId", "The resource ID isn't valid. Verify that you entered the correct "
                           "ID and try again.")
        return parameters, record

    def add_tags_to_resource(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        with self.platform.store.transaction():
            parameters, record = self._tagged(context, params)
            add_tags(record, tag_map(params["Tags"]), TAG_RULES, field="Tags")
            parameters.save(record)
        return {}

    def remove_tags_from_resource(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        with self.platform.store.transaction():
            parameters, record = self._tagged(context, params)
            remove_tags(record, params["TagKeys"], field="Tags")
            parameters.save(record)
        return {}

    def list_tags_for_resource(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        _, record = self._tagged(context, params)
        return {"TagList": tag_list(record["Tags"])}


def _name_matches(name: str, option: str, value: str) -> bool:
    bare, wanted = name.lstrip("/"), value.lstrip("/")
    if option == "Equals":
        return bare == wanted
    if option == "BeginsWith":
        return bare.startswith(wanted)
    if option == "Contains":
        return value in name
    raise AwsError("InvalidFilterOption", f"The option {option} isn't valid for the Name filter.")


def _filtered(record: dict[str, Any], filters: list[dict[str, Any]]) -> bool:
    """ParameterFilters (Name, Path, Type, KeyId, Label, Tier, DataType, tag:<key>): all must match."""
    latest = record["Versions"][-1]
    name = record["Name"]
    for item in filters:
        key, option, values = item["Key"], item.get("Option") or "Equals", item.get("Values") or []
        if key == "Name":
            ok = any(_name_matches(name, option, value) for value in values)
        elif key == "Path":
            ok = False
            for value in values:
                prefix = value if value.endswith("/") else value + "/"
                rest = name[len(prefix):] if name.startswith(prefix) else None
                ok = ok or (rest is not None and (option == "Recursive" or "/" not in rest))
        elif key == "Label":
            ok = any(label in version["Labels"] for version in record["Versions"] for label in values)
        elif key.startswith("tag:"):
            tag = key[4:]
            ok = tag in record["Tags"] and (not values or record["Tags"][tag] in values)
        elif key in ("Type", "KeyId", "Tier", "DataType"):
            ok = latest.get(key) in values
        else:
            raise AwsError("InvalidFilterKey", f"The following filter key is not valid: {key}.")
        if not ok:
            return False
    return True
