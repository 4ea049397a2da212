"""Where Lambda's resources live in the store, and how they are found by name, ARN and qualifier.

Tables (keys are scoped by ``account:region:``):

* ``lambda.functions``  ``name`` -> the function: $LATEST configuration, code, tags, policies,
  reserved concurrency, last published version number;
* ``lambda.versions``   ``name:00000001`` -> a published version's configuration and code;
* ``lambda.aliases``    ``name:alias`` -> alias configuration;
* ``lambda.layers``     ``layer:00000001`` -> a layer version; ``lambda.layer_heads`` the last number;
* ``lambda.urls``       ``name:qualifier`` -> a function URL's configuration (qualifier ``$LATEST`` for
  the unqualified function); ``lambda.url_ids`` (not scoped) ``url id`` -> where that URL points.
"""

from __future__ import annotations

from typing import Any

from cumulo.protocol.errors import AwsError
from cumulo.services.lambda_.names import LATEST, function_arn, is_version
from cumulo.store.base import Record, Store
from cumulo.store.record_cache import RecordCache

FUNCTIONS, VERSIONS, ALIASES = "lambda.functions", "lambda.versions", "lambda.aliases"
LAYERS, LAYER_HEADS = "lambda.layers", "lambda.layer_heads"
URLS, URL_IDS = "lambda.urls", "lambda.url_ids"


def version_key(name: str, version: int | str) -> str:
    return f"{name}:{int(version):08d}"


