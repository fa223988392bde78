"""A real ``vigil serve`` for the tests: started from this checkout's bin/vigil.js on a free port,
with a SQLite file in a temporary directory, and stopped afterwards.

``VIGIL_BIN`` (default: bin/vigil.js of this checkout) and ``VIGIL_NODE`` (default: ``node``)
choose the binary and the Node.js that runs it."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from typing import Any, Callable, Dict, List, Optional, TypeVar

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
PACKAGE_DIR = os.path.join(ROOT, "clients", "python")
VIGIL_BIN = os.environ.get("VIGIL_BIN") or os.path.join(ROOT, "bin", "vigil.js")
NODE = os.environ.get("VIGIL_NODE") or "node"

T = TypeVar("T")


def until(check: Callable[[], Optional[T]], what: str, timeout: float = 20.0) -> T:
    """Polls ``check`` every 20 ms until it returns a truthy value, or fails after ``timeout``:
    waiting on a condition, never for a time."""
    deadline = time.monotonic() + timeout
    last: Optional[BaseException] = None
    while True:
        try:
            value = check()
            if value:
                return value
        except Exception as error:  # noqa: BLE001 - kept for the failure message
            last = error
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}" + (f": {last}" if last else ""))
        time.sleep(0.02)


class Vigil:
    """``vigil serve`` in a temporary directory (its vigil.yaml, its SQLite file)."""

    def __init__(self, yaml: str = "sweep:\n  interval: 200ms\n") -> None:
        self.dir = tempfile.mkdtemp(prefix="vigil-py-")
        with open(os.path.join(self.dir, "vigil.yaml"), "w", encoding="utf-8") as config:
            config.write(yaml)
        env = {k: v for k, v in os.environ.items() if not k.startswith("VIGIL_")}
        env.update(
            VIGIL_DATABASE_URL=f"sqlite:{os.path.join(self.dir, 'vigil.db')}",
            VIGIL_LOG_LEVEL="warn",
        )
        self.env = env
        self.process = subprocess.Popen(
            [NODE, VIGIL_BIN, "serve", "--port", "0"],
            cwd=self.dir,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        self._output: List[str] = []
        threading.Thread(target=self._collect, daemon=True).start()
        self.url = until(self._listening, "vigil serve to listen", timeout=60)

    def _collect(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._output.append(line.decode("utf-8", "replace"))

    def _listening(self) -> Optional[str]:
        if self.process.poll() is not None:
            raise RuntimeError(f"vigil serve exited: {''.join(self._output)}")
        match = re.search(r"listening on (http://\S+)", "".join(self._output))
        return match.group(1) if match else None

    def get(self, execution_id: str) -> Dict[str, Any]:
        """The execution as Vigil has it."""
        with urllib.request.urlopen(f"{self.url}/v1/executions/{execution_id}", timeout=10) as r:
            return json.loads(r.read())

    def ended(self, execution_id: str, timeout: float = 20.0) -> Dict[str, Any]:
        """Waits for the execution to leave queued/running, and returns it."""

        def check() -> Optional[Dict[str, Any]]:
            execution = self.get(execution_id)
            return execution if execution["status"] not in ("queued", "running") else None

        return until(check, f"execution {execution_id} to end", timeout)

    def cli(self, *args: str) -> "subprocess.CompletedProcess[str]":
        """Runs ``vigil ARGS`` in this service's directory, on its store."""
        return subprocess.run(
            [NODE, VIGIL_BIN, *args],
            cwd=self.dir,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
        )

    def close(self) -> None:
        """Stops the service and removes its directory."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def python_child(script: str, env: Dict[str, str], **kwargs: Any) -> "subprocess.Popen[str]":
    """``python -c SCRIPT`` with this package on its path, stdout piped as text."""
    full = dict(os.environ)
    full["PYTHONPATH"] = os.pathsep.join(p for p in (PACKAGE_DIR, full.get("PYTHONPATH")) if p)
    full.update(env)
    return subprocess.Popen(
        [sys.executable, "-c", script],
        env=full,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kwargs,
    )


def finish(process: "subprocess.Popen[str]") -> None:
    """Kills the child if it still runs, reaps it and closes its pipes."""
    if process.poll() is None:
        process.kill()
    process.wait()
    for stream in (process.stdout, process.stderr):
        if stream is not None:
            stream.close()


def read_line(process: "subprocess.Popen[str]", what: str, timeout: float = 30.0) -> str:
    """The next line the child prints, within ``timeout`` (its stderr in the failure)."""
    assert process.stdout is not None
    result: List[str] = []
    reader = threading.Thread(target=lambda: result.append(process.stdout.readline()), daemon=True)  # type: ignore[union-attr]
    reader.start()
    reader.join(timeout)
    if not result or not result[0]:
        stderr = process.stderr.read() if process.poll() is not None and process.stderr else ""
        raise AssertionError(f"no line from the child for {what}: {stderr}")
    return result[0].strip()
