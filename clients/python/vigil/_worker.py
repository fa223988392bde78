"""Workers: ``client.worker(kind, fn)`` claims queued executions of a kind and runs each."""

from __future__ import annotations

import os
import random
import socket
import threading
from typing import TYPE_CHECKING, Any, Callable, List, Optional

from ._errors import ApiError, VigilError
from ._run import Run, RunContext, RunOptions
from ._transport import is_transient
from ._types import Execution

if TYPE_CHECKING:
    from .client import VigilClient

_FIRST_BACKOFF = 0.5
# The pause after a claim that found nothing: the claim itself waited on the server, so this only
# keeps a worker with ``wait=0`` (or a server that is closing and answers at once) from a tight loop.
_IDLE_PAUSE = 0.25


class Worker:
    """Claims executions of ``kind`` and runs ``fn(ctx)`` for each inside ``client.run()``'s
    machinery (liveness from the helper, ``ctx.cancelled`` on lost ownership, complete with the
    value ``fn`` returns or fail with the exception it raised, late results), ``concurrency`` at a
    time, each on its own thread. ``stop()`` ends the claims; a claim waiting on the server ends
    when its ``wait`` does. Runs under way finish and report. A claim that cannot reach Vigil is
    tried again after a pause growing from 0.5 s to ``max_backoff`` s; a claim Vigil refuses (a bad
    token, another owner) stops the worker and ``join()`` raises it."""

    def __init__(
        self,
        client: "VigilClient",
        kind: str,
        fn: Callable[[RunContext], Any],
        *,
        runner: Optional[str] = None,
        concurrency: int = 1,
        wait: float = 20,
        owner: Optional[str] = None,
        max_backoff: float = 30,
        on_late_result: Optional[Callable[[Execution], None]] = None,
    ) -> None:
        if not isinstance(concurrency, int) or concurrency < 1:
            raise ValueError(f"concurrency: expected an integer >= 1, got {concurrency!r}")
        if not 0 <= wait <= 30:
            raise ValueError(f"wait: expected 0 to 30 seconds, got {wait!r}")
        self.client = client
        self.kind = kind
        self.fn = fn
        self.runner = runner or f"{socket.gethostname()}:{os.getpid()}"
        self.wait = wait
        self.owner = owner
        self.max_backoff = max_backoff
        self._options = RunOptions(kind, None, None, None, None, None, on_late_result)
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._running = 0
        self._error: Optional[BaseException] = None
        self._threads: List[threading.Thread] = [
            threading.Thread(target=self._loop, name=f"vigil-worker-{kind}-{i}", daemon=True)
            for i in range(concurrency)
        ]
        for thread in self._threads:
            thread.start()

    @property
    def running(self) -> int:
        """Executions running now."""
        return self._running

    def stop(self) -> None:
        """Stops claiming (safe from a signal handler: it only sets an event)."""
        self._stopping.set()

    def join(self, timeout: Optional[float] = None) -> None:
        """Waits for the worker to stop and its runs to report; raises what stopped it, if Vigil
        refused its claims."""
        for thread in self._threads:
            thread.join(timeout)
        if self._error is not None:
            raise self._error

    def _loop(self) -> None:
        failures = 0
        while not self._stopping.is_set():
            try:
                execution = self.client.claim(self.kind, self.runner, wait=self.wait, owner=self.owner)
                failures = 0
            except VigilError as error:
                if isinstance(error, ApiError) and not is_transient(error):
                    self._error = self._error or error
                    self._stopping.set()
                    return
                failures += 1
                if failures == 1:
                    self.client.on_error(RuntimeError(f"claim failed: {error}"))
                base = min(self.max_backoff, _FIRST_BACKOFF * 2.0 ** (failures - 1))
                self._stopping.wait(base / 2 + random.random() * base / 2)
                continue
            if execution is None:
                self._stopping.wait(_IDLE_PAUSE)
            else:
                self._run(execution)

    def _run(self, execution: Execution) -> None:
        with self._lock:
            self._running += 1
        try:
            with Run(self.client, self.client._runs, self._options, execution) as ctx:
                ctx.result = self.fn(ctx)
        except Exception:  # noqa: BLE001 - reported as the execution's failure by the run
            pass
        finally:
            with self._lock:
                self._running -= 1
