"""JSON shapes of the HTTP API as a runner sees them: camelCase keys, ISO-8601 times."""

from __future__ import annotations

from typing import Any, Dict, List, Optional, TypedDict, Union

Json = Any
"""A JSON value (what ``json.dumps`` accepts)."""

Progress = Union[str, int, float]
"""A progress marker: ``"3/10"``, a count, an offset."""

LimitInput = Union[int, float, str, None]
"""A duration: milliseconds, or a string such as ``"500ms"``, ``"30s"``, ``"15m"``; None = no limit."""


class Execution(TypedDict, total=False):
    """An execution as Vigil answers it (``GET /v1/executions/:id``)."""

    id: str
    kind: str
    owner: Optional[str]
    parentId: Optional[str]
    status: str
    attempt: int
    queuedAt: Optional[str]
    startedAt: Optional[str]
    heartbeatAt: Optional[str]
    progressAt: Optional[str]
    endedAt: Optional[str]
    deadlineAt: Optional[str]
    limits: Dict[str, Optional[int]]
    progress: Optional[Progress]
    reason: Optional[str]
    verdict: Optional[str]
    endedBy: Optional[str]
    result: Json
    error: Json
    lateResult: Optional[Dict[str, Any]]
    metadata: Dict[str, Json]


class LostBeat(TypedDict):
    """A beat of ``POST /v1/heartbeats`` whose execution is no longer this attempt's."""

    id: str
    status: Optional[str]
    reason: str


class HeartbeatsAnswer(TypedDict):
    """The answer of ``POST /v1/heartbeats``."""

    ok: List[str]
    lost: List[LostBeat]


class SlotGrant(TypedDict):
    """A slot taken by ``POST /v1/executions/:id/slots``."""

    slot: str
    attempt: int
    expiresAt: Optional[str]


__all__ = [
    "Execution",
    "HeartbeatsAnswer",
    "Json",
    "LimitInput",
    "LostBeat",
    "Progress",
    "SlotGrant",
]
