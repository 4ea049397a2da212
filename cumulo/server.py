"""Running the platform under uvicorn: one process, one port, clean shutdown on SIGTERM/SIGINT."""

from __future__ import annotations

import importlib.util
import logging
import signal
import sys
from types import FrameType

import uvicorn

from cumulo.gateway.app import GatewayApp
from cumulo.platform import Platform
from cumulo.settings import Settings

LOG_FORMAT = "%(asctime)s %(levelname)-5s %(name)s: %(message)s"


def configure_logging(level: str) -> None:
    """Cumulo's loggers at the requested level; libraries (botocore...) stay at INFO or above."""
    logging.basicConfig(level=max(logging.INFO, logging.getLevelName(level.upper())), format=LOG_FORMAT,
                        stream=sys.stderr, force=True)
    logging.getLogger("cumulo").setLevel(level.upper())


class _Server(uvicorn.Server):
    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        """Shut down gracefully and exit with status 0.

        uvicorn re-raises the signal once shut down, so the process would die "by SIGTERM"
        even after a clean shutdown; a second SIGINT still forces the exit.
        """
        if self.should_exit and sig == signal.SIGINT:
            self.force_exit = True
        else:
            self.should_exit = True


def build_server(settings: Settings) -> tuple[uvicorn.Server, GatewayApp]:
    platform = Platform(settings)
    app = GatewayApp(platform)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        lifespan="on",
        access_log=False,
        log_config=None,
        log_level=settings.log_level.lower(),
        loop="uvloop" if importlib.util.find_spec("uvloop") else "asyncio",
        http="httptools" if importlib.util.find_spec("httptools") else "h11",
        timeout_keep_alive=75,
        timeout_graceful_shutdown=10,
    )
    return _Server(config), app


def serve(settings: Settings) -> None:
    configure_logging(settings.log_level)
    server, _ = build_server(settings)
    logging.getLogger("cumulo").info(
        "Cumulo listening on %s (data in %s, auth %s)", settings.endpoint_url,
        settings.data_dir, "required" if settings.auth_required else "not required on loopback")
    server.run()
