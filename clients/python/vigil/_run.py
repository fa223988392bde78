"""Watched runs: ``client.run()`` (a context manager), ``client.arun()`` (its asyncio twin)."""

from __future__ import annotations

import asyncio
import contextvars
import threading
import warnings
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Mapping, Optional, Type, Union

from ._errors import AlreadyEnded, ApiError, LostOwnership, VigilError, VigilLateResult
from ._liveness import (
    START_TIMEOUT,
    Liveness,
    LivenessConfig,
    LivenessHandlers,
    liveness_interval,
    start_liveness,
)
from ._transport import is_transient
from ._types import Execution, Json, LimitInput, Progress, SlotGrant

if TYPE_CHECKING:
    from .client import VigilClient

_current: contextvars.ContextVar[Optional[Union["RunContext", "AsyncRunContext"]]] = (
    contextvars.ContextVar("vigil_current_run", default=None)
)


def current_run() -> Optional[Union["RunContext", "AsyncRunContext"]]:
    """The context of the innermost run in progress here (``None`` outside one): for code called
    by a ``@client.watched`` function that wants to beat progress or check for cancellation."""
    return _current.get()


@dataclass(frozen=True)
class RunOptions:
    """What a run registers with, and where its late result goes."""

    kind: str
    id: Optional[str]
    owner: Optional[str]
    parent_id: Optional[str]
    limits: Optional[Mapping[str, LimitInput]]
    metadata: Optional[Mapping[str, Json]]
    on_late_result: Optional[Callable[[Execution], None]]


