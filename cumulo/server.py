"""Running the platform under uvicorn: one process, one port, clean shutdown on SIGTERM/SIGINT."""

from __future__ import annotations

import importlib.util
import logging
import sys

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
    return uvicorn.Server(config), app


def serve(settings: Settings) -> None:
    configure_logging(settings.log_level)
    server, _ = build_server(settings)
    logging.getLogger("cumulo").info(
        "Cumulo listening on %s (data in %s, auth %s)", settings.endpoint_url,
        settings.data_dir, "required" if settings.auth_required else "not required on loopback")
    server.run()
