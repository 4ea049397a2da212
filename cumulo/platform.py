"""The platform: settings, the store, the service providers and their background work.

One ``Platform`` is one running Cumulo node. The gateway hands it requests; providers reach
each other through it (SNS delivering to SQS, a rule invoking a function).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Coroutine
from typing import Any, cast

from cumulo import __version__
from cumulo.iam.sessions import SessionStore
from cumulo.net import http_client
from cumulo.protocol.catalog import ServiceCatalog
from cumulo.runtime import isolation_report
from cumulo.services.base import Provider
from cumulo.services.interfaces import (
    DataStreams,
    EventBus,
    FunctionCapacity,
    FunctionInvoker,
    LogSink,
    MetricSink,
    ObjectStore,
    QueueSink,
    TableStreams,
    TopicSink,
)
from cumulo.services.registry import provider_classes
from cumulo.settings import Settings
from cumulo.store.artifacts import ArtifactStore
from cumulo.store.membership import Membership, nodes
from cumulo.store.notify import Notifier
from cumulo.store.opening import open_store

log = logging.getLogger("cumulo")
SLOW_START_S = 1.0  # a service start slower than this is reported (it delays readiness)


class Platform:
    """Built once the data directory is prepared and locked (``cumulo.server``): building it opens the store."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.notifier = Notifier()
        self.store = open_store(settings, self.notifier)
        self.artifacts = ArtifactStore(settings.data_dir)
        self.membership = (Membership(self.store, settings.node, settings.endpoint_url)
                           if settings.cluster_url else None)
        # Temporary credentials (function environments, STS): one cache for every holder.
        self.sessions = SessionStore(self.store)
        self.providers: dict[str, Provider] = {cls.service: cls(self) for cls in provider_classes()}
        self.catalog = ServiceCatalog(self.providers)
        # What services offer each other (cumulo.services.interfaces): the providers themselves.
        self.queues = cast(QueueSink, self.providers["sqs"])
        self.topics = cast(TopicSink, self.providers["sns"])
        self.functions = cast(FunctionInvoker, self.providers["lambda"])
        self.capacity = cast(FunctionCapacity, self.providers["lambda"])
        self.logs = cast(LogSink, self.providers["logs"])
        self.events = cast(EventBus, self.providers["events"])
        self.objects = cast(ObjectStore, self.providers["s3"])
        self.metrics = cast(MetricSink, self.providers["cloudwatch"])
        self.streams = cast(TableStreams, self.providers["dynamodb"])
        self.data_streams = cast(DataStreams, self.providers["kinesis"])
        self.state: dict[str, str] = {name: "starting" for name in self.providers}
        self._started = False
        self._background: set[asyncio.Task] = set()

    def has_service(self, service: str) -> bool:
        """Whether this build serves ``service`` (its botocore name: ``kinesis``, ``stepfunctions``...)."""
        return service in self.providers

    def serving(self, service: str) -> Provider | None:
        """The provider of a service, for the generic operation runner (``services.api_calls``)
        only: services reach each other through the typed attributes above."""
        return self.providers.get(service)

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self.notifier.bind(loop)
        if self.membership is not None:
            self.membership.beat()  # a member before serving
            self.spawn(self.membership.run(), name="cluster-heartbeat")
        loop.run_in_executor(None, self.catalog.warm)
        for name, provider in self.providers.items():
            began = time.monotonic()
            try:
                await provider.start()
                self.state[name] = "running"
            except Exception:
                log.exception("service %s failed to start", name)
                self.state[name] = "error"
            took = time.monotonic() - began
            if took > SLOW_START_S:
                log.warning("service %s took %.1f s to start", name, took)
        self._started = True

    def spawn(self, coroutine: Coroutine[Any, Any, Any], name: str = "") -> asyncio.Task:
        """Run background work that nobody awaits; failures are logged, not lost."""
        task = asyncio.get_running_loop().create_task(coroutine, name=name or None)
        self._background.add(task)
        task.add_done_callback(self._finished)
        return task

    def _finished(self, task: asyncio.Task) -> None:
        self._background.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("background task %s failed", task.get_name(), exc_info=task.exception())

    async def stop(self) -> None:
        for name, provider in reversed(self.providers.items()):
            try:
                await provider.stop()
            except Exception:
                log.exception("service %s failed to stop cleanly", name)
            self.state[name] = "stopped"
        for task in list(self._background):
            task.cancel()
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)
        await http_client.close()
        if self.membership is not None:
            self.membership.leave()
        self.store.close()

    def health(self, detailed: bool = True) -> dict:
        """Status and version; with ``detailed``, also the services, paths and settings (for local or
        signed callers only: they describe the installation)."""
        summary = {"version": __version__, "status": "running" if self._started else "starting"}
        if not detailed:
            return summary
        return {
            **summary,
            "services": dict(self.state),
            "dataDir": str(self.settings.data_dir.resolve()),
            "accountId": self.settings.account_id,
            "authRequired": self.settings.auth_required,
            "isolation": isolation_report(self.settings.isolation, self.settings.function_network)
            if self.settings.isolation != "off"
            else {"mode": "off"},
            **({"cluster": {"node": self.settings.node, "nodes": nodes(self.store)}}
               if self.membership is not None else {}),
        }
