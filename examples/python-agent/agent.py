"""A Python agent watched by Vigil: plans, then works through its steps reporting progress.

Run (Vigil listening on VIGIL_URL, default http://127.0.0.1:7070):

    PYTHONPATH=clients/python python3 examples/python-agent/agent.py

It prints its pid and execution id. Then:
- let it finish: the execution is `succeeded` with the agent's answer as its result;
- `kill -9 PID`: nothing is reported, its liveness helper stops with it, and Vigil ends the
  execution `heartbeat_lost` about 2 s after the last beat;
- `kill PID` or Ctrl-C: the shutdown handler fails it "runner shutdown (SIGTERM)" and exits 143;
- `curl -X POST localhost:7070/v1/executions/ID/cancel`: the agent stops at its next step.
"""

from __future__ import annotations

import hashlib
import os
import sys
import time
from typing import Dict, List

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "clients", "python"))

import vigil  # noqa: E402 - after the path of a plain checkout

STEPS = ["read the ticket", "search the docs", "draft an answer", "check the draft", "reply"]


def think(step: str) -> str:
    """CPU-bound work standing in for a model call: keeps the main thread busy for a while."""
    digest = step.encode()
    until = time.monotonic() + 1.5
    while time.monotonic() < until:
        digest = hashlib.sha256(digest).digest()
    return digest.hex()[:8]


def main() -> None:
    client = vigil.VigilClient()
    vigil.install_shutdown_handler(client)
    limits = {"heartbeat": "2s", "progress": "30s", "run": "10m"}
    with client.run("python-agent", limits=limits, metadata={"ticket": "T-42"}) as ctx:
        print(f"pid {os.getpid()}, execution {ctx.id} (kill -9 {os.getpid()} to see heartbeat_lost)", flush=True)
        notes: List[Dict[str, str]] = []
        for i, step in enumerate(STEPS, start=1):
            ctx.check()  # raises LostOwnership once cancelled or ended by the watchdog
            notes.append({"step": step, "note": think(step)})
            ctx.beat(f"{i}/{len(STEPS)} {step}")
            print(f"  {i}/{len(STEPS)} {step}", flush=True)
        ctx.result = {"steps": len(notes), "answer": notes[-1]["note"]}
    print(f"done: {client.get(ctx.id)['status']}")


if __name__ == "__main__":
    main()
