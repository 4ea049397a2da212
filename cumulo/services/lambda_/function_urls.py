"""Function URLs, the control plane: Create/Get/Update/Delete/ListFunctionUrlConfigs.

Mixed into ``LambdaProvider``. A URL belongs to the unqualified function (``$LATEST``) or to one
alias; its id is 32 lower-case letters and digits, as on AWS. The address handed out follows the
``function_url_endpoint`` setting: ``path`` (``{endpoint}/_lambda-url/{id}/``, reachable from any
client) or ``host`` (``http://{id}.lambda-url.{region}.localhost:{port}/``, for clients that resolve
``*.localhost``). Both forms are always served (``url_requests``).
"""

from __future__ import annotations

import datetime as dt
import secrets
import string
from typing import TYPE_CHECKING, Any

from cumulo.protocol.errors import AwsError
from cumulo.services.base import RequestContext
from cumulo.services.lambda_.errors import conflict
from cumulo.services.lambda_.names import LATEST, parse_function
from cumulo.services.lambda_.repository import LambdaRepository

if TYPE_CHECKING:
    from cumulo.platform import Platform

URL_PATH_PREFIX = "/_lambda-url/"
URL_HOST_MARKER = ".lambda-url."
_ID_ALPHABET = string.ascii_lowercase + string.digits
_PAGE = 50


def new_url_id() -> str:
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(32))


def function_url(settings: Any, url_id: str, region: str, base_url: str) -> str:
    """The address of a URL as a client of ``base_url`` (scheme://host:port) reaches it."""
    scheme, _, hostport = base_url.partition("://")
    if settings.function_url_endpoint == "host":
        port = hostport.rpartition(":")[2] if ":" in hostport.rsplit("]", 1)[-1] else ""
        return f"{scheme}://{url_id}{URL_HOST_MARKER}{region}.localhost" + (f":{port}" if port else "") + "/"
    return f"{scheme}://{hostport}{URL_PATH_PREFIX}{url_id}/"


def iso_now() -> str:
    """``2022-06-15T19:38:21.471Z``, the time format of function URL configurations."""
    now = dt.datetime.now(dt.UTC)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"


class FunctionUrlOperations:
    """Needs ``self.repo``/``self.platform`` of the Lambda provider."""

    platform: Platform

    def _url_target(self, context: RequestContext, params: dict[str, Any]) -> tuple[LambdaRepository, str, str]:
        """(repo, function name, qualifier) of the URL the request names; the function must exist."""
        repo: LambdaRepository = self.repo(context)  # type: ignore[attr-defined]
        ref = parse_function(params["FunctionName"], params.get("Qualifier"))
        qualifier = ref.qualifier or LATEST
        repo.function(ref.name)
        if qualifier != LATEST and repo.alias(ref.name, qualifier) is None:
            raise repo.not_found(ref.name, qualifier)
        return repo, ref.name, qualifier

    def _url_view(self, context: RequestContext, repo: LambdaRepository, name: str, qualifier: str,
                  record: dict[str, Any], *, created: bool = False) -> dict[str, Any]:
        view = {"FunctionUrl": function_url(self.platform.settings, record["UrlId"], repo.region, context.base_url),
                "FunctionArn": repo.arn(name, None if qualifier == LATEST else qualifier),
                "AuthType": record["AuthType"], "CreationTime": record["CreationTime"],
                "InvokeMode": record["InvokeMode"]}
        if record.get("Cors"):
            view["Cors"] = record["Cors"]
        if not created:
            view["LastModifiedTime"] = record["LastModifiedTime"]
        return view

    def create_function_url_config(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        repo, name, qualifier = self._url_target(context, params)
        now = iso_now()
        record = {"UrlId": new_url_id(), "Qualifier": qualifier, "AuthType": params["AuthType"],
                  "Cors": params.get("Cors") or None, "InvokeMode": params.get("InvokeMode") or "BUFFERED",
                  "CreationTime": now, "LastModifiedTime": now}
        if not repo.create_url(name, qualifier, record):
            raise conflict(f"Failed to create function url config for [functionArn = "
                           f"{repo.arn(name, None if qualifier == LATEST else qualifier)}]. Error message:  "
                           "FunctionUrlConfig exists for this Lambda function")
        return self._url_view(context, repo, name, qualifier, record, created=True)

    def _existing_url(self, repo: LambdaRepository, name: str, qualifier: str) -> dict[str, Any]:
        record = repo.url(name, qualifier)
        if record is None:
            raise AwsError("ResourceNotFoundException", "The resource you requested does not exist.",
                           fields={"Type": "User"})
        return record

    def get_function_url_config(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        repo, name, qualifier = self._url_target(context, params)
        return self._url_view(context, repo, name, qualifier, self._existing_url(repo, name, qualifier))

    def update_function_url_config(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        repo, name, qualifier = self._url_target(context, params)
        with self.platform.store.transaction():
            record = self._existing_url(repo, name, qualifier)
            if "AuthType" in params:
                record["AuthType"] = params["AuthType"]
            if "Cors" in params:
                record["Cors"] = params["Cors"] or None
            if "InvokeMode" in params:
                record["InvokeMode"] = params["InvokeMode"]
            record["LastModifiedTime"] = iso_now()
            repo.save_url(name, qualifier, record)
        return self._url_view(context, repo, name, qualifier, record)

    def delete_function_url_config(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        repo, name, qualifier = self._url_target(context, params)
        if not repo.delete_url(name, qualifier):
            raise AwsError("ResourceNotFoundException", "The resource you requested does not exist.",
                           fields={"Type": "User"})
        return {}

    def list_function_url_configs(self, context: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        repo: LambdaRepository = self.repo(context)  # type: ignore[attr-defined]
        ref = parse_function(params["FunctionName"])
        repo.function(ref.name)
        configs = [self._url_view(context, repo, ref.name, record["Qualifier"], record)
                   for record in repo.urls(ref.name)]
        start = int(params["Marker"]) if str(params.get("Marker") or "").isdigit() else 0
        size = min(int(params.get("MaxItems") or _PAGE), _PAGE)
        page = configs[start:start + size]
        result: dict[str, Any] = {"FunctionUrlConfigs": page}
        if start + size < len(configs):
            result["NextMarker"] = str(start + size)
        return result
