"""Running the platform: one process, one port, clean shutdown on SIGTERM/SIGINT."""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import signal
import sys

from cumulo.gateway.app import GatewayApp
from cumulo.gateway.http_server import HttpServer, ServerLimits
from cumulo.platform import Platform
from cumulo.settings import Settings

LOG_FORMAT = "%(asctime)s %(levelname)-5s %(name)s: %(message)s"
KEEP_ALIVE_S = 75.0  # idle keep-alive connections are closed after this
GRACE_S = 10.0  # requests in flight at shutdown get this long to finish

log = logging.getLogger("cumulo")


def configure_logging(level: str) -> None:
    """Cumulo's loggers at the requested level; libraries (botocore...) stay at INFO or above."""
    logging.basicConfig(level=max(logging.INFO, logging.getLevelName(level.upper())), format=LOG_FORMAT,
                        stream=sys.stderr, force=True)
    logging.getLogger("cumulo").setLevel(level.upper())


async def run_until_signalled(settings: Settings) -> int:
    """Start the platform, serve until SIGTERM/SIGINT, stop gracefully; the exit status.

    A second signal stops waiting for requests in flight.
    """
    platform = Platform(settings)
    app = GatewayApp(platform)
    try:
        await platform.start()
    except Exception:
        log.exception("start-up failed")
        await platform.stop()
        return 3
    limits = ServerLimits(KEEP_ALIVE_S, settings.header_timeout_seconds, settings.connection_limit)
    server = HttpServer(app.respond, settings.host, settings.port, limits)
    try:
        await server.start()
    except OSError as error:
        log.error("cannot listen on %s:%s: %s", settings.host, settings.port, error)
        await platform.stop()
        return 1
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    signals = 0

    def on_signal() -> None:
        nonlocal signals
        signals += 1
        if signals > 1:
            server.abandon()
        stop.set()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, on_signal)
    log.info("ready on %s", settings.endpoint_url)
    await stop.wait()
    log.info("shutting down")
    await server.stop(GRACE_S)
    await platform.stop()
    return 0


def _run(main) -> int:
    if importlib.util.find_spec("uvloop"):
        import uvloop

        return uvloop.run(main)
    return asyncio.run(main)


def serve(settings: Settings) -> None:
    configure_logging(settings.log_level)
    log.info("Cumulo starting on %s (data in %s, auth %s)", settings.endpoint_url,
             settings.data_dir, "required" if settings.auth_required else "not required on loopback")
    sys.exit(_run(run_until_signalled(settings)))