class RunRegistry:
    """The runs of one client that have started and not finished (for the shutdown handler)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._runs: Dict[str, "_Attempt"] = {}

    def add(self, attempt: "_Attempt") -> None:
        with self._lock:
            self._runs[attempt.id] = attempt

    def remove(self, attempt: "_Attempt") -> None:
        with self._lock:
            if self._runs.get(attempt.id) is attempt:
                del self._runs[attempt.id]

    def snapshot(self) -> List["_Attempt"]:
        with self._lock:
            return list(self._runs.values())

    def describe(self) -> List[Dict[str, Any]]:
        return [{"id": a.id, "attempt": a.attempt, "kind": a.kind} for a in self.snapshot()]


class _Attempt:
    """One registered attempt: its liveness, its loss, and how it reports. Blocking calls only;
    the sync and async runs both drive it."""

    def __init__(
        self,
        client: "VigilClient",
        registry: RunRegistry,
        options: RunOptions,
        claimed: Optional[Execution] = None,
    ) -> None:
        self.client = client
        self.registry = registry
        self.options = options
        self.claimed = claimed
        self.cancelled = threading.Event()
        self.lost: Optional[LostOwnership] = None
        self.is_shut_down = False
        self._lock = threading.Lock()
        self._liveness: Optional[Liveness] = None
        self._counter = 0
        self.execution: Execution = {}

    @property
    def id(self) -> str:
        return str(self.execution.get("id"))

    @property
    def attempt(self) -> int:
        return int(self.execution.get("attempt", 0))

    @property
    def kind(self) -> str:
        return str(self.execution.get("kind"))

    def open(self) -> None:
        """Registers the execution (running), unless a worker claimed it already running, and
        starts its liveness. If liveness cannot start, the execution is failed with the reason and
        the error raised."""
        o = self.options
        self.execution = (
            self.claimed
            if self.claimed is not None
            else self.client.register(
                o.kind, id=o.id, owner=o.owner, parent_id=o.parent_id, limits=o.limits, metadata=o.metadata
            )
        )
        self.registry.add(self)
        try:
            self._start_liveness()
        except BaseException as error:
            self.registry.remove(self)
            self._stop_liveness()
            try:
                self.client.fail(self.id, self.attempt, _message(error))
            except VigilError:
                pass
            raise

    def _start_liveness(self) -> None:
        limit = (self.execution.get("limits") or {}).get("heartbeat")
        interval = liveness_interval(limit)
        config = LivenessConfig(
            url=self.client.url,
            token=self.client.token,
            id=self.id,
            attempt=self.attempt,
            interval=interval,
            # A beat answered later than the heartbeat limit has missed anyway: give up on it then.
            timeout=min(10.0, max(1.0, interval * 3)),
            retries=self.client.retries,
        )
        handlers = LivenessHandlers(
            on_lost=lambda status, reason: self.lose(LostOwnership(self.id, status, reason)),
            on_error=self.client.on_error,
        )
        self._liveness = start_liveness(self.client.liveness, config, handlers)
        self._bridge_until_ready(interval)

    def _bridge_until_ready(self, interval: float) -> None:
        """Until the helper runs, this thread beats: it is idle now, and the first heartbeat
        limit must not be spent on an interpreter's start-up."""
        assert self._liveness is not None
        waited = 0.0
        while not self._liveness.wait_ready(interval):
            waited += interval
            if waited >= START_TIMEOUT:
                raise RuntimeError(f"the Vigil liveness helper did not start within {START_TIMEOUT:g} s")
            self._beat_quietly()

    def _beat_quietly(self) -> None:
        try:
            self.client.heartbeat(self.id, self.attempt)
        except LostOwnership as lost:
            self.lose(lost)
        except VigilError as error:
            self.client.on_error(error)

    def lose(self, lost: LostOwnership) -> None:
        """Marks the run as no longer ours (first reason wins)."""
        with self._lock:
            if self.lost is None:
                self.lost = lost
        self.cancelled.set()

    def check(self) -> None:
        """Raises the run's ``LostOwnership`` once the execution is no longer ours."""
        if self.lost is not None:
            raise self.lost

    def beat(self, progress: Optional[Progress]) -> None:
        """A heartbeat with a progress marker (a counter when None)."""
        self.check()
        with self._lock:
            if progress is None:
                self._counter += 1
                progress = self._counter
        try:
            self.client.heartbeat(self.id, self.attempt, progress)
        except LostOwnership as lost:
            self.lose(lost)
            self.check()
        except ApiError as error:
            if error.code != "not_found" and not is_transient(error):
                raise
            if error.code == "not_found":
                self.lose(LostOwnership(self.id, None, error.message))
                self.check()
            self.client.on_error(RuntimeError(f"progress heartbeat failed: {error}"))
        except VigilError as error:
            if not is_transient(error):
                raise
            self.client.on_error(RuntimeError(f"progress heartbeat failed: {error}"))

    def acquire_slot(self, slot: str, ttl: LimitInput = None) -> SlotGrant:
        return self.client.acquire_slot(self.id, self.attempt, slot, ttl)

    def release_slot(self, slot: str) -> Dict[str, Any]:
        return self.client.release_slot(self.id, slot, self.attempt)

    def shutdown(self, reason: str) -> None:
        """Fails the execution with ``reason`` and marks the run lost; its own report is skipped."""
        self.is_shut_down = True
        self.lose(LostOwnership(self.id, None, reason))
        self._stop_liveness()
        self.client.fail(self.id, self.attempt, reason)

    def _stop_liveness(self) -> None:
        if self._liveness is not None:
            self._liveness.stop()

    def close(self, error: Optional[BaseException], result: Json) -> None:
        """Stops liveness and reports how the work ended. Raises only when a success cannot be
        reported; a failure that cannot be reported goes to ``on_error``."""
        try:
            self._stop_liveness()
            if self.is_shut_down or (error is not None and error is self.lost):
                # Vigil already ended it (or this process failed it): a report would only be kept
                # as a late result saying what Vigil already knows.
                return
            self._report(error, result)
        finally:
            self.registry.remove(self)

    def _report(self, error: Optional[BaseException], result: Json) -> None:
        try:
            if error is None:
                self.client.complete(self.id, self.attempt, result)
            else:
                self.client.fail(self.id, self.attempt, _message(error))
        except AlreadyEnded as ended:
            execution = ended.execution
            if execution is not None and not _is_own_report(execution, self.attempt, error is None):
                self._late(execution)
        except VigilError as failure:
            if error is None:
                raise
            self.client.on_error(
                RuntimeError(f"could not report the failure of execution {self.id}: {failure}")
            )

    def _late(self, execution: Execution) -> None:
        if self.options.on_late_result is not None:
            self.options.on_late_result(execution)
            return
        reason = f": {execution.get('reason')}" if execution.get("reason") else ""
        warnings.warn(
            f"execution {execution.get('id')} had already ended ({execution.get('status')}{reason}) when its runner reported",
            VigilLateResult,
            stacklevel=4,
        )


def _is_own_report(execution: Execution, attempt: int, succeeded: bool) -> bool:
    """A retried report whose first try landed (the answer was lost) comes back already_ended
    with our own ending: that is not a late result."""
    return (
        execution.get("attempt") == attempt
        and execution.get("endedBy") == "runner"
        and execution.get("lateResult") is None
        and execution.get("status") == ("succeeded" if succeeded else "failed")
    )


def _message(error: BaseException) -> str:
    """The error an exception is reported with: ``ValueError: bad row``."""
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


