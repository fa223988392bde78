"""Watched runs against a real ``vigil serve``: results, late results, loss of ownership,
liveness while the main thread is blocked, a runner killed with SIGKILL, the shutdown handler."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import time
import unittest
import warnings
from typing import Any, Dict, List

from tests.harness import Vigil, finish, python_child, read_line, until
from vigil import (
    LostOwnership,
    RunContext,
    VigilClient,
    VigilLateResult,
    current_run,
)

vigil: Vigil


def setUpModule() -> None:
    global vigil
    vigil = Vigil()


def tearDownModule() -> None:
    vigil.close()


def hold_the_gil(seconds: float) -> None:
    """One C call that holds the GIL for at least ``seconds``: ``sum(range(n))`` never releases
    it, so no other thread of this interpreter runs meanwhile. ``n`` is calibrated here first."""
    n = 2_000_000
    while True:
        started = time.monotonic()
        sum(range(n))
        if time.monotonic() - started >= seconds:
            return
        took = max(time.monotonic() - started, 1e-3)
        n = int(n * min(10.0, 1.5 * seconds / took))


class RunTest(unittest.TestCase):
    def setUp(self) -> None:
        self.errors: List[Exception] = []
        self.client = VigilClient(url=vigil.url, on_error=self.errors.append)

    def test_completes_with_the_result_and_reports_progress(self) -> None:
        with self.client.run("embed", id="py-run-ok", limits={"heartbeat": "1s"}, metadata={"n": 1}) as ctx:
            self.assertEqual((ctx.id, ctx.attempt), ("py-run-ok", 1))
            self.assertEqual(ctx.execution["status"], "running")
            self.assertEqual(self.client.running, [{"id": "py-run-ok", "attempt": 1, "kind": "embed"}])
            ctx.beat("1/2")
            ctx.beat()
            ctx.result = {"embedded": 2}
        execution = vigil.get("py-run-ok")
        self.assertEqual(execution["status"], "succeeded")
        self.assertEqual(execution["endedBy"], "runner")
        self.assertEqual(execution["result"], {"embedded": 2})
        self.assertEqual(execution["progress"], 1, "the counter, sent when beat() has no marker")
        self.assertEqual(self.client.running, [])

    def test_fails_with_the_exception_which_goes_on(self) -> None:
        with self.assertRaises(ValueError):
            with self.client.run("embed", id="py-run-throw"):
                raise ValueError("bad row 7")
        execution = vigil.get("py-run-throw")
        self.assertEqual((execution["status"], execution["reason"]), ("failed", "ValueError: bad row 7"))

    def test_decorator_completes_with_the_return_value(self) -> None:
        seen: List[Any] = []

        @self.client.watched(kind="summarize", limits={"heartbeat": "2s"})
        def summarize(text: str) -> Dict[str, int]:
            ctx = current_run()
            assert isinstance(ctx, RunContext)
            seen.append(ctx.id)
            ctx.beat("read")
            return {"words": len(text.split())}

        self.assertEqual(summarize("a b c"), {"words": 3})
        execution = vigil.get(seen[0])
        self.assertEqual((execution["kind"], execution["status"]), ("summarize", "succeeded"))
        self.assertEqual(execution["result"], {"words": 3})
        self.assertIsNone(current_run())

    def test_a_late_result_goes_to_the_callback(self) -> None:
        late: List[Dict[str, Any]] = []
        with self.client.run(
            "embed", id="py-run-late", limits={"progress": "300ms"}, on_late_result=late.append
        ) as ctx:
            # No progress: the watchdog ends it; the work does not look and finishes anyway.
            vigil.ended("py-run-late")
            ctx.result = {"rows": 10}
        self.assertEqual(len(late), 1)
        self.assertEqual(late[0]["verdict"], "no_progress")
        self.assertEqual(late[0]["lateResult"]["result"], {"rows": 10})
        self.assertEqual(vigil.get("py-run-late")["status"], "failed")

    def test_a_late_result_without_a_callback_is_a_warning(self) -> None:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with self.client.run("embed", id="py-run-late-warn", limits={"progress": "300ms"}):
                vigil.ended("py-run-late-warn")
        self.assertTrue(any(issubclass(w.category, VigilLateResult) for w in caught))

    def test_a_cancel_sets_cancelled_and_check_raises(self) -> None:
        with self.assertRaises(LostOwnership) as stopped:
            with self.client.run("embed", id="py-run-cancel", limits={"heartbeat": "600ms"}) as ctx:
                self.client.cancel("py-run-cancel", reason="operator: wrong input")
                self.assertTrue(ctx.cancelled.wait(20), "liveness learns of the cancel")
                ctx.check()
        self.assertEqual(stopped.exception.execution_status, "cancelled")
        self.assertIn("wrong input", stopped.exception.reason)
        execution = vigil.get("py-run-cancel")
        self.assertEqual(execution["status"], "cancelled")
        self.assertIsNone(execution["lateResult"], "the work's own stop is not reported as a result")
        with self.assertRaises(LostOwnership):
            ctx.beat("after")

    def test_lost_ownership_stops_the_work_at_the_next_progress_beat(self) -> None:
        done = 0
        with self.assertRaises(LostOwnership):
            with self.client.run("embed", id="py-run-lost", limits={"heartbeat": "10s"}) as ctx:
                for item in range(1000):
                    if item == 3:
                        self.client.cancel("py-run-lost")
                    ctx.beat(f"{item}/1000")
                    done += 1
        self.assertEqual(done, 3, "the beat after the cancel raised")
        self.assertEqual(vigil.get("py-run-lost")["status"], "cancelled")

    def test_liveness_goes_on_while_a_c_call_holds_the_gil(self) -> None:
        with self.client.run("crunch", id="py-run-gil", limits={"heartbeat": "1s"}) as ctx:
            hold_the_gil(3.0)
            ctx.result = "crunched"
        execution = vigil.get("py-run-gil")
        self.assertEqual((execution["status"], execution["verdict"]), ("succeeded", None))
        self.assertEqual(self.errors, [])

    def test_liveness_goes_on_through_a_pure_python_loop_with_either_mode(self) -> None:
        for mode in ("process", "thread"):
            client = VigilClient(url=vigil.url, liveness=mode)
            with client.run("loop", id=f"py-run-loop-{mode}", limits={"heartbeat": "1s"}):
                until_time = time.monotonic() + 3
                x = 1
                while time.monotonic() < until_time:
                    x = (x * 1103515245 + 12345) % 2**31
            self.assertEqual(vigil.get(f"py-run-loop-{mode}")["status"], "succeeded", mode)

    def test_async_run(self) -> None:
        async def agent() -> str:
            async with self.client.arun("agent", id="py-arun", limits={"heartbeat": "1s"}) as ctx:
                await ctx.beat("step 1")
                await asyncio.sleep(0)
                ctx.result = {"answer": 42}
            late: List[Dict[str, Any]] = []
            async with self.client.arun(
                "agent", id="py-arun-cancel", on_late_result=late.append
            ) as cancelled:
                await asyncio.to_thread(self.client.cancel, "py-arun-cancel")
                with self.assertRaises(LostOwnership):
                    await cancelled.beat()
                lost = await asyncio.wait_for(cancelled.wait_cancelled(), 20)
                self.assertEqual(lost.execution_status, "cancelled")
            # The work went on after the cancel and finished: its result is a late one.
            self.assertEqual([e["status"] for e in late], ["cancelled"])

            @self.client.watched()
            async def plan(goal: str) -> str:
                ctx = current_run()
                assert ctx is not None
                await ctx.beat("planned")  # type: ignore[misc]
                return f"plan for {goal}"

            return await plan("dinner")

        self.assertEqual(asyncio.run(agent()), "plan for dinner")
        self.assertEqual(vigil.get("py-arun")["result"], {"answer": 42})
        self.assertEqual(vigil.get("py-arun")["progress"], "step 1")
        self.assertEqual(vigil.get("py-arun-cancel")["status"], "cancelled")


RUNNER = """
import os, sys, threading, vigil
client = vigil.VigilClient()
if os.environ.get("SHUTDOWN_HANDLER"):
    vigil.install_shutdown_handler(client)
