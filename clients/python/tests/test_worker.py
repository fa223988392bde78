"""``client.worker()`` against a real ``vigil serve``: claimed executions run and report,
concurrency, stop, backoff while Vigil is unreachable, and a retry after a runner is killed -9
picked up by another worker."""

from __future__ import annotations

import os
import signal
import socket
import threading
import time
import unittest
from typing import Any, List

from tests.harness import Vigil, finish, python_child, read_line, until
from vigil import ApiError, RunContext, VigilClient

YAML = """sweep:
  interval: 200ms
kinds:
  py-job:
    limits: { heartbeat: 2s }
    retry: { maxAttempts: 3, backoff: 200ms }
"""

vigil: Vigil


def setUpModule() -> None:
    global vigil
    vigil = Vigil(YAML)


def tearDownModule() -> None:
    vigil.close()


def ended(execution_id: str) -> Any:
    return until(
        lambda: (e := vigil.get(execution_id))["status"] not in ("queued", "running") and e,
        f"execution {execution_id} to end",
    )


class WorkerTest(unittest.TestCase):
    def test_runs_claimed_executions_concurrently_and_reports_each(self) -> None:
        client = VigilClient(vigil.url)
        active: List[int] = [0, 0]  # now, most
        lock = threading.Lock()

        def work(ctx: RunContext) -> Any:
            with lock:
                active[0] += 1
                active[1] = max(active[1], active[0])
            # Hold each run until both threads have one, so concurrency is seen, not timed.
            until(lambda: active[1] == 2 or ctx.execution["metadata"].get("last"), "two at once")
            with lock:
                active[0] -= 1
            if ctx.execution["metadata"].get("fail"):
                raise ValueError("bad input")
            return {"doubled": ctx.execution["metadata"]["n"] * 2}

        worker = client.worker("py-batch", work, concurrency=2, wait=1, runner="py-test")
        self.addCleanup(worker.stop)
        client.register("py-batch", id="pyb-1", status="queued", metadata={"n": 1})
        client.register("py-batch", id="pyb-2", status="queued", metadata={"n": 2})
        client.register("py-batch", id="pyb-3", status="queued", metadata={"n": 3, "fail": True, "last": True})
        self.assertEqual(ended("pyb-1")["result"], {"doubled": 2})
        self.assertEqual(ended("pyb-2")["result"], {"doubled": 4})
        failed = ended("pyb-3")
        self.assertEqual((failed["status"], failed["error"]), ("failed", "ValueError: bad input"))
        self.assertEqual(active[1], 2)
        worker.stop()
        worker.join()
        self.assertEqual(worker.running, 0)

    def test_a_refused_claim_stops_the_worker_and_join_raises_it(self) -> None:
        client = VigilClient(vigil.url, token=None)
        worker = client.worker("py-idle", lambda ctx: None, owner="x" * 300, wait=0)
        with self.assertRaises(ApiError) as raised:
            worker.join(timeout=20)
        self.assertEqual(raised.exception.status, 400)

    def test_backs_off_longer_each_time_while_vigil_cannot_be_reached(self) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        errors: List[Exception] = []
        client = VigilClient(f"http://127.0.0.1:{port}", retries=0, on_error=errors.append)
        calls: List[float] = []
        original = client.claim

        def counted(*args: Any, **kwargs: Any) -> Any:
            calls.append(time.monotonic())
            return original(*args, **kwargs)

        client.claim = counted  # type: ignore[method-assign]
        worker = client.worker("py-job", lambda ctx: None, max_backoff=4)
        until(lambda: len(calls) >= 4, "four claims")
        worker.stop()
        worker.join()
        gaps = [b - a for a, b in zip(calls, calls[1:4])]
        # Pause n lies in [base/2, base] and base doubles from 0.5 s: each at least the one before.
        self.assertGreaterEqual(gaps[0], 0.25 - 0.01)
        self.assertGreaterEqual(gaps[1], 0.5 - 0.01)
        self.assertGreaterEqual(gaps[2], 1.0 - 0.01)
        self.assertEqual(len(errors), 1)
        self.assertTrue(str(errors[0]).startswith("claim failed: "))


DOOMED = """
import threading, vigil
client = vigil.VigilClient()
def work(ctx):
    print(ctx.id, ctx.attempt, flush=True)
    threading.Event().wait()
client.worker("py-job", work, runner="doomed").join()
"""


class KilledRunnerTest(unittest.TestCase):
    def test_a_retry_after_kill_9_is_claimed_by_another_worker_and_completes(self) -> None:
        client = VigilClient(vigil.url)
        child = python_child(DOOMED, {"VIGIL_URL": vigil.url})
        self.addCleanup(finish, child)
        client.register("py-job", id="py-kill-9", status="queued", metadata={"n": 7})
        self.assertEqual(read_line(child, "the claim"), "py-kill-9 1")
        os.kill(child.pid, signal.SIGKILL)
        child.wait()

        seen: List[int] = []

        def survive(ctx: RunContext) -> Any:
            seen.append(ctx.attempt)
            return {"by": "survivor", "attempt": ctx.attempt}

        worker = client.worker("py-job", survive, runner="survivor", wait=1)
        self.addCleanup(worker.stop)
        done = until(
            lambda: (e := vigil.get("py-kill-9"))["status"] == "succeeded" and e,
            "the retry to succeed",
            timeout=60,
        )
        worker.stop()
        worker.join()
        self.assertEqual(done["attempt"], 2)
        self.assertEqual(done["result"], {"by": "survivor", "attempt": 2})
        self.assertEqual(seen, [2])


if __name__ == "__main__":
    unittest.main()
