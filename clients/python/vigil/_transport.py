"""JSON over HTTP to Vigil (urllib), with typed errors and retries of transient failures."""

from __future__ import annotations

import errno
import http.client
import json
import random
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any, Dict, Optional

from ._errors import ApiError, Unreachable, VigilError, api_error

TRANSIENT_STATUSES = frozenset({502, 503, 504})
"""Gateway answers that mean "try again": the service (or the proxy's view of it) is down."""

_TRANSIENT_ERRNOS = frozenset(
    {
        errno.ECONNREFUSED,
        errno.ECONNRESET,
        errno.EPIPE,
        errno.ETIMEDOUT,
        errno.EHOSTUNREACH,
        errno.ENETUNREACH,
        errno.ECONNABORTED,
    }
)


def retry_delay(n: int) -> float:
    """Seconds before retry ``n`` (1-based): 100 ms doubling, capped at 2 s, half of it random.

    Short on purpose, as in the TypeScript SDK: a heartbeat is worth retrying only while it can
    still land well within the heartbeat limit; the random half keeps many runners cut off by the
    same blip from coming back in step."""
    base: float = min(2.0, 0.1 * 2.0 ** (n - 1))
    return base / 2 + random.random() * base / 2


def is_transient(error: BaseException) -> bool:
    """Whether another try may succeed: a refused or reset connection, a timeout, 502/503/504.
    Never another 4xx; never a name that does not resolve."""
    if isinstance(error, ApiError):
        return error.status in TRANSIENT_STATUSES
    if isinstance(error, Unreachable):
        return error.transient
    return False


@dataclass(frozen=True)
class Transport:
    """Requests to one Vigil service."""

    url: str
    token: Optional[str]
    timeout: float
    retries: int

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        retry: bool = False,
        retry_for: Optional[float] = None,
        timeout: Optional[float] = None,
        execution_id: Optional[str] = None,
    ) -> Any:
        """Sends one request and returns the parsed JSON answer (None when empty).

        With ``retry``, transient failures are retried ``retries`` times, or for ``retry_for``
        seconds when given. Raises ``ApiError`` (or its subclasses) and ``Unreachable``."""
        tries = self.retries + 1 if retry else 1
        until = time.monotonic() + retry_for if retry and retry_for is not None else None
        n = 1
        while True:
            try:
                return self._once(method, path, body, timeout or self.timeout, execution_id)
            except VigilError as error:
                exhausted = n >= tries if until is None else time.monotonic() >= until
                if exhausted or not is_transient(error):
                    raise
            time.sleep(retry_delay(n))
            n += 1

    def _once(
        self, method: str, path: str, body: Any, timeout: float, execution_id: Optional[str]
    ) -> Any:
        url = self.url.rstrip("/") + path
        headers: Dict[str, str] = {"accept": "application/json"}
        data: Optional[bytes] = None
        if body is not None:
            headers["content-type"] = "application/json"
            data = json.dumps(body).encode("utf-8")
        if self.token:
            headers["authorization"] = f"Bearer {self.token}"
        request = urllib.request.Request(url, data=data, headers=headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return _parse(response.read())
        except urllib.error.HTTPError as answer:
            text = _read_error_body(answer)
            fallback = f"{method} {urllib.parse.urlsplit(url).path} answered {answer.code}"
            if text:
                fallback += f": {text[:200]}"
            raise api_error(answer.code, _parse_or_none(text), fallback, execution_id) from None
        except (urllib.error.URLError, OSError, http.client.HTTPException) as error:
            raise _unreachable(self.url, error, timeout) from error


def _parse(raw: bytes) -> Any:
    return json.loads(raw) if raw else None


def _parse_or_none(text: str) -> Any:
    try:
        return json.loads(text) if text else None
    except ValueError:
        return None


def _read_error_body(answer: urllib.error.HTTPError) -> str:
    try:
        return answer.read().decode("utf-8", "replace")
    except (OSError, http.client.HTTPException):
        return ""


def _unreachable(url: str, error: BaseException, timeout: float) -> Unreachable:
    """Why a request got no answer, and whether that is worth another try."""
    cause = error.reason if isinstance(error, urllib.error.URLError) else error
    if isinstance(cause, (socket.timeout, TimeoutError)):
        return Unreachable(url, f"no answer within {timeout:g} s", transient=True)
    if isinstance(cause, socket.gaierror):
        return Unreachable(url, str(cause), transient=cause.errno == socket.EAI_AGAIN)
    if isinstance(cause, (http.client.RemoteDisconnected, http.client.IncompleteRead)):
        return Unreachable(url, str(cause) or type(cause).__name__, transient=True)
    if isinstance(cause, OSError):
        return Unreachable(url, cause.strerror or str(cause), cause.errno in _TRANSIENT_ERRNOS)
    return Unreachable(url, str(cause), transient=False)