class LambdaRepository:
    def __init__(self, store: Store, account: str, region: str, cache: RecordCache | None = None) -> None:
        """With ``cache``, functions, versions and aliases are read through it: such a repository
        is for the invoke path, whose callers only read what they get."""
        self.store = store
        self.account = account
        self.region = region
        self.scope = f"{account}:{region}:"
        self._read = cache.get if cache is not None else store.get

    def cached(self, cache: RecordCache) -> LambdaRepository:
        """This repository reading through ``cache`` (records shared: never change them)."""
        return LambdaRepository(self.store, self.account, self.region, cache)

    def arn(self, name: str, qualifier: str | None = None) -> str:
        return function_arn(self.region, self.account, name, qualifier)

    def not_found(self, name: str, qualifier: str | None = None) -> AwsError:
        return AwsError("ResourceNotFoundException", f"Function not found: {self.arn(name, qualifier)}",
                        fields={"Type": "User"})

    # ------------------------------------------------------------ functions
    def function(self, name: str) -> dict[str, Any]:
        record = self._read(FUNCTIONS, self.scope + name)
        if record is None:
            raise self.not_found(name)
        return record

    def find_function(self, name: str) -> dict[str, Any] | None:
        return self.store.get(FUNCTIONS, self.scope + name)

    def save_function(self, name: str, record: dict[str, Any]) -> None:
        self.store.put(FUNCTIONS, self.scope + name, record)

    def create_function(self, name: str, record: dict[str, Any]) -> bool:
        return self.store.insert(FUNCTIONS, self.scope + name, record)

    def functions(self, start_after: str | None = None, limit: int | None = None) -> list[tuple[str, dict]]:
        rows = self.store.scan(FUNCTIONS, self.scope, start_after=self.scope + start_after if start_after
                               else None, limit=limit)
        return [(key[len(self.scope):], value) for key, value in rows]

    def delete_function(self, name: str) -> None:
        with self.store.transaction():
            self.store.delete(FUNCTIONS, self.scope + name)
            self.store.delete_prefix(VERSIONS, f"{self.scope}{name}:")
            self.store.delete_prefix(ALIASES, f"{self.scope}{name}:")
            for _, url in self.store.scan(URLS, f"{self.scope}{name}:"):
                self.store.delete(URL_IDS, url["UrlId"])
            self.store.delete_prefix(URLS, f"{self.scope}{name}:")

    # ------------------------------------------------------------ versions
    def version(self, name: str, version: str) -> Record | None:
        return self._read(VERSIONS, self.scope + version_key(name, version))

    def versions(self, name: str) -> list[dict[str, Any]]:
        return [value for _, value in self.store.scan(VERSIONS, f"{self.scope}{name}:")]

    def save_version(self, name: str, version: int, record: dict[str, Any]) -> None:
        self.store.put(VERSIONS, self.scope + version_key(name, version), record)

    def delete_version(self, name: str, version: str) -> bool:
        return self.store.delete(VERSIONS, self.scope + version_key(name, version))

    # ------------------------------------------------------------ aliases
    def alias(self, name: str, alias: str) -> Record | None:
        return self._read(ALIASES, f"{self.scope}{name}:{alias}")

    def aliases(self, name: str) -> list[dict[str, Any]]:
        return [value for _, value in self.store.scan(ALIASES, f"{self.scope}{name}:")]

    def save_alias(self, name: str, alias: str, record: dict[str, Any]) -> None:
        self.store.put(ALIASES, f"{self.scope}{name}:{alias}", record)

    def create_alias(self, name: str, alias: str, record: dict[str, Any]) -> bool:
        return self.store.insert(ALIASES, f"{self.scope}{name}:{alias}", record)

    def delete_alias(self, name: str, alias: str) -> bool:
        with self.store.transaction():
            self.delete_url(name, alias)
            return self.store.delete(ALIASES, f"{self.scope}{name}:{alias}")

    # ------------------------------------------------------------ function URLs
    def url(self, name: str, qualifier: str) -> Record | None:
        return self.store.get(URLS, f"{self.scope}{name}:{qualifier}")

    def urls(self, name: str) -> list[dict[str, Any]]:
        return [value for _, value in self.store.scan(URLS, f"{self.scope}{name}:")]

    def create_url(self, name: str, qualifier: str, record: dict[str, Any]) -> bool:
        with self.store.transaction():
            if not self.store.insert(URLS, f"{self.scope}{name}:{qualifier}", record):
                return False
            self.store.put(URL_IDS, record["UrlId"], {"account": self.account, "region": self.region,
                                                      "name": name, "qualifier": qualifier})
            return True

    def save_url(self, name: str, qualifier: str, record: dict[str, Any]) -> None:
        self.store.put(URLS, f"{self.scope}{name}:{qualifier}", record)

    def delete_url(self, name: str, qualifier: str) -> bool:
        with self.store.transaction():
            record = self.url(name, qualifier)
            if record is None:
                return False
            self.store.delete(URL_IDS, record["UrlId"])
            return self.store.delete(URLS, f"{self.scope}{name}:{qualifier}")

    # ------------------------------------------------------------ resolution
    def resolve(self, name: str, qualifier: str | None) -> tuple[dict[str, Any], dict[str, Any], str]:
        """(function record, configuration, qualifier) for a name and optional qualifier.

        A version qualifier gives that version's configuration; an alias gives the
        configuration of the version it points to (routing weights are applied at invoke).
        """
        function = self.function(name)
        if qualifier is None or qualifier == LATEST:
            return function, function["config"], qualifier or LATEST
        if is_version(qualifier):
            version = self.version(name, qualifier)
            if version is None:
                raise self.not_found(name, qualifier)
            return function, version["config"], qualifier
        alias = self.alias(name, qualifier)
        if alias is None:
            raise self.not_found(name, qualifier)
        target = alias["FunctionVersion"]
        if target == LATEST:
            return function, function["config"], qualifier
        version = self.version(name, target)
        if version is None:
            raise self.not_found(name, target)
        return function, version["config"], qualifier

    # ------------------------------------------------------------ layers
    def layer_version(self, layer: str, version: int) -> dict[str, Any] | None:
        return self.store.get(LAYERS, self.scope + version_key(layer, version))

    def layer_versions(self, layer: str) -> list[dict[str, Any]]:
        return [value for _, value in self.store.scan(LAYERS, f"{self.scope}{layer}:")]

    def all_layer_versions(self) -> list[dict[str, Any]]:
        return [value for _, value in self.store.scan(LAYERS, self.scope)]

    def next_layer_version(self, layer: str) -> int:
        key = self.scope + layer
        head = self.store.get(LAYER_HEADS, key) or {"last": 0}
        head["last"] += 1
        self.store.put(LAYER_HEADS, key, head)
        return head["last"]

    def save_layer_version(self, layer: str, version: int, record: dict[str, Any]) -> None:
        self.store.put(LAYERS, self.scope + version_key(layer, version), record)

    def delete_layer_version(self, layer: str, version: int) -> bool:
        return self.store.delete(LAYERS, self.scope + version_key(layer, version))
