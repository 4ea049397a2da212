"""S3 bucket operations: create, list, head, delete, and the bucket's stored configurations.

Versioning changes how objects are written (``versions.py``); lifecycle rules are carried out
by ``lifecycle.py``; notification configurations drive ``notifications.py``. Policies, ACLs,
CORS, encryption, public access blocks, website and Object Lock settings are stored and returned
as AWS returns them (policies and ACLs are not enforced; ``--enforce-iam`` evaluates identity
policies only).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from cumulo.protocol.errors import AwsError
from cumulo.services.base import RequestContext
from cumulo.services.s3.common import (
    BUCKET_NAME,
    BUCKETS,
    OBJECTS,
    UPLOADS,
    VERSIONS,
    acl_grants,
    malformed_xml,
    now,
)

if TYPE_CHECKING:
    from cumulo.platform import Platform

DEFAULT_ENCRYPTION = {"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"},
                                 "BucketKeyEnabled": False}]}
_MISSING = {
    "Cors": ("NoSuchCORSConfiguration", "The CORS configuration does not exist"),
    "Policy": ("NoSuchBucketPolicy", "The bucket policy does not exist"),
    "Lifecycle": ("NoSuchLifecycleConfiguration", "The lifecycle configuration does not exist"),
    "PublicAccessBlock": ("NoSuchPublicAccessBlockConfiguration",
                          "The public access block configuration was not found"),
    "Website": ("NoSuchWebsiteConfiguration", "The specified bucket does not have a website configuration"),
    "ObjectLock": ("ObjectLockConfigurationNotFoundError", "Object Lock configuration does not exist for this bucket"),
    "Ownership": ("OwnershipControlsNotFoundError", "The bucket ownership controls were not found"),
}


def valid_bucket_name(name: str) -> bool:
    return bool(BUCKET_NAME.match(name))


class BucketOperations:
    platform: Platform
    _bucket: Callable[[str], dict[str, Any]]  # from ObjectOperations


    def _set(self, name: str, field: str, value: Any) -> None:
        with self.platform.store.transaction():
            bucket = self._bucket(name)
            if value is None:
                bucket.pop(field, None)
            else:
                bucket[field] = value
            self.platform.store.put(BUCKETS, name, bucket)

    def _get(self, name: str, field: str) -> Any:
        value = self._bucket(name).get(field)
        if value is None:
            code, message = _MISSING[field]
            raise AwsError(code, message, status=404, fields={"BucketName": name})
        return value

    # ------------------------------------------------------------ life cycle of a bucket
    def create_bucket(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        name = params["Bucket"]
        if not valid_bucket_name(name):
            raise AwsError("InvalidBucketName", "The specified bucket is not valid.", fields={"BucketName": name})
        constraint = (params.get("CreateBucketConfiguration") or {}).get("LocationConstraint")
        region = constraint or "us-east-1"
        if region != context.region:
            raise AwsError("IllegalLocationConstraintException",
                           f"The {constraint or 'unspecified'} location constraint is incompatible for the region "
                           "specific endpoint this request was sent to.")
        store = self.platform.store
        with store.transaction():
            existing = store.get(BUCKETS, name)
            if existing is not None:
                if existing["Account"] == context.account_id:
                    raise AwsError("BucketAlreadyOwnedByYou", "Your previous request to create the named bucket "
                                   "succeeded and you already own it.", status=409, fields={"BucketName": name})
                raise AwsError("BucketAlreadyExists", "The requested bucket name is not available. The bucket "
                               "namespace is shared by all users of the system. Please select a different name and "
                               "try again.", status=409, fields={"BucketName": name})
            bucket: dict[str, Any] = {"Name": name, "CreationDate": now().isoformat(), "Region": region,
                                      "Account": context.account_id, "Tags": []}
            if params.get("ObjectLockEnabledForBucket"):
                bucket["Versioning"] = "Enabled"
                bucket["ObjectLock"] = {"ObjectLockEnabled": "Enabled"}
            if params.get("ACL"):
                bucket["Acl"] = {"Canned": params["ACL"]}
            if params.get("ObjectOwnership"):
                bucket["Ownership"] = {"Rules": [{"ObjectOwnership": params["ObjectOwnership"]}]}
            store.put(BUCKETS, name, bucket)
        return {"Location": f"/{name}", "BucketArn": f"arn:aws:s3:::{name}"}

    def head_bucket(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        bucket = self.platform.store.get(BUCKETS, params["Bucket"])
        if bucket is None:
            raise AwsError("NotFound", "Not Found", status=404)
        return {"BucketRegion": bucket["Region"], "BucketArn": f"arn:aws:s3:::{bucket['Name']}"}

    def get_bucket_location(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        region = self._bucket(params["Bucket"])["Region"]
        return {"LocationConstraint": None if region == "us-east-1" else region}

    def list_buckets(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        buckets = [b for _, b in self.platform.store.scan(BUCKETS) if b["Account"] == context.account_id]
        if params.get("Prefix"):
            buckets = [b for b in buckets if b["Name"].startswith(params["Prefix"])]
        if params.get("BucketRegion"):
            buckets = [b for b in buckets if b["Region"] == params["BucketRegion"]]
        return {"Buckets": [{"Name": b["Name"], "CreationDate": b["CreationDate"], "BucketRegion": b["Region"],
                             "BucketArn": f"arn:aws:s3:::{b['Name']}"} for b in buckets],
                "Owner": {"ID": context.account_id, "DisplayName": "cumulo"}}

    def delete_bucket(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        name = params["Bucket"]
        store = self.platform.store
        with store.transaction():
            self._bucket(name)
            if (store.scan(OBJECTS, f"{name}\x00", limit=1) or store.scan(VERSIONS, f"{name}\x00", limit=1)
                    or any(u["Bucket"] == name for _, u in store.scan(UPLOADS))):
                raise AwsError("BucketNotEmpty", "The bucket you tried to delete is not empty", status=409,
                               fields={"BucketName": name})
            store.delete(BUCKETS, name)
        return {}

    # ------------------------------------------------------------ tagging
    def put_bucket_tagging(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        tags = params["Tagging"]["TagSet"]
        if len({t["Key"] for t in tags}) != len(tags):
            raise AwsError("InvalidTag", "Cannot provide multiple Tags with the same key")
        self._set(params["Bucket"], "Tags", tags)
        return {}

    def get_bucket_tagging(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        tags = self._bucket(params["Bucket"]).get("Tags")
        if not tags:
            raise AwsError("NoSuchTagSet", "The TagSet does not exist", status=404,
                           fields={"BucketName": params["Bucket"]})
        return {"TagSet": tags}

    def delete_bucket_tagging(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        self._set(params["Bucket"], "Tags", [])
        return {}

    # ------------------------------------------------------------ versioning
    def put_bucket_versioning(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        status = params["VersioningConfiguration"].get("Status")
        if status not in ("Enabled", "Suspended"):
            raise malformed_xml()
        bucket = self._bucket(params["Bucket"])
        if status == "Suspended" and bucket.get("ObjectLock"):
            raise AwsError("InvalidBucketState", "An Object Lock configuration is present on this bucket, so the "
                           "versioning state cannot be changed.", status=409)
        self._set(params["Bucket"], "Versioning", status)
        return {}

    def get_bucket_versioning(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        status = self._bucket(params["Bucket"]).get("Versioning")
        return {"Status": status, "MFADelete": "Disabled"} if status else {}

    # ------------------------------------------------------------ stored configurations
    def put_bucket_cors(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        rules = params["CORSConfiguration"].get("CORSRules") or []
        if not rules or len(rules) > 100:
            raise malformed_xml()
        for rule in rules:
            for method in rule.get("AllowedMethods") or []:
                if method not in ("GET", "PUT", "POST", "DELETE", "HEAD"):
                    raise AwsError("InvalidRequest", f"Found unsupported HTTP method in CORS config. Unsupported "
                                   f"method is {method}")
        self._set(params["Bucket"], "Cors", rules)
        return {}

    def get_bucket_cors(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return {"CORSRules": self._get(params["Bucket"], "Cors")}

    def delete_bucket_cors(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        self._set(params["Bucket"], "Cors", None)
        return {}

    def put_bucket_policy(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        text = params["Policy"]
        try:
            document = json.loads(text)
        except ValueError as exc:
            raise AwsError("MalformedPolicy", "Policies must be valid JSON and the first byte must be '{'") from exc
        if not isinstance(document, dict) or not document.get("Statement"):
            raise AwsError("MalformedPolicy", "Missing required field Statement")
        self._set(params["Bucket"], "Policy", text)
        return {}

    def get_bucket_policy(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return {"Policy": self._get(params["Bucket"], "Policy")}

    def delete_bucket_policy(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        self._set(params["Bucket"], "Policy", None)
        return {}

    def get_bucket_policy_status(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        policy = json.loads(self._get(params["Bucket"], "Policy"))
        public = any(s.get("Effect") == "Allow" and s.get("Principal") in ("*", {"AWS": "*"})
                     for s in policy.get("Statement", []) if isinstance(s, dict))
        return {"PolicyStatus": {"IsPublic": public}}

    def put_bucket_acl(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        acl = ({"Policy": params["AccessControlPolicy"]} if params.get("AccessControlPolicy")
               else {"Canned": params.get("ACL") or "private"})
        self._set(params["Bucket"], "Acl", acl)
        return {}

    def get_bucket_acl(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return acl_grants(self._bucket(params["Bucket"]).get("Acl"), {"ID": context.account_id,
                                                                      "DisplayName": "cumulo"})

    def put_bucket_lifecycle_configuration(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        rules = (params.get("LifecycleConfiguration") or {}).get("Rules") or []
        if not rules:
            raise malformed_xml()
        for rule in rules:
            if rule.get("Status") not in ("Enabled", "Disabled"):
                raise malformed_xml()
        if len({r.get("ID") for r in rules if r.get("ID")}) != len([r for r in rules if r.get("ID")]):
            raise AwsError("InvalidArgument", "Rule ID must be unique. Found same ID for more than one rule")
        self._set(params["Bucket"], "Lifecycle", rules)
        return {}

    def get_bucket_lifecycle_configuration(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return {"Rules": self._get(params["Bucket"], "Lifecycle")}

    def delete_bucket_lifecycle(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        self._set(params["Bucket"], "Lifecycle", None)
        return {}

    def put_bucket_encryption(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        self._set(params["Bucket"], "Encryption", params["ServerSideEncryptionConfiguration"])
        return {}

    def get_bucket_encryption(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return {"ServerSideEncryptionConfiguration": self._bucket(params["Bucket"]).get("Encryption")
                or DEFAULT_ENCRYPTION}

    def delete_bucket_encryption(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        self._set(params["Bucket"], "Encryption", None)
        return {}

    def put_public_access_block(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        self._set(params["Bucket"], "PublicAccessBlock", params["PublicAccessBlockConfiguration"])
        return {}

    def get_public_access_block(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return {"PublicAccessBlockConfiguration": self._get(params["Bucket"], "PublicAccessBlock")}

    def delete_public_access_block(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        self._set(params["Bucket"], "PublicAccessBlock", None)
        return {}

    def put_bucket_ownership_controls(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        self._set(params["Bucket"], "Ownership", params["OwnershipControls"])
        return {}

    def get_bucket_ownership_controls(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return {"OwnershipControls": self._get(params["Bucket"], "Ownership")}

    def delete_bucket_ownership_controls(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        self._set(params["Bucket"], "Ownership", None)
        return {}

    def put_bucket_website(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        website = params["WebsiteConfiguration"]
        if not website.get("IndexDocument") and not website.get("RedirectAllRequestsTo"):
            raise AwsError("InvalidArgument", "A value for IndexDocument Suffix must be provided if "
                           "RedirectAllRequestsTo is empty")
        self._set(params["Bucket"], "Website", website)
        return {}

    def get_bucket_website(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return dict(self._get(params["Bucket"], "Website"))

    def delete_bucket_website(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        self._set(params["Bucket"], "Website", None)
        return {}

    def put_object_lock_configuration(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        bucket = self._bucket(params["Bucket"])
        if bucket.get("Versioning") != "Enabled":
            raise AwsError("InvalidBucketState", "Versioning must be 'Enabled' on the bucket to apply a Object Lock "
                           "configuration", status=409)
        self._set(params["Bucket"], "ObjectLock", params.get("ObjectLockConfiguration") or {})
        return {}

    def get_object_lock_configuration(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return {"ObjectLockConfiguration": self._get(params["Bucket"], "ObjectLock")}