class RunContext:
    """What the work gets from ``with client.run(...) as ctx``.

    ``ctx.cancelled`` is a ``threading.Event`` set once the execution is no longer ours (the
    watchdog ended it, an operator cancelled it — both learned from the next heartbeat — or this
    process is shutting down); ``ctx.check()`` raises ``LostOwnership`` then. Set ``ctx.result``
    to complete the execution with a value."""

    def __init__(self, attempt: _Attempt) -> None:
        self._attempt = attempt
        self.result: Json = None

    @property
    def id(self) -> str:
        """The execution's id."""
        return self._attempt.id

    @property
    def attempt(self) -> int:
        """This attempt's number."""
        return self._attempt.attempt

    @property
    def execution(self) -> Execution:
        """The execution as registered (its resolved ``limits`` included)."""
        return self._attempt.execution

    @property
    def cancelled(self) -> threading.Event:
        """Set once the execution is no longer ours."""
        return self._attempt.cancelled

    @property
    def lost(self) -> Optional[LostOwnership]:
        """Why the execution is no longer ours, once it is not."""
        return self._attempt.lost

    def check(self) -> None:
        """Raises ``LostOwnership`` once the execution is no longer ours; call it in the loop."""
        self._attempt.check()

    def beat(self, progress: Optional[Progress] = None) -> None:
        """Reports progress: a heartbeat WITH a marker (``"3/10"``, a count; an incrementing
        counter when omitted), judged by the ``progress`` limit. Raises ``LostOwnership`` once
        the execution is no longer ours; a transient failure goes to ``on_error`` instead."""
        self._attempt.beat(progress)

    def acquire_slot(self, slot: str, ttl: LimitInput = None) -> SlotGrant:
        """Takes a named slot for this attempt; Vigil releases it when the attempt ends."""
        return self._attempt.acquire_slot(slot, ttl)

    def release_slot(self, slot: str) -> Dict[str, Any]:
        """Gives a slot back before the attempt ends."""
        return self._attempt.release_slot(slot)


class AsyncRunContext(RunContext):
    """``RunContext`` for ``async with client.arun(...)``: the calls that reach Vigil are
    coroutines, run in a thread so the event loop is never blocked."""

    async def beat(self, progress: Optional[Progress] = None) -> None:  # type: ignore[override]
        """``RunContext.beat``, awaited."""
        await asyncio.to_thread(self._attempt.beat, progress)

    async def acquire_slot(self, slot: str, ttl: LimitInput = None) -> SlotGrant:  # type: ignore[override]
        """``RunContext.acquire_slot``, awaited."""
        return await asyncio.to_thread(self._attempt.acquire_slot, slot, ttl)

    async def release_slot(self, slot: str) -> Dict[str, Any]:  # type: ignore[override]
        """``RunContext.release_slot``, awaited."""
        return await asyncio.to_thread(self._attempt.release_slot, slot)

    async def wait_cancelled(self) -> LostOwnership:
        """Returns once the execution is no longer ours, with the reason."""
        await asyncio.to_thread(self._attempt.cancelled.wait)
        assert self._attempt.lost is not None
        return self._attempt.lost


class Run:
    """The context manager ``client.run()`` returns (and a worker uses for each claim)."""

    def __init__(
        self,
        client: "VigilClient",
        registry: RunRegistry,
        options: RunOptions,
        claimed: Optional[Execution] = None,
    ) -> None:
        self._attempt = _Attempt(client, registry, options, claimed)
        self._context: Optional[RunContext] = None
        self._token: Optional[contextvars.Token[Any]] = None

    def __enter__(self) -> RunContext:
        self._attempt.open()
        self._context = RunContext(self._attempt)
        self._token = _current.set(self._context)
        return self._context

    def __exit__(
        self,
        kind: Optional[Type[BaseException]],
        error: Optional[BaseException],
        traceback: Optional[TracebackType],
    ) -> None:
        if self._token is not None:
            _current.reset(self._token)
        assert self._context is not None
        self._attempt.close(error, self._context.result)


class AsyncRun:
    """The async context manager ``client.arun()`` returns."""

    def __init__(self, client: "VigilClient", registry: RunRegistry, options: RunOptions) -> None:
        self._attempt = _Attempt(client, registry, options)
        self._context: Optional[AsyncRunContext] = None
        self._token: Optional[contextvars.Token[Any]] = None

    async def __aenter__(self) -> AsyncRunContext:
        await asyncio.to_thread(self._attempt.open)
        self._context = AsyncRunContext(self._attempt)
        self._token = _current.set(self._context)
        return self._context

    async def __aexit__(
        self,
        kind: Optional[Type[BaseException]],
        error: Optional[BaseException],
        traceback: Optional[TracebackType],
    ) -> None:
        if self._token is not None:
            _current.reset(self._token)
        assert self._context is not None
        await asyncio.to_thread(self._attempt.close, error, self._context.result)
