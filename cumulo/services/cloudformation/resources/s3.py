"""AWS::S3::Bucket: a bucket and its configurations, from CloudFormation's property shapes to
the S3 API's (notifications, versioning, CORS, lifecycle, encryption, public access block,
website, ownership, Object Lock, ACL, tags).

Notification destinations are checked when the configuration is put (as S3 does), so a bucket
that names a function waits for the function's permission in templates: SAM's ``Events: Type:
S3`` emits the permission without the bucket's ARN and a ``DependsOn`` from the bucket to it,
which breaks the circle bucket -> function -> permission -> bucket.
"""

from __future__ import annotations

from typing import Any

from cumulo.services.cloudformation.resources.base import (
    Deployed,
    ResourceContext,
    ResourceHandler,
    as_bool,
    as_int,
    tags_map,
)

_KINDS = (("LambdaConfigurations", "LambdaFunctionConfigurations", "Function", "LambdaFunctionArn"),
          ("QueueConfigurations", "QueueConfigurations", "Queue", "QueueArn"),
          ("TopicConfigurations", "TopicConfigurations", "Topic", "TopicArn"))


def _filter(template: dict[str, Any] | None) -> dict[str, Any] | None:
    rules = ((template or {}).get("S3Key") or {}).get("Rules")
    return {"Key": {"FilterRules": [{"Name": r["Name"], "Value": r["Value"]} for r in rules]}} if rules else None


def notification_configuration(props: dict[str, Any] | None) -> dict[str, Any]:
    """CloudFormation's NotificationConfiguration as PutBucketNotificationConfiguration takes it."""
    out: dict[str, Any] = {}
    for template_kind, api_kind, template_arn, api_arn in _KINDS:
        entries = []
        for entry in (props or {}).get(template_kind) or []:
            converted = {api_arn: entry[template_arn], "Events": [entry["Event"]]}
            if _filter(entry.get("Filter")):
                converted["Filter"] = _filter(entry.get("Filter"))
            entries.append(converted)
        if entries:
            out[api_kind] = entries
    if as_bool(((props or {}).get("EventBridgeConfiguration") or {}).get("EventBridgeEnabled")):
        out["EventBridgeConfiguration"] = {}
    return out


def _lifecycle_rule(rule: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"Status": rule.get("Status", "Enabled")}
    if rule.get("Id"):
        out["ID"] = rule["Id"]
    prefix, tags = rule.get("Prefix"), rule.get("TagFilters")
    if tags:
        and_filter: dict[str, Any] = {"Tags": [{"Key": t["Key"], "Value": t["Value"]} for t in tags]}
        if prefix:
            and_filter["Prefix"] = prefix
        out["Filter"] = {"And": and_filter} if prefix or len(tags) > 1 else {"Tag": and_filter["Tags"][0]}
    else:
        out["Filter"] = {"Prefix": prefix or ""}
    expiration: dict[str, Any] = {}
    if rule.get("ExpirationInDays") is not None:
        expiration["Days"] = as_int(rule["ExpirationInDays"])
    if rule.get("ExpirationDate"):
        expiration["Date"] = rule["ExpirationDate"]
    if rule.get("ExpiredObjectDeleteMarker") is not None:
        expiration["ExpiredObjectDeleteMarker"] = as_bool(rule["ExpiredObjectDeleteMarker"])
    if expiration:
        out["Expiration"] = expiration
    noncurrent = dict(rule.get("NoncurrentVersionExpiration") or {})
    if rule.get("NoncurrentVersionExpirationInDays") is not None:
        noncurrent["NoncurrentDays"] = rule["NoncurrentVersionExpirationInDays"]
    if noncurrent:
        out["NoncurrentVersionExpiration"] = {k: as_int(v) for k, v in noncurrent.items()}
    if rule.get("AbortIncompleteMultipartUpload"):
        out["AbortIncompleteMultipartUpload"] = {"DaysAfterInitiation": as_int(
            rule["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"])}
    transitions = [{"StorageClass": t["StorageClass"], **({"Days": as_int(t["TransitionInDays"])}
                                                          if t.get("TransitionInDays") is not None else {})}
                   for t in rule.get("Transitions") or []]
    if transitions:
        out["Transitions"] = transitions
    return out


def _cors_rule(rule: dict[str, Any]) -> dict[str, Any]:
    names = {"AllowedHeaders": "AllowedHeaders", "AllowedMethods": "AllowedMethods", "AllowedOrigins": "AllowedOrigins",
             "ExposedHeaders": "ExposeHeaders", "Id": "ID", "MaxAge": "MaxAgeSeconds"}
    return {api: (as_int(rule[template]) if template == "MaxAge" else rule[template])
            for template, api in names.items() if rule.get(template) is not None}


