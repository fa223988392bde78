"""Liveness heartbeats of a run: heartbeats WITHOUT progress on a fixed cadence, from outside the
code doing the work, so that they keep flowing while that code is busy.

Two ways, chosen by ``VigilClient(liveness=...)``:

- ``"process"`` (the default): a small helper process. It is the
  only way that keeps beating while the main thread sits in a C call that holds the GIL for
  seconds (a regular expression backtracking, ``sum(range(10**9))``, a C extension that never
  releases it): no thread of the runner's interpreter runs then. The helper reads its settings
  from its stdin pipe and stops at EOF on it, which the kernel delivers as soon as the runner
  exits or is killed (``kill -9`` included), so a dead runner's beats stop at once and the
  ``heartbeat`` limit ends its execution.
- ``"thread"``: a daemon thread. Cheaper (no process), and enough for pure-Python work and for C
  calls that release the GIL (I/O, hashlib, numpy); not for a C call that holds it.

The helper is ``python -m vigil._liveness_helper``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass
from typing import IO, Any, Callable, Dict, Optional

from ._errors import ApiError, LostOwnership, VigilError
from ._transport import Transport

Emit = Callable[[Dict[str, Any]], None]

PARENT_POLL = 0.1
"""How often (s) the helper also checks that its parent is the one that started it: a pipe whose
write end leaked into a child the runner forked does not reach EOF when the runner dies. Longer
would let such a helper beat for a dead runner for longer; shorter only costs wake-ups."""

STOP_GRACE = 0.5
"""How long (s) ``stop()`` waits for the helper to exit before killing it: it exits within
milliseconds of EOF unless a beat is in flight, and a run's report must not wait for that."""

START_TIMEOUT = 30.0
"""How long (s) a helper may take to start (an interpreter's start under heavy load) before the
run fails: a run whose liveness cannot start would be ended by the watchdog anyway."""


