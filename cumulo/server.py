"""Running the platform: one process, one port, clean shutdown on SIGTERM/SIGINT."""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import signal
import socket
import sys

from cumulo.gateway.app import GatewayApp
from cumulo.gateway.http_server import HttpServer, ServerLimits
from cumulo.platform import Platform
from cumulo.runtime.network import bind_endpoint_socket
from cumulo.settings import Settings
from cumulo.startup import explain, listening_socket
from cumulo.store.data_dir import DataDirLock, prepare_data_dir

LOG_FORMAT = "%(asctime)s %(levelname)-5s %(name)s: %(message)s"
KEEP_ALIVE_S = 75.0  # idle keep-alive connections are closed after this
GRACE_S = 10.0  # requests in flight at shutdown get this long to finish

log = logging.getLogger("cumulo")


def configure_logging(level: str) -> None:
    """Cumulo's loggers at the requested level; libraries (botocore...) stay at INFO or above."""
    logging.basicConfig(level=max(logging.INFO, logging.getLevelName(level.upper())), format=LOG_FORMAT,
                        stream=sys.stderr, force=True)
    logging.getLogger("cumulo").setLevel(level.upper())
    # The SAM translator warns about its own unpublished metrics on every transform: not the user's concern.
    logging.getLogger("samtranslator").setLevel(logging.ERROR)


def _failed(message: str, error: BaseException | None = None) -> None:
    """A start-up failure as one line for the user; its traceback only at debug level."""
    print(f"error: {message}", file=sys.stderr, flush=True)
    if error is not None:
        log.debug("start-up failure", exc_info=error)


async def run_until_signalled(settings: Settings) -> int:
    """Start the platform, serve until SIGTERM/SIGINT, stop gracefully; the exit status.

    Nothing touches the data directory before the port is bound and the directory is locked
    (``cumulo.startup``). A second signal stops waiting for requests in flight.
    """
    try:
        listener = listening_socket(settings.host, settings.port)
    except OSError as error:
        _failed(f"cannot listen on {settings.host}:{settings.port}: {error}", error)
        return 1
    lock = DataDirLock(settings.scratch_dir)  # per node in cluster mode
    try:
        return await _serve_locked(settings, listener, lock)
    finally:
        listener.close()
        lock.release()


async def _serve_locked(settings: Settings, listener: socket.socket, lock: DataDirLock) -> int:
    try:
        prepare_data_dir(settings.data_dir)
        if settings.scratch_dir != settings.data_dir:  # a cluster node's own folder
            prepare_data_dir(settings.scratch_dir)
        lock.acquire(settings.endpoint_url)
        platform = Platform(settings)
    except Exception as error:
        _failed(explain(error, settings.data_dir), error)
        return 3
    app = GatewayApp(platform)
    try:
        # isolated function networks reach the endpoint through this socket (cumulo.runtime.network);
        # bound before any environment can start, served with the port
        unix = (bind_endpoint_socket(settings.scratch_dir.resolve() / "environments")
                if settings.function_network == "isolated" else None)
        await platform.start()
    except Exception as error:
        _failed(explain(error, settings.data_dir), error)
        await platform.stop()
        return 3
    limits = ServerLimits(KEEP_ALIVE_S, settings.header_timeout_seconds, settings.connection_limit)
    server = HttpServer(app.respond, settings.host, settings.port, limits, spool_dir=settings.data_dir / "spool")
    await server.start(listener, unix)
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
