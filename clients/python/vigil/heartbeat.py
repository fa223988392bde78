"""``HeartbeatWriter``: the heartbeat file of a process Vigil supervises (docs/processes.md)."""

from __future__ import annotations

import json
import os
import re
import sys
import time
from datetime import datetime, timezone
from typing import Optional

USER_HZ = 100
"""Clock ticks per second of /proc/PID/stat's ``starttime``: fixed at 100 by the kernel ABI, as
Vigil reads it."""


def process_start_time(pid: int) -> Optional[float]:
    """The operating system's start time of ``pid`` in seconds since the epoch, as Vigil computes
    it (``btime`` of /proc/stat + starttime / USER_HZ); None off Linux or for no such pid."""
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as stat_file:
            stat = stat_file.read()
        with open("/proc/stat", encoding="utf-8") as boot_file:
            boot = re.search(r"^btime (\d+)$", boot_file.read(), re.MULTILINE)
    except OSError:
        return None
    # The command name is in parentheses and may itself hold spaces and parentheses.
    fields = stat[stat.rindex(")") + 2 :].split(" ")
    if boot is None or len(fields) < 20:
        return None
    return int(boot.group(1)) + round(int(fields[19]) * 1000 / USER_HZ) / 1000


def _iso(seconds: float) -> str:
    moment = datetime.fromtimestamp(seconds, tz=timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class HeartbeatWriter:
    """Writes a supervised process's heartbeat file: ``{name, pid, startedAt, at, status, seq}``
    with ISO-8601 UTC times. Each beat is written to a temporary file and renamed over the old
    one, so a reader never sees half a beat.

    ``file`` defaults to ``VIGIL_HEARTBEAT_FILE`` and ``name`` to ``VIGIL_PROCESS_NAME`` (both set
    by Vigil for the processes it starts), else the script's name. ``startedAt`` is this
    process's start time as the OS knows it: that is how Vigil tells it from an unrelated process
    that later got the same pid. Beat from the loop whose progress proves the process works."""

    def __init__(self, file: Optional[str] = None, name: Optional[str] = None) -> None:
        path = file or os.environ.get("VIGIL_HEARTBEAT_FILE")
        if not path:
            raise ValueError("HeartbeatWriter: expected file= or VIGIL_HEARTBEAT_FILE")
        self.file = path
        script = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "process"
        self.name = name or os.environ.get("VIGIL_PROCESS_NAME") or re.sub(r"\.py$", "", script)
        self.pid = os.getpid()
        # Off Linux there is no /proc: the time this module was loaded is the closest known.
        self.started_at = process_start_time(self.pid) or time.time()
        self._seq = 0
        self._stopped = False

    def beat(self, status: str = "ok") -> None:
        """Writes one beat. ``status`` is free text; ``error``, ``failed``, ``unhealthy``,
        ``fatal`` or ``error: …`` tell Vigil the process is failing. Raises ``OSError`` when the
        file cannot be written: a process that cannot beat should know."""
        if self._stopped:
            return
        self._seq += 1
        beat = {
            "name": self.name,
            "pid": self.pid,
            "startedAt": _iso(self.started_at),
            "at": _iso(time.time()),
            "status": status,
            "seq": self._seq,
        }
        directory = os.path.dirname(os.path.abspath(self.file))
        os.makedirs(directory, exist_ok=True)
        temporary = f"{self.file}.{self.pid}.tmp"
        with open(temporary, "w", encoding="utf-8") as out:
            out.write(json.dumps(beat) + "\n")
        os.replace(temporary, self.file)

    def stop(self) -> None:
        """Stops beating and removes the file: a process that ends on purpose leaves no beat."""
        self._stopped = True
        try:
            os.remove(self.file)
        except FileNotFoundError:
            pass