def _website(props: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if props.get("IndexDocument"):
        out["IndexDocument"] = {"Suffix": props["IndexDocument"]}
    if props.get("ErrorDocument"):
        out["ErrorDocument"] = {"Key": props["ErrorDocument"]}
    if props.get("RedirectAllRequestsTo"):
        out["RedirectAllRequestsTo"] = props["RedirectAllRequestsTo"]
    if props.get("RoutingRules"):
        out["RoutingRules"] = [{"Condition": r.get("RoutingRuleCondition"), "Redirect": r["RedirectRule"]}
                               for r in props["RoutingRules"]]
    return out


def _encryption(props: dict[str, Any]) -> dict[str, Any]:
    rules = []
    for rule in props.get("ServerSideEncryptionConfiguration") or []:
        default = rule.get("ServerSideEncryptionByDefault") or {}
        converted: dict[str, Any] = {"ApplyServerSideEncryptionByDefault": {
            "SSEAlgorithm": default.get("SSEAlgorithm", "AES256"),
            **({"KMSMasterKeyID": default["KMSMasterKeyID"]} if default.get("KMSMasterKeyID") else {})}}
        if rule.get("BucketKeyEnabled") is not None:
            converted["BucketKeyEnabled"] = as_bool(rule["BucketKeyEnabled"])
        rules.append(converted)
    return {"Rules": rules}


# property -> (put operation, its parameter, converter, delete operation or None)
_CONFIGURATIONS: dict[str, tuple[str, str, Any, str | None]] = {
    "VersioningConfiguration": ("PutBucketVersioning", "VersioningConfiguration", lambda p: {"Status": p["Status"]},
                                None),
    "CorsConfiguration": ("PutBucketCors", "CORSConfiguration",
                          lambda p: {"CORSRules": [_cors_rule(r) for r in p.get("CorsRules") or []]},
                          "DeleteBucketCors"),
    "LifecycleConfiguration": ("PutBucketLifecycleConfiguration", "LifecycleConfiguration",
                               lambda p: {"Rules": [_lifecycle_rule(r) for r in p.get("Rules") or []]},
                               "DeleteBucketLifecycle"),
    "BucketEncryption": ("PutBucketEncryption", "ServerSideEncryptionConfiguration", _encryption,
                         "DeleteBucketEncryption"),
    "PublicAccessBlockConfiguration": ("PutPublicAccessBlock", "PublicAccessBlockConfiguration",
                                       lambda p: {k: as_bool(v) for k, v in p.items()}, "DeletePublicAccessBlock"),
    "WebsiteConfiguration": ("PutBucketWebsite", "WebsiteConfiguration", _website, "DeleteBucketWebsite"),
    "OwnershipControls": ("PutBucketOwnershipControls", "OwnershipControls", lambda p: p,
                          "DeleteBucketOwnershipControls"),
    "ObjectLockConfiguration": ("PutObjectLockConfiguration", "ObjectLockConfiguration", lambda p: p, None),
}


class BucketHandler(ResourceHandler):
    type = "AWS::S3::Bucket"
    replace_on = frozenset({"BucketName", "ObjectLockEnabled"})
    properties = frozenset({"BucketName", "Tags", "NotificationConfiguration", "AccessControl", "ObjectLockEnabled",
                            *_CONFIGURATIONS})

    async def create(self, ctx: ResourceContext, props: dict[str, Any]) -> Deployed:
        name = props.get("BucketName") or ctx.physical_name(63, lowercase=True)
        await ctx.call("s3", "CreateBucket", {
            "Bucket": name, "ObjectLockEnabledForBucket": as_bool(props.get("ObjectLockEnabled")),
            "CreateBucketConfiguration": None if ctx.region == "us-east-1" else {"LocationConstraint": ctx.region}})
        return await self.update(ctx, name, {}, props)

    async def update(self, ctx: ResourceContext, physical_id: str, old: dict[str, Any],
                     new: dict[str, Any]) -> Deployed:
        bucket = {"Bucket": physical_id}
        # versioning first: Object Lock and lifecycle rules on versions need it
        for name in sorted(_CONFIGURATIONS, key=lambda n: n != "VersioningConfiguration"):
            operation, parameter, convert, delete = _CONFIGURATIONS[name]
            if new.get(name) == old.get(name):
                continue
            if new.get(name) is not None:
                await ctx.call("s3", operation, {**bucket, parameter: convert(new[name])})
            elif delete:
                await ctx.call("s3", delete, bucket)
        if new.get("AccessControl") != old.get("AccessControl"):
            await ctx.call("s3", "PutBucketAcl", {**bucket, "ACL": _canned_acl(new.get("AccessControl"))})
        if new.get("Tags") != old.get("Tags"):
            tags = tags_map(new.get("Tags"))
            if tags:
                await ctx.call("s3", "PutBucketTagging", {**bucket, "Tagging": {
                    "TagSet": [{"Key": k, "Value": v} for k, v in tags.items()]}})
            else:
                await ctx.call("s3", "DeleteBucketTagging", bucket)
        if new.get("NotificationConfiguration") != old.get("NotificationConfiguration"):
            configuration = notification_configuration(new.get("NotificationConfiguration"))
            await ctx.call("s3", "PutBucketNotificationConfiguration", {
                **bucket, "NotificationConfiguration": configuration})
        host = f"{physical_id}.s3.amazonaws.com"
        return Deployed(physical_id, {
            "Arn": f"arn:aws:s3:::{physical_id}", "DomainName": host,
            "RegionalDomainName": f"{physical_id}.s3.{ctx.region}.amazonaws.com",
            "DualStackDomainName": f"{physical_id}.s3.dualstack.{ctx.region}.amazonaws.com",
            "WebsiteURL": f"http://{physical_id}.s3-website-{ctx.region}.amazonaws.com"})

    async def delete(self, ctx: ResourceContext, physical_id: str, props: dict[str, Any]) -> None:
        await ctx.call("s3", "DeleteBucket", {"Bucket": physical_id})


def _canned_acl(value: str | None) -> str:
    """CloudFormation's AccessControl names (PublicRead) as the API's canned ACLs (public-read)."""
    if not value:
        return "private"
    return "".join("-" + c.lower() if c.isupper() and i else c.lower() for i, c in enumerate(value))


HANDLERS = [BucketHandler()]
