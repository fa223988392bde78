"""The errors of the Vigil client, with the same stable codes as the TypeScript SDK."""

from __future__ import annotations

from typing import Any, Dict, Optional, cast

from ._types import Execution


class VigilError(Exception):
    """Base class of every error this package raises. ``code`` is stable."""

    code: str = "vigil_error"


class ApiError(VigilError):
    """Vigil answered 4xx/5xx with ``{"error": {"code", "message"}}``."""

    def __init__(self, status: int, code: str, message: str, body: Any = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.body = body


class AlreadyEnded(ApiError):
    """409 ``already_ended``: the execution had ended before this report; ``execution`` is it as
    Vigil has it (a report that came after the watchdog is kept as its ``lateResult``)."""

    @property
    def execution(self) -> Optional[Execution]:
        """The execution as Vigil has it, when the answer carried it."""
        body = self.body if isinstance(self.body, dict) else {}
        execution = body.get("execution")
        return cast(Execution, execution) if isinstance(execution, dict) else None


class LostOwnership(ApiError):
    """The execution is no longer this runner's: the watchdog ended it, an operator cancelled it,
    a newer attempt took over, or this process is shutting down. The work must stop.

    ``execution_status`` is its status when Vigil said (``"failed"``, ``"cancelled"``);
    ``reason`` is Vigil's reason (``"no heartbeat for 2s, limit 2s"``)."""

    def __init__(
        self,
        execution_id: str,
        execution_status: Optional[str],
        reason: str,
        status: int = 409,
        body: Any = None,
    ) -> None:
        message = f"execution {execution_id} is no longer ours ({execution_status or 'unknown'}): {reason}"
        super().__init__(status, "lost_ownership", message, body)
        self.execution_id = execution_id
        self.execution_status = execution_status
        self.reason = reason


class Unreachable(VigilError):
    """Vigil could not be reached: connection refused or reset, a name that does not resolve, a
    timeout. ``transient`` tells whether another try may succeed."""

    code = "unreachable"

    def __init__(self, url: str, message: str, transient: bool) -> None:
        super().__init__(f"cannot reach Vigil at {url}: {message}")
        self.url = url
        self.transient = transient


class VigilWarning(UserWarning):
    """A failure in the background that nobody awaits (a failing liveness heartbeat)."""


class VigilLateResult(UserWarning):
    """A run's report arrived after its execution had already ended."""


def api_error(status: int, body: Any, fallback: str, execution_id: Optional[str]) -> ApiError:
    """The error for an HTTP error answer: the subclass its code names."""
    error: Dict[str, Any] = {}
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        error = body["error"]
    code = _text(error.get("code")) or f"http_{status}"
    message = _text(error.get("message")) or fallback
    if code == "already_ended":
        return AlreadyEnded(status, code, message, body)
    if code == "lost_ownership":
        details = body if isinstance(body, dict) else {}
        reason = _text(details.get("reason")) or message
        state = _text(details.get("status"))
        return LostOwnership(execution_id or "?", state, reason, status, body)
    return ApiError(status, code, message, body)


def _text(value: Any) -> Optional[str]:
    return value if isinstance(value, str) and value else None
