"""Execution environments: isolated process trees that run Lambda functions behind the Runtime API.

The public API (see README.md next to this file)::

    pool = EnvironmentPool(RuntimeConfig(work_dir=...))
    await pool.start()
    result = await pool.invoke(spec, InvokeRequest(...))
    await pool.retire(key_prefix)
    await pool.close()
    supported_runtimes(), install_hint(runtime), isolation_report()

Names are imported lazily: modules of this package also run inside environments (the
agent, the zygote, the Python runtime) under other interpreters, and must not pay for
(or be able to import) the platform side.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "EnvironmentPool": "pool",
    "EnvironmentSpec": "spec",
    "RuntimeConfig": "spec",
    "InvokeRequest": "spec",
    "InvokeResult": "spec",
    "CapacityError": "spec",
    "UnsupportedRuntimeError": "spec",
    "PoolClosedError": "spec",
    "supported_runtimes": "runtimes",
    "install_hint": "runtimes",
    "isolation_report": "host",
    "RESERVED": "envvars",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(name)
    return getattr(importlib.import_module("." + module, __name__), name)
