"""``VigilClient``: one method per route of Vigil's HTTP API for runners, and watched runs."""

from __future__ import annotations

import functools
import inspect
import os
import threading
import time
import warnings
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, TypeVar, cast
from urllib.parse import quote, urlencode

from ._errors import AlreadyEnded, VigilWarning
from ._run import AsyncRun, Run, RunContext, RunOptions, RunRegistry
from ._transport import Transport
from ._types import Execution, HeartbeatsAnswer, Json, LimitInput, Progress, SlotGrant
from ._worker import Worker

DEFAULT_URL = "http://127.0.0.1:7070"

#: The most items ``POST /v1/executions/batch`` takes in one request.
MAX_BATCH = 1000

F = TypeVar("F", bound=Callable[..., Any])


def _path(execution_id: str, action: Optional[str] = None) -> str:
    base = f"/v1/executions/{quote(execution_id, safe='')}"
    return f"{base}/{action}" if action else base


def _warn(error: Exception) -> None:
    warnings.warn(str(error), VigilWarning, stacklevel=2)


class VigilClient:
    """A client of Vigil's HTTP API for runners.

    ``url`` defaults to ``VIGIL_URL``, else ``http://127.0.0.1:7070``; ``token`` to
    ``VIGIL_TOKEN`` (sent as ``Authorization: Bearer``). ``timeout`` is per request, in seconds;
    ``retries`` is how often a transient failure (connection refused or reset, a timeout,
    502/503/504) is retried, only for requests that are safe to repeat: heartbeats, complete,
    fail and get. ``report_retry`` is how long (s) a final report keeps being retried, so that a
    result survives a restart of Vigil. ``liveness`` is ``"process"`` (a helper process, the
    default) or ``"thread"``: see docs/python.md. ``on_error`` receives failures in the
    background that nobody awaits (default: a ``VigilWarning``).

    Errors: ``ApiError`` (``status``, ``code``), its subclasses ``LostOwnership`` and
    ``AlreadyEnded``, and ``Unreachable``."""

    def __init__(
        self,
        url: Optional[str] = None,
        token: Optional[str] = None,
        owner: Optional[str] = None,
        timeout: float = 10,
        retries: int = 3,
        *,
        report_retry: float = 60,
        liveness: str = "process",
        on_error: Optional[Callable[[Exception], None]] = None,
        env: Optional[Mapping[str, str]] = None,
    ) -> None:
        environ = os.environ if env is None else env
        if liveness not in ("process", "thread"):
            raise ValueError(f'liveness: expected "process" or "thread", got {liveness!r}')
        self.url: str = url or environ.get("VIGIL_URL") or DEFAULT_URL
        self.token: Optional[str] = token if token is not None else environ.get("VIGIL_TOKEN") or None
        self.owner = owner
        self.timeout = timeout
        self.retries = retries
        self.report_retry = report_retry
        self.liveness = liveness
        self.on_error: Callable[[Exception], None] = on_error or _warn
        self._transport = Transport(self.url, self.token, timeout, retries)
        self._runs = RunRegistry()

    # -- one method per route -------------------------------------------------------------

    def register(
        self,
        kind: str,
        *,
        id: Optional[str] = None,
        owner: Optional[str] = None,
        parent_id: Optional[str] = None,
        status: str = "running",
        limits: Optional[Mapping[str, LimitInput]] = None,
        metadata: Optional[Mapping[str, Json]] = None,
    ) -> Execution:
        """``POST /v1/executions``: registers an execution (``running`` unless ``queued``).
        Never retried: a repeat could register twice."""
        body: Dict[str, Any] = {"kind": kind, "status": status}
        for key, value in (
            ("id", id),
            ("owner", owner if owner is not None else self.owner),
            ("parentId", parent_id),
            ("limits", dict(limits) if limits is not None else None),
            ("metadata", dict(metadata) if metadata is not None else None),
        ):
            if value is not None:
                body[key] = value
        return cast(Execution, self._transport.request("POST", "/v1/executions", body))

    def register_many(self, executions: Iterable[Mapping[str, Json]]) -> List[Dict[str, Any]]:
        """``POST /v1/executions/batch``: registers many executions, each a dict with the fields of
        ``POST /v1/executions`` (``kind``, and ``id``, ``owner``, ``parentId``, ``status``,
        ``limits``, ``metadata``), 1,000 per request (one request after another for more). The
        client's ``owner`` is given to an item that names none. Returns one result per item, in
        order: ``{"execution": {...}}`` or ``{"error": {"code", "message"}}`` for that item alone
        (e.g. ``already_exists``); a request refused as a whole raises ``ApiError``. Never retried."""
        items = [dict(e) for e in executions]
        if self.owner is not None:
            for item in items:
                item.setdefault("owner", self.owner)
        results: List[Dict[str, Any]] = []
        for start in range(0, len(items), MAX_BATCH):
            answer = self._transport.request(
                "POST", "/v1/executions/batch", {"executions": items[start : start + MAX_BATCH]}
            )
            results.extend(cast(Dict[str, Any], answer)["results"])
        return results

    def get(self, execution_id: str) -> Execution:
        """``GET /v1/executions/:id``."""
        return cast(Execution, self._transport.request("GET", _path(execution_id), retry=True))

    def list(self, **query: str) -> Dict[str, Any]:
        """``GET /v1/executions?...``: ``{"items": [...], "nextCursor": ...}``; e.g.
        ``list(kind="embed", status="running")``."""
        suffix = f"?{urlencode(query)}" if query else ""
        return cast(Dict[str, Any], self._transport.request("GET", f"/v1/executions{suffix}", retry=True))

    def start(self, execution_id: str, attempt: int) -> Execution:
        """``POST /v1/executions/:id/start``: queued → running."""
        return cast(
            Execution,
            self._transport.request("POST", _path(execution_id, "start"), {"attempt": attempt}),
        )

    def heartbeat(
        self, execution_id: str, attempt: int, progress: Optional[Progress] = None
    ) -> Dict[str, Any]:
        """``POST /v1/executions/:id/heartbeat``; with ``progress`` it also counts as progress.
        Raises ``LostOwnership`` when the execution is no longer this attempt's."""
        body: Dict[str, Any] = {"attempt": attempt}
        if progress is not None:
            body["progress"] = progress
        return cast(
            Dict[str, Any],
            self._transport.request(
                "POST", _path(execution_id, "heartbeat"), body, retry=True, execution_id=execution_id
            ),
        )

    def heartbeats(self, beats: List[Dict[str, Any]]) -> HeartbeatsAnswer:
        """``POST /v1/heartbeats``: many ``{id, attempt, progress?}`` beats in one request; lost
        ones are listed in the answer, not raised."""
        return cast(
            HeartbeatsAnswer,
            self._transport.request("POST", "/v1/heartbeats", {"beats": beats}, retry=True),
        )

    def complete(self, execution_id: str, attempt: int, result: Json = None) -> Execution:
        """``POST /v1/executions/:id/complete``. Raises ``AlreadyEnded`` when it had ended first."""
        body: Dict[str, Any] = {"attempt": attempt}
        if result is not None:
            body["result"] = result
        return self._report(execution_id, "complete", body)

    def fail(
        self, execution_id: str, attempt: int, error: Json, retryable: Optional[bool] = None
    ) -> Execution:
        """``POST /v1/executions/:id/fail``. Raises ``AlreadyEnded`` when it had ended first."""
        body: Dict[str, Any] = {"attempt": attempt, "error": error}
        if retryable is not None:
            body["retryable"] = retryable
        return self._report(execution_id, "fail", body)

    def _report(self, execution_id: str, action: str, body: Dict[str, Any]) -> Execution:
        # Reports are fenced by attempt, so a repeat cannot end anything twice.
        return cast(
            Execution,
            self._transport.request(
                "POST",
                _path(execution_id, action),
                body,
                retry=True,
                retry_for=self.report_retry,
                execution_id=execution_id,
            ),
        )

    def cancel(self, execution_id: str, reason: Optional[str] = None) -> Execution:
        """``POST /v1/executions/:id/cancel`` (an operator's; the admin token when tokens are set)."""
        body = {} if reason is None else {"reason": reason}
        return cast(Execution, self._transport.request("POST", _path(execution_id, "cancel"), body))

    def acquire_slot(
        self, execution_id: str, attempt: int, slot: str, ttl: LimitInput = None
    ) -> SlotGrant:
        """``POST /v1/executions/:id/slots``: takes a named slot for this attempt. ``ApiError``
        ``slot_taken`` (409) while another execution holds it."""
        body: Dict[str, Any] = {"attempt": attempt, "slot": slot}
        if ttl is not None:
            body["ttl"] = ttl
        return cast(
            SlotGrant,
            self._transport.request(
                "POST", _path(execution_id, "slots"), body, execution_id=execution_id
            ),
        )

    def slots(self, execution_id: str) -> Dict[str, Any]:
        """``GET /v1/executions/:id/slots``: the slots this execution holds."""
        return cast(
            Dict[str, Any], self._transport.request("GET", _path(execution_id, "slots"), retry=True)
        )

    def release_slot(self, execution_id: str, slot: str, attempt: int) -> Dict[str, Any]:
        """``DELETE /v1/executions/:id/slots/:slot``: gives a slot back before the attempt ends."""
        path = f"{_path(execution_id, 'slots')}/{quote(slot, safe='')}?attempt={attempt}"
        return cast(Dict[str, Any], self._transport.request("DELETE", path))

    def claim(
        self, kind: str, runner: str, wait: float = 0, owner: Optional[str] = None
    ) -> Optional[Execution]:
        """``POST /v1/kinds/:kind/claim``: the next queued attempt of ``kind`` whose backoff has
        ended, already running for ``runner``, or None when none came within ``wait`` seconds
        (at most 30)."""
        body: Dict[str, Any] = {"runner": runner, "wait": int(wait * 1000)}
        if owner is not None:
            body["owner"] = owner
        answer = self._transport.request(
            "POST",
            f"/v1/kinds/{quote(kind, safe='')}/claim",
            body,
            # The server holds the answer up to ``wait``: the request may take that long on top.
            timeout=wait + self.timeout,
        )
        return cast(Optional[Execution], answer.get("execution"))

    def worker(
        self,
        kind: str,
        fn: Callable[[RunContext], Any],
        *,
        runner: Optional[str] = None,
        concurrency: int = 1,
        wait: float = 20,
        owner: Optional[str] = None,
        max_backoff: float = 30,
        on_late_result: Optional[Callable[[Execution], None]] = None,
    ) -> Worker:
        """Runs ``fn(ctx)`` for every execution of ``kind`` this runner can claim (queued
        registrations, and the retries the watchdog queues), each inside ``run()``'s machinery,
        ``concurrency`` at a time; ``fn``'s return value is the result. ``worker.stop()`` ends it,
        ``worker.join()`` waits. See docs/python.md."""
        return Worker(
            self,
            kind,
            fn,
            runner=runner,
            concurrency=concurrency,
            wait=wait,
            owner=owner,
            max_backoff=max_backoff,
            on_late_result=on_late_result,
        )

    # -- watched runs ---------------------------------------------------------------------

    def run(
        self,
        kind: str,
        *,
        id: Optional[str] = None,
        owner: Optional[str] = None,
        parent_id: Optional[str] = None,
        limits: Optional[Mapping[str, LimitInput]] = None,
        metadata: Optional[Mapping[str, Json]] = None,
        on_late_result: Optional[Callable[[Execution], None]] = None,
    ) -> Run:
        """``with client.run(kind=...) as ctx:`` registers an execution (running), beats liveness
        in the background while the block runs, and completes it with ``ctx.result`` or fails it
        with the exception that left the block (which goes on). See docs/python.md."""
        options = RunOptions(kind, id, owner, parent_id, limits, metadata, on_late_result)
        return Run(self, self._runs, options)

    def arun(
        self,
        kind: str,
        *,
        id: Optional[str] = None,
        owner: Optional[str] = None,
        parent_id: Optional[str] = None,
        limits: Optional[Mapping[str, LimitInput]] = None,
        metadata: Optional[Mapping[str, Json]] = None,
        on_late_result: Optional[Callable[[Execution], None]] = None,
    ) -> AsyncRun:
        """``async with client.arun(kind=...) as ctx:``: ``run()`` for asyncio code; the
        blocking calls go to a thread (``asyncio.to_thread``), ``await ctx.beat()``."""
        options = RunOptions(kind, id, owner, parent_id, limits, metadata, on_late_result)
        return AsyncRun(self, self._runs, options)

    def watched(
        self,
        kind: Optional[str] = None,
        *,
        limits: Optional[Mapping[str, LimitInput]] = None,
        metadata: Optional[Mapping[str, Json]] = None,
        on_late_result: Optional[Callable[[Execution], None]] = None,
    ) -> Callable[[F], F]:
        """A decorator: each call of the function is a run of ``kind`` (default: the function's
        name), completed with its return value or failed with its exception. Inside,
        ``vigil.current_run()`` is the run's context. Works on ``async def`` functions too."""

        def decorate(fn: F) -> F:
            name = kind or fn.__name__
            if inspect.iscoroutinefunction(fn):

                @functools.wraps(fn)
                async def run_async(*args: Any, **kwargs: Any) -> Any:
                    async with self.arun(
                        name, limits=limits, metadata=metadata, on_late_result=on_late_result
                    ) as ctx:
                        ctx.result = await fn(*args, **kwargs)
                    return ctx.result

                return cast(F, run_async)

            @functools.wraps(fn)
            def run_sync(*args: Any, **kwargs: Any) -> Any:
                with self.run(
                    name, limits=limits, metadata=metadata, on_late_result=on_late_result
                ) as ctx:
                    ctx.result = fn(*args, **kwargs)
                return ctx.result

            return cast(F, run_sync)

        return decorate

    @property
    def running(self) -> List[Dict[str, Any]]:
        """The runs of this client that have started and not finished: ``{id, attempt, kind}``."""
        return self._runs.describe()

    def fail_running(self, reason: str, timeout: Optional[float] = None) -> None:
        """Fails every run of this client that has not finished with ``reason`` as its error (and
        so its reason), and marks them lost (``ctx.cancelled`` is set, ``ctx.check()`` raises).
        Returns when every report was answered, or after ``timeout`` seconds."""
        runs = self._runs.snapshot()
        threads = [
            threading.Thread(target=self._shutdown_one, args=(run, reason), daemon=True)
            for run in runs
        ]
        for thread in threads:
            thread.start()
        deadline = None if timeout is None else time.monotonic() + timeout
        for thread in threads:
            thread.join(None if deadline is None else max(0.0, deadline - time.monotonic()))

    def _shutdown_one(self, run: Any, reason: str) -> None:
        try:
            run.shutdown(reason)
        except AlreadyEnded:
            pass  # the watchdog or an operator ended it first: nothing left to do
        except Exception as error:  # noqa: BLE001 - every failure goes to on_error
            self.on_error(RuntimeError(f"could not fail execution {run.id}: {error}"))