with client.run("py-child", limits={"heartbeat": "1s"}) as ctx:
    print(ctx.id, ctx._attempt._liveness._child.pid, flush=True)
    threading.Event().wait()
"""


class RunnerProcessTest(unittest.TestCase):
    def test_a_runner_killed_with_sigkill_is_ended_heartbeat_lost(self) -> None:
        child = python_child(RUNNER, {"VIGIL_URL": vigil.url})
        self.addCleanup(finish, child)
        execution_id, helper = read_line(child, "the run to start").split()
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
        ended = vigil.ended(execution_id)
        self.assertEqual((ended["status"], ended["verdict"]), ("failed", "heartbeat_lost"))
        until(lambda: not _alive(int(helper)), "the liveness helper to exit with its runner")

    def test_sigterm_fails_the_runs_and_exits_143(self) -> None:
        for sig, name in ((signal.SIGTERM, "SIGTERM"), (signal.SIGINT, "SIGINT")):
            child = python_child(RUNNER, {"VIGIL_URL": vigil.url, "SHUTDOWN_HANDLER": "1"})
            self.addCleanup(finish, child)
            execution_id, _ = read_line(child, "the run to start").split()
            child.send_signal(sig)
            self.assertEqual(child.wait(30), 128 + sig, child.stderr.read() if child.stderr else "")
            execution = vigil.get(execution_id)
            self.assertEqual(execution["status"], "failed")
            self.assertEqual(execution["reason"], f"runner shutdown ({name})")
            self.assertEqual(execution["endedBy"], "runner")


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as stat:
            state = stat.read().rsplit(")", 1)[1].split()[0]
        return state not in ("Z", "X")
    except OSError:
        return False


if __name__ == "__main__":
    unittest.main()
