"""The liveness helper process of ``ProcessLiveness``: ``python -m vigil._liveness_helper``.

Reads its settings (one JSON line) from stdin, then beats until EOF on stdin (the runner closed
it, exited, or was killed) or until its parent is no longer the runner that started it. Tells the
runner ``ready``, ``lost`` and ``error`` as JSON lines on stdout."""

from __future__ import annotations

import json
import os
import select
import signal
import sys
import time
from typing import Any, Dict

from ._liveness import PARENT_POLL, LivenessConfig, beat_until_stopped


def main() -> int:
    """The helper: reads its settings from stdin, beats until EOF on stdin or its parent changes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    parent = os.getppid()
    line = sys.stdin.buffer.readline()
    if not line:
        return 0
    config = LivenessConfig(**json.loads(line))
    stdin = sys.stdin.buffer.fileno()

    def emit(message: Dict[str, Any]) -> None:
        try:
            sys.stdout.write(json.dumps(message) + "\n")
            sys.stdout.flush()
        except BrokenPipeError:
            os._exit(0)

    def wait(seconds: float) -> bool:
        deadline = time.monotonic() + seconds
        while True:
            left = deadline - time.monotonic()
            readable, _, _ = select.select([stdin], [], [], max(0.0, min(left, PARENT_POLL)))
            if readable or os.getppid() != parent:
                return True
            if left <= PARENT_POLL:
                return False

    emit({"type": "ready"})
    beat_until_stopped(config, wait, emit)
    return 0


if __name__ == "__main__":
    sys.exit(main())
