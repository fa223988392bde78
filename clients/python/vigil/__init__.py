"""The Python client of Vigil, a watchdog for stuck work (standard library only).

``VigilClient`` has one method per route of the runner API, ``client.run()`` /
``client.arun()`` / ``@client.watched`` wrap work as an execution with liveness beaten from a
helper process and progress from ``ctx.beat()``; ``install_shutdown_handler`` fails a stopped
runner's runs; ``HeartbeatWriter`` writes a supervised process's heartbeat file. See
docs/python.md."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._errors import (
        AlreadyEnded,
        ApiError,
        LostOwnership,
        Unreachable,
        VigilError,
        VigilLateResult,
        VigilWarning,
    )
    from ._liveness import liveness_interval
    from ._run import AsyncRunContext, RunContext, current_run
    from ._shutdown import install_shutdown_handler
    from ._transport import is_transient
    from ._types import Execution, HeartbeatsAnswer, Json, LimitInput, Progress, SlotGrant
    from .client import DEFAULT_URL, VigilClient
    from .heartbeat import HeartbeatWriter
    from ._worker import Worker

# Names are loaded on first use, so that the liveness helper (``vigil._liveness_helper``), a new
# interpreter per run, starts without importing asyncio and the client.
_MODULES = {
    "AlreadyEnded": "._errors",
    "ApiError": "._errors",
    "LostOwnership": "._errors",
    "Unreachable": "._errors",
    "VigilError": "._errors",
    "VigilLateResult": "._errors",
    "VigilWarning": "._errors",
    "liveness_interval": "._liveness",
    "AsyncRunContext": "._run",
    "RunContext": "._run",
    "current_run": "._run",
    "install_shutdown_handler": "._shutdown",
    "is_transient": "._transport",
    "Execution": "._types",
    "HeartbeatsAnswer": "._types",
    "Json": "._types",
    "LimitInput": "._types",
    "Progress": "._types",
    "SlotGrant": "._types",
    "DEFAULT_URL": ".client",
    "VigilClient": ".client",
    "HeartbeatWriter": ".heartbeat",
    "Worker": "._worker",
}


def __getattr__(name: str) -> Any:
    module = _MODULES.get(name)
    if module is None:
        raise AttributeError(f"module 'vigil' has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(list(globals()) + list(_MODULES))


__all__ = sorted(_MODULES)
