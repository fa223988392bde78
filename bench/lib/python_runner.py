"""Runner process for bench/python-blocked.ts, using the Python client from clients/python.

  python_runner.py blocked URL pure|gil process|thread COUNT BLOCK_S HEARTBEAT
      runs COUNT executions one after another, each blocking the main thread for BLOCK_S seconds
      (pure: a Python loop; gil: one sum(range(n)) call, which holds the GIL throughout, n
      calibrated first); prints one JSON line per run: {"id", "outcome", "blocked_s"}.
  python_runner.py killable URL HEARTBEAT
      starts one run, prints {"id"} once it is running, then waits to be killed.
"""

from __future__ import annotations

import json
import sys
import threading
import time

import vigil


def calibrate(seconds: float) -> int:
    """An n for which sum(range(n)) takes at least ``seconds`` here, now."""
    n = 1_000_000
    while True:
        started = time.monotonic()
        sum(range(n))
        took = time.monotonic() - started
        if took >= seconds:
            return n
        n = int(n * min(10.0, 1.2 * seconds / max(took, 1e-3)))


def blocked(url: str, how: str, liveness: str, count: int, block_s: float, heartbeat: str) -> None:
    client = vigil.VigilClient(url=url, liveness=liveness)
    # 1.3 x: the load on a shared machine varies between calibration and use; a call that ends
    # short of block_s is shown as such in the results, never hidden.
    n = calibrate(block_s * 1.3) if how == "gil" else 0
    for _ in range(count):
        outcome = "returned"
        run_id = ""
        took = 0.0
        try:
            with client.run(
                f"py-{how}-{liveness}",
                limits={"heartbeat": heartbeat, "run": "5m"},
                on_late_result=lambda execution: None,  # counted from Vigil's side instead
            ) as ctx:
                run_id = ctx.id
                started = time.monotonic()
                if how == "gil":
                    sum(range(n))
                else:
                    x = 1
                    while time.monotonic() - started < block_s:
                        x = (x * 1103515245 + 12345) % 2**31
                took = time.monotonic() - started
        except Exception as error:  # noqa: BLE001 - reported to the benchmark
            outcome = f"raised {type(error).__name__}: {error}"
        print(json.dumps({"id": run_id, "outcome": outcome, "blocked_s": took}), flush=True)


def killable(url: str, heartbeat: str) -> None:
    client = vigil.VigilClient(url=url)
    with client.run("py-killed", limits={"heartbeat": heartbeat, "run": "5m"}) as ctx:
        print(json.dumps({"id": ctx.id}), flush=True)
        threading.Event().wait()


if __name__ == "__main__":
    args = sys.argv[1:]
    if args[0] == "blocked":
        blocked(args[1], args[2], args[3], int(args[4]), float(args[5]), args[6])
    else:
        killable(args[1], args[2])
