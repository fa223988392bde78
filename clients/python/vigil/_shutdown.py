"""``install_shutdown_handler``: a runner stopped by SIGTERM/SIGINT fails its runs before exiting."""

from __future__ import annotations

import os
import signal
import sys
import threading
from types import FrameType
from typing import TYPE_CHECKING, Any, Callable, Dict, Iterable, Optional

if TYPE_CHECKING:
    from .client import VigilClient

DEFAULT_TIMEOUT = 5.0
"""How long (s) to wait for Vigil to take the failures before exiting anyway: a supervisor
usually sends SIGKILL 10 s after SIGTERM, and an execution left running is still caught later by
its heartbeat limit."""


def install_shutdown_handler(
    client: "VigilClient",
    signals: Iterable[int] = (signal.SIGTERM, signal.SIGINT),
    timeout: float = DEFAULT_TIMEOUT,
    exit: Optional[Callable[[int], Any]] = None,
) -> Callable[[], None]:
    """On SIGTERM/SIGINT: fails this client's runs that have not finished ("runner shutdown
    (SIGTERM)"), sets their ``ctx.cancelled``, then exits with 128 + the signal's number, as a
    process killed by it would. A second signal while that is under way exits at once.

    The exit is ``sys.exit`` by default: ``SystemExit`` unwinds the main thread, so ``finally``
    blocks and ``with`` blocks run (a run that was failed here sends no report of its own). Must
    be called from the main thread (Python runs signal handlers there only). Returns a function
    that puts the previous handlers back."""
    chosen = list(signals)
    leave = exit or sys.exit
    state = {"shutting_down": False}

    def handler(signum: int, frame: Optional[FrameType]) -> None:
        code = 128 + signum
        if state["shutting_down"]:
            os._exit(code)
        state["shutting_down"] = True
        client.fail_running(f"runner shutdown ({signal.Signals(signum).name})", timeout=timeout)
        leave(code)

    if threading.current_thread() is not threading.main_thread():
        raise RuntimeError("install_shutdown_handler: call it from the main thread")
    previous: Dict[int, Any] = {sig: signal.signal(sig, handler) for sig in chosen}

    def uninstall() -> None:
        for sig, old in previous.items():
            signal.signal(sig, old)

    return uninstall
