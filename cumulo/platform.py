"""The platform: settings, the store, the service providers and their background work.

One ``Platform`` is one running Cumulo node. The gateway hands it requests; providers reach
each other through it (SNS delivering to SQS, a rule invoking a function).
"""

from __future__ import annotations

import asyncio
import logging
from typing import TypeVar

from cumulo import __version__
from cumulo.protocol.catalog import ServiceCatalog
from cumulo.services.base import Provider
from cumulo.services.registry import provider_classes
from cumulo.settings import Settings
from cumulo.store.artifacts import ArtifactStore
from cumulo.store.notify import Notifier
from cumulo.store.sqlite import SqliteStore

log = logging.getLogger("cumulo")
P = TypeVar("P", bound=Provider)


class Platform:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        self.store = SqliteStore(settings.data_dir / "state.db", settings.sqlite_synchronous)
        self.artifacts = ArtifactStore(settings.data_dir)
        self.notifier = Notifier()
        self.providers: dict[str, Provider] = {cls.service: cls(self) for cls in provider_classes()}
        self.catalog = ServiceCatalog(self.providers)
        self.state: dict[str, str] = {name: "starting" for name in self.providers}
        self._started = False

    def provider(self, kind: type[P]) -> P:
        found = self.providers[kind.service]
        assert isinstance(found, kind)
        return found

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self.notifier.bind(loop)
        loop.run_in_executor(None, self.catalog.warm)
        for name, provider in self.providers.items():
            try:
                await provider.start()
                self.state[name] = "running"
            except Exception:
                log.exception("service %s failed to start", name)
                self.state[name] = "error"
        self._started = True

    async def stop(self) -> None:
        for name, provider in reversed(self.providers.items()):
            try:
                await provider.stop()
            except Exception:
                log.exception("service %s failed to stop cleanly", name)
            self.state[name] = "stopped"
        self.store.close()

    def health(self) -> dict:
        return {
            "version": __version__,
            "status": "running" if self._started else "starting",
            "services": dict(self.state),
            "dataDir": str(self.settings.data_dir.resolve()),
            "accountId": self.settings.account_id,
            "authRequired": self.settings.auth_required,
        }
