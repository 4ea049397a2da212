"""EventBridge connections and API destinations: Create/Describe/Update/Delete/List for both,
DeauthorizeConnection.

A connection keeps the credentials an API destination authenticates with (``API_KEY``,
``BASIC`` or ``OAUTH_CLIENT_CREDENTIALS``) and the HTTP parameters added to every call. The
secret parts never leave through the API (Describe shows the key name, user name and client
id, and header/query/body parameters whose ``IsValueSecret`` is false). The build has no
Secrets Manager service yet, so the credentials are kept in EventBridge's own table
(``events.connections``); ``SecretArn`` is the ARN AWS would give the connection's secret.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from cumulo.arns import parse_arn
from cumulo.protocol.errors import AwsError
from cumulo.services.base import RequestContext
from cumulo.services.events.common import DEFAULT_LIMIT, validation_error
from cumulo.services.pagination import decode_token, encode_token

if TYPE_CHECKING:
    from cumulo.platform import Platform

CONNECTIONS, DESTINATIONS = "events.connections", "events.api_destinations"
AUTH_MEMBER = {"API_KEY": "ApiKeyAuthParameters", "BASIC": "BasicAuthParameters",
               "OAUTH_CLIENT_CREDENTIALS": "OAuthParameters"}
DEFAULT_RATE = 300
CONNECTION_TIMES = ("CreationTime", "LastModifiedTime", "LastAuthorizedTime")
DESTINATION_MEMBERS = ("ApiDestinationArn", "Name", "Description", "ApiDestinationState", "ConnectionArn",
                       "InvocationEndpoint", "HttpMethod", "InvocationRateLimitPerSecond", "CreationTime",
                       "LastModifiedTime")


def _public_parameters(parameters: dict[str, Any] | None) -> dict[str, Any] | None:
    """HTTP parameters without the values marked secret."""
    if not parameters:
        return None
    return {kind: [{k: v for k, v in item.items() if k != "Value" or not item.get("IsValueSecret")}
                   for item in items] for kind, items in parameters.items()}


def public_auth(auth: dict[str, Any]) -> dict[str, Any]:
    view: dict[str, Any] = {}
    if "ApiKeyAuthParameters" in auth:
        view["ApiKeyAuthParameters"] = {"ApiKeyName": auth["ApiKeyAuthParameters"]["ApiKeyName"]}
    if "BasicAuthParameters" in auth:
        view["BasicAuthParameters"] = {"Username": auth["BasicAuthParameters"]["Username"]}
    if "OAuthParameters" in auth:
        oauth = auth["OAuthParameters"]
        view["OAuthParameters"] = {"ClientParameters": {"ClientID": oauth["ClientParameters"]["ClientID"]},
                                   "AuthorizationEndpoint": oauth["AuthorizationEndpoint"],
                                   "HttpMethod": oauth["HttpMethod"]}
        if oauth.get("OAuthHttpParameters"):
            view["OAuthParameters"]["OAuthHttpParameters"] = _public_parameters(oauth["OAuthHttpParameters"])
    if auth.get("InvocationHttpParameters"):
        view["InvocationHttpParameters"] = _public_parameters(auth["InvocationHttpParameters"])
    return view


def _merge_auth(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """UpdateConnection: given members replace, nested credentials merge (a new ClientID keeps the secret)."""
    merged = dict(old)
    for member, value in new.items():
        if isinstance(value, dict) and isinstance(old.get(member), dict) and member != "InvocationHttpParameters":
            merged[member] = _merge_auth(old[member], value)
        else:
            merged[member] = value
    return merged


class ConnectionOperations:
    """Mixed into ``EventsProvider``."""

    platform: Platform
    forget_token: Callable[[str], None]  # ApiDestinationInvoker's
    forget_pacer: Callable[[str], None]

    def _scope(self, context: RequestContext) -> str:
        return f"{context.account_id}:{context.region}:"

    def _connection(self, context: RequestContext, name: str) -> dict[str, Any]:
        record = self.platform.store.get(CONNECTIONS, self._scope(context) + name)
        if record is None:
            raise AwsError("ResourceNotFoundException", f"Failed to describe the connection(s). Connection '{name}' "
                                                        "does not exist.")
        return record

    def connection_by_arn(self, arn: str) -> dict[str, Any] | None:
        parsed = parse_arn(arn)
        if parsed is None or not parsed.resource.startswith("connection/"):
            return None
        name = parsed.resource.split("/")[1]
        record = self.platform.store.get(CONNECTIONS, f"{parsed.account}:{parsed.region}:{name}")
        return record if record is not None and record["ConnectionArn"] == arn else None

    @staticmethod
    def _check_auth(kind: str, auth: dict[str, Any], creating: bool) -> None:
        member = AUTH_MEMBER[kind]
        others = [m for m in AUTH_MEMBER.values() if m != member and m in auth]
        if others or (creating and member not in auth):
            raise validation_error(f"Parameter AuthParameters is not valid. Reason: AuthorizationType {kind} needs "
                                   f"{member} and no other authorization parameters.")

    @staticmethod
    def _connection_times(record: dict[str, Any]) -> dict[str, Any]:
        return {m: record[m] for m in ("ConnectionArn", "ConnectionState", *CONNECTION_TIMES) if m in record}

    # ------------------------------------------------------------ connections
    def create_connection(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        name, kind, auth = params["Name"], params["AuthorizationType"], params["AuthParameters"]
        self._check_auth(kind, auth, creating=True)
        now, suffix = time.time(), str(uuid.uuid4())
        record = {"Name": name, "ConnectionArn": f"arn:aws:events:{context.region}:{context.account_id}:connection/"
                                                  f"{name}/{suffix}",
                  "SecretArn": f"arn:aws:secretsmanager:{context.region}:{context.account_id}:secret:"
                               f"events!connection/{name}/{suffix}",
                  "Description": params.get("Description"), "AuthorizationType": kind, "AuthParameters": auth,
                  "ConnectionState": "AUTHORIZED", "CreationTime": now, "LastModifiedTime": now,
                  "LastAuthorizedTime": now}
        with self.platform.store.transaction():
            if not self.platform.store.insert(CONNECTIONS, self._scope(context) + name, record):
                raise AwsError("ResourceAlreadyExistsException", f"Connection {name} already exists.")
        return {m: record[m] for m in ("ConnectionArn", "ConnectionState", "CreationTime", "LastModifiedTime")}

    def describe_connection(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        record = self._connection(context, params["Name"])
        members = ("ConnectionArn", "Name", "Description", "ConnectionState", "StateReason", "AuthorizationType",
                   "SecretArn", *CONNECTION_TIMES)
        view = {m: record[m] for m in members if record.get(m) is not None}
        view["AuthParameters"] = public_auth(record["AuthParameters"])
        return view

    def update_connection(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        with self.platform.store.transaction():
            record = self._connection(context, params["Name"])
            kind = params.get("AuthorizationType") or record["AuthorizationType"]
            auth = record["AuthParameters"]
            if kind != record["AuthorizationType"]:
                auth = {k: v for k, v in auth.items() if k not in AUTH_MEMBER.values()}
            if params.get("AuthParameters"):
                auth = _merge_auth(auth, params["AuthParameters"])
            self._check_auth(kind, auth, creating=True)
            now = time.time()
            record.update(AuthorizationType=kind, AuthParameters=auth, ConnectionState="AUTHORIZED",
                          LastModifiedTime=now, LastAuthorizedTime=now)
            if "Description" in params:
                record["Description"] = params["Description"]
            self.platform.store.put(CONNECTIONS, self._scope(context) + record["Name"], record)
        self.forget_token(record["ConnectionArn"])
        return self._connection_times(record)

    def deauthorize_connection(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        with self.platform.store.transaction():
            record = self._connection(context, params["Name"])
            record.update(ConnectionState="DEAUTHORIZED", LastModifiedTime=time.time())
            self.platform.store.put(CONNECTIONS, self._scope(context) + record["Name"], record)
        self.forget_token(record["ConnectionArn"])
        return self._connection_times(record)

    def delete_connection(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        with self.platform.store.transaction():
            record = self._connection(context, params["Name"])
            users = [d["Name"] for _, d in self.platform.store.scan(DESTINATIONS, self._scope(context))
                     if d["ConnectionArn"] == record["ConnectionArn"]]
            if users:
                raise validation_error(f"Connection {record['Name']} is used by API destination(s) "
                                       f"{', '.join(users)}.")
            self.platform.store.delete(CONNECTIONS, self._scope(context) + record["Name"])
        self.forget_token(record["ConnectionArn"])
        return {**self._connection_times(record), "ConnectionState": "DELETING"}

    def list_connections(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        rows = [r for _, r in self._page_rows(context, CONNECTIONS, params, "events-connections")
                if not params.get("ConnectionState") or r["ConnectionState"] == params["ConnectionState"]]
        return self._page(rows, params, "Connections", "events-connections", lambda r: {
            m: r[m] for m in ("ConnectionArn", "Name", "ConnectionState", "StateReason", "AuthorizationType",
                              *CONNECTION_TIMES) if r.get(m) is not None})

    # ------------------------------------------------------------ API destinations
    def _destination(self, context: RequestContext, name: str) -> dict[str, Any]:
        record = self.platform.store.get(DESTINATIONS, self._scope(context) + name)
        if record is None:
            raise AwsError("ResourceNotFoundException", "Failed to describe the api-destination(s). An "
                                                        f"api-destination '{name}' does not exist.")
        return record

    def destination_by_arn(self, arn: str) -> dict[str, Any] | None:
        parsed = parse_arn(arn)
        if parsed is None or not parsed.resource.startswith("api-destination/"):
            return None
        name = parsed.resource.split("/")[1]
        record = self.platform.store.get(DESTINATIONS, f"{parsed.account}:{parsed.region}:{name}")
        return record if record is not None and record["ApiDestinationArn"] == arn else None

    def _check_destination(self, context: RequestContext, params: dict[str, Any]) -> None:
        if params.get("ConnectionArn") and self.connection_by_arn(params["ConnectionArn"]) is None:
            raise AwsError("ResourceNotFoundException", f"Connection '{params['ConnectionArn']}' does not exist.")
        endpoint = params.get("InvocationEndpoint")
        if endpoint is not None and not endpoint.startswith(("https://", "http://")):
            raise validation_error("Parameter InvocationEndpoint is not valid. Reason: it must be an HTTP(S) URL.")

    def create_api_destination(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        self._check_destination(context, params)
        name, now = params["Name"], time.time()
        record = {"Name": name, "ApiDestinationArn": f"arn:aws:events:{context.region}:{context.account_id}:"
                                                     f"api-destination/{name}/{uuid.uuid4()}",
                  "Description": params.get("Description"), "ApiDestinationState": "ACTIVE",
                  "ConnectionArn": params["ConnectionArn"], "InvocationEndpoint": params["InvocationEndpoint"],
                  "HttpMethod": params["HttpMethod"],
                  "InvocationRateLimitPerSecond": params.get("InvocationRateLimitPerSecond") or DEFAULT_RATE,
                  "CreationTime": now, "LastModifiedTime": now}
        with self.platform.store.transaction():
            if not self.platform.store.insert(DESTINATIONS, self._scope(context) + name, record):
                raise AwsError("ResourceAlreadyExistsException", f"An api-destination '{name}' already exists.")
        return {m: record[m] for m in ("ApiDestinationArn", "ApiDestinationState", "CreationTime", "LastModifiedTime")}

    def describe_api_destination(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        record = self._destination(context, params["Name"])
        return {m: record[m] for m in DESTINATION_MEMBERS if record.get(m) is not None}

    def update_api_destination(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        self._check_destination(context, params)
        with self.platform.store.transaction():
            record = self._destination(context, params["Name"])
            for member in ("Description", "ConnectionArn", "InvocationEndpoint", "HttpMethod",
                           "InvocationRateLimitPerSecond"):
                if params.get(member) is not None:
                    record[member] = params[member]
            record["LastModifiedTime"] = time.time()
            self.platform.store.put(DESTINATIONS, self._scope(context) + record["Name"], record)
        self.forget_pacer(record["ApiDestinationArn"])
        return {m: record[m] for m in ("ApiDestinationArn", "ApiDestinationState", "CreationTime", "LastModifiedTime")}

    def delete_api_destination(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        with self.platform.store.transaction():
            record = self._destination(context, params["Name"])
            self.platform.store.delete(DESTINATIONS, self._scope(context) + record["Name"])
        self.forget_pacer(record["ApiDestinationArn"])
        return {}

    def list_api_destinations(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        rows = [r for _, r in self._page_rows(context, DESTINATIONS, params, "events-destinations")
                if not params.get("ConnectionArn") or r["ConnectionArn"] == params["ConnectionArn"]]
        return self._page(rows, params, "ApiDestinations", "events-destinations", lambda r: {
            m: r[m] for m in DESTINATION_MEMBERS if m != "Description" and r.get(m) is not None})

    # ------------------------------------------------------------ listing
    def _page_rows(self, context: RequestContext, table: str, params: dict[str, Any],
                   kind: str) -> list[tuple[str, dict[str, Any]]]:
        scope = self._scope(context)
        after = decode_token(params.get("NextToken"), kind, "ValidationException", "The NextToken provided is invalid.")
        return self.platform.store.scan(table, scope + (params.get("NamePrefix") or ""),
                                        start_after=scope + after if after else None)

    @staticmethod
    def _page(rows: list[dict[str, Any]], params: dict[str, Any], member: str, kind: str,
              view: Any) -> dict[str, Any]:
        limit = params.get("Limit") or DEFAULT_LIMIT
        result: dict[str, Any] = {member: [view(r) for r in rows[:limit]]}
        if len(rows) > limit:
            result["NextToken"] = encode_token(kind, rows[limit - 1]["Name"])
        return result
