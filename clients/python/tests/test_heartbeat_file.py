"""``HeartbeatWriter``: the files it writes are what ``vigil proc check`` reads."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import unittest
from typing import Any, Dict

from tests.harness import NODE, VIGIL_BIN, finish, python_child, read_line
from vigil import HeartbeatWriter
from vigil.heartbeat import process_start_time

WRITER = """
import sys, vigil
writer = vigil.HeartbeatWriter()
for line in sys.stdin:
    command = line.strip()
    if command == "stop":
        writer.stop()
    else:
        writer.beat(command)
    print("done", flush=True)
"""


class HeartbeatFileTest(unittest.TestCase):
    def setUp(self) -> None:
        self.dir = tempfile.mkdtemp(prefix="vigil-py-proc-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.file = os.path.join(self.dir, "run", "worker.heartbeat.json")
        with open(os.path.join(self.dir, "vigil.yaml"), "w", encoding="utf-8") as config:
            # No start command and many checks before recovery: the check only judges.
            config.write(
                "processes:\n  worker:\n"
                f"    heartbeatFile: {self.file}\n"
                "    heartbeat: 30s\n    unhealthyAfter: 100\n    startupGrace: 0s\n"
            )

    def check(self) -> Dict[str, Any]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("VIGIL_")}
        env["VIGIL_DATABASE_URL"] = f"sqlite:{os.path.join(self.dir, 'vigil.db')}"
        answer = subprocess.run(
            [NODE, VIGIL_BIN, "proc", "check", "worker", "--json"],
            cwd=self.dir,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        self.assertEqual(answer.returncode, 0, answer.stderr + answer.stdout)
        return json.loads(answer.stdout)["items"][0]

    def test_beats_are_read_by_vigil_proc_check(self) -> None:
        child = python_child(
            WRITER,
            {"VIGIL_HEARTBEAT_FILE": self.file, "VIGIL_PROCESS_NAME": "worker"},
            stdin=subprocess.PIPE,
        )
        self.addCleanup(finish, child)
        assert child.stdin is not None
        self.addCleanup(child.stdin.close)

        def send(command: str) -> None:
            assert child.stdin is not None
            child.stdin.write(command + "\n")
            child.stdin.flush()
            self.assertEqual(read_line(child, command), "done")

        self.assertEqual(self.check()["verdict"], "no_heartbeat")
        send("ok")
        with open(self.file, encoding="utf-8") as beat_file:
            beat = json.load(beat_file)
        self.assertEqual((beat["name"], beat["pid"], beat["status"], beat["seq"]), ("worker", child.pid, "ok", 1))
        self.assertTrue(beat["startedAt"].endswith("Z") and beat["at"].endswith("Z"))
        self.assertEqual(self.check()["verdict"], "healthy")
        send("error: database unreachable")
        self.assertEqual(self.check()["verdict"], "error_status")
        send("stop")
        self.assertFalse(os.path.exists(self.file))

    def test_started_at_is_the_os_start_time_and_writes_are_atomic(self) -> None:
        writer = HeartbeatWriter(file=os.path.join(self.dir, "self.json"), name="self")
        self.assertEqual(writer.started_at, process_start_time(os.getpid()))
        for _ in range(3):
            writer.beat()
        self.assertEqual(sorted(os.listdir(self.dir)), ["self.json", "vigil.yaml"], "no temp file left")
        writer.stop()
        writer.beat()
        self.assertFalse(os.path.exists(os.path.join(self.dir, "self.json")), "no beat after stop")

    def test_needs_a_file(self) -> None:
        saved = os.environ.pop("VIGIL_HEARTBEAT_FILE", None)
        try:
            with self.assertRaisesRegex(ValueError, "VIGIL_HEARTBEAT_FILE"):
                HeartbeatWriter()
        finally:
            if saved is not None:
                os.environ["VIGIL_HEARTBEAT_FILE"] = saved


if __name__ == "__main__":
    unittest.main()