def liveness_interval(heartbeat_limit_ms: Optional[int]) -> float:
    """Seconds between liveness beats for a heartbeat limit, as in the TypeScript SDK.

    A third of the limit, so that two beats in a row can be lost or late before the limit is
    crossed (ending live work is the worse mistake), clamped to [100 ms, 10 s]: faster only loads
    the service, and 10 s keeps a cancel from going unnoticed for long. Without a heartbeat limit,
    every 10 s: the beats are then only how the runner learns the execution is no longer its own."""
    if heartbeat_limit_ms is None:
        return 10.0
    return min(10.0, max(0.1, (heartbeat_limit_ms // 3) / 1000))


@dataclass(frozen=True)
class LivenessConfig:
    """What the beating needs: where, which attempt of which execution, how often."""

    url: str
    token: Optional[str]
    id: str
    attempt: int
    interval: float
    timeout: float
    retries: int


def beat_until_stopped(config: LivenessConfig, wait: Callable[[float], bool], emit: Emit) -> None:
    """Beats every ``config.interval`` until ``wait(seconds)`` returns True or the execution is
    no longer this attempt's (then emits ``{"type": "lost", ...}``). Failures are emitted once
    per streak: a service down for an hour is one warning, not 10,000."""
    transport = Transport(config.url, config.token, config.timeout, config.retries)
    path = f"/v1/executions/{_quote(config.id)}/heartbeat"
    is_failing = False
    while True:
        started = time.monotonic()
        try:
            transport.request(
                "POST", path, {"attempt": config.attempt}, retry=True, execution_id=config.id
            )
            is_failing = False
        except LostOwnership as lost:
            emit({"type": "lost", "status": lost.execution_status, "reason": lost.reason})
            return
        except ApiError as error:
            if error.code == "not_found":
                emit({"type": "lost", "status": None, "reason": error.message})
                return
            is_failing = _report_once(emit, error, is_failing)
        except VigilError as error:
            is_failing = _report_once(emit, error, is_failing)
        # A fixed cadence from the start of each beat: a slow answer delays the next beat, never
        # overlaps it, so beats cannot arrive out of order.
        if wait(max(0.0, config.interval - (time.monotonic() - started))):
            return


def _report_once(emit: Emit, error: VigilError, is_failing: bool) -> bool:
    if not is_failing:
        emit({"type": "error", "message": str(error)})
    return True


def _quote(value: str) -> str:
    from urllib.parse import quote

    return quote(value, safe="")


@dataclass
class LivenessHandlers:
    """Where the beating reports: the execution is lost, or a beat failed."""

    on_lost: Callable[[Optional[str], str], None]
    on_error: Callable[[Exception], None]


class Liveness:
    """Beats for one attempt of one execution until ``stop()``."""

    def wait_ready(self, timeout: float) -> bool:
        """Whether the beating has started within ``timeout`` seconds."""
        raise NotImplementedError

    def stop(self) -> None:
        """Stops beating. Idempotent."""
        raise NotImplementedError


class ThreadLiveness(Liveness):
    """Beats from a daemon thread of this process."""

    def __init__(self, config: LivenessConfig, handlers: LivenessHandlers) -> None:
        self._stop = threading.Event()
        self._handlers = handlers
        self._thread = threading.Thread(
            target=beat_until_stopped,
            args=(config, self._stop.wait, self._dispatch),
            name=f"vigil-liveness-{config.id}",
            daemon=True,
        )
        self._thread.start()

    def _dispatch(self, message: Dict[str, Any]) -> None:
        if not self._stop.is_set():
            _dispatch(message, self._handlers)

    def wait_ready(self, timeout: float) -> bool:
        return True

    def stop(self) -> None:
        self._stop.set()


class ProcessLiveness(Liveness):
    """Beats from a helper process that stops when this process goes away."""

    def __init__(self, config: LivenessConfig, handlers: LivenessHandlers) -> None:
        self._handlers = handlers
        self._ready = threading.Event()
        self._stopped = threading.Event()
        self._child = subprocess.Popen(
            [sys.executable, "-m", "vigil._liveness_helper"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=_helper_env(),
            close_fds=True,
            # Its own session: Ctrl-C in a terminal (SIGINT to the foreground group) must not stop
            # the beats while the runner's shutdown handler reports; EOF stops the helper instead.
            start_new_session=True,
        )
        assert self._child.stdin is not None and self._child.stdout is not None
        # The token goes through the pipe, never the command line (visible in `ps`).
        self._child.stdin.write((json.dumps(asdict(config)) + "\n").encode("utf-8"))
        self._child.stdin.flush()
        self._reader = threading.Thread(
            target=self._read,
            args=(self._child.stdout,),
            name=f"vigil-liveness-reader-{config.id}",
            daemon=True,
        )
        self._reader.start()

    def _read(self, stream: IO[bytes]) -> None:
        with stream:
            for line in stream:
                try:
                    message = json.loads(line)
                except ValueError:
                    continue
                if message.get("type") == "ready":
                    self._ready.set()
                elif not self._stopped.is_set():
                    _dispatch(message, self._handlers)
        code = self._child.wait()
        if self._ready.is_set() and not self._stopped.is_set():
            self._handlers.on_error(
                RuntimeError(f"the Vigil liveness helper exited (code {code}); liveness stopped")
            )
        self._ready.set()

    def wait_ready(self, timeout: float) -> bool:
        return self._ready.wait(timeout) and self._child.poll() is None

    def stop(self) -> None:
        if self._stopped.is_set():
            return
        self._stopped.set()
        try:
            if self._child.stdin is not None:
                self._child.stdin.close()
        except OSError:
            pass
        try:
            self._child.wait(STOP_GRACE)
        except subprocess.TimeoutExpired:
            self._child.kill()
            self._child.wait()


def start_liveness(mode: str, config: LivenessConfig, handlers: LivenessHandlers) -> Liveness:
    """Starts beating for one attempt, from a helper process or a thread (see the module doc)."""
    if mode == "thread":
        return ThreadLiveness(config, handlers)
    return ProcessLiveness(config, handlers)


def _dispatch(message: Dict[str, Any], handlers: LivenessHandlers) -> None:
    if message.get("type") == "lost":
        handlers.on_lost(message.get("status"), str(message.get("reason")))
    elif message.get("type") == "error":
        handlers.on_error(RuntimeError(f"liveness heartbeat failed: {message.get('message')}"))


def _helper_env() -> Dict[str, str]:
    """This environment, with this package importable however it was found (installed, or a
    checkout on PYTHONPATH, or a path the runner added to sys.path itself)."""
    env = dict(os.environ)
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env["PYTHONPATH"] = os.pathsep.join(p for p in (here, env.get("PYTHONPATH")) if p)
    return env
