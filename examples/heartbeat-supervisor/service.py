#!/usr/bin/env python3
"""A long-running service as the heartbeat-file supervisor ran them, unchanged.

It writes its own heartbeat, {process_key, pid, timestamp, status, iteration} with the time in
epoch seconds, to heartbeats/KEY.json after every iteration (temporary file + rename). At start it
takes its database lock, state/KEY.lock, and refuses to run while a previous run's lock is there:
after a crash only clear_db (clear_db.py) lets it start again.

To play a hung service, write this process's pid into state/KEY.hang: it stays alive and stops
beating.

Usage: python3 service.py KEY   (run from the directory that holds heartbeats/ and state/)
"""
import json
import os
import sys
import time

BEAT_SECONDS = 0.25


def main() -> int:
    key = sys.argv[1]
    heartbeat = os.path.join("heartbeats", f"{key}.json")
    lock = os.path.join("state", f"{key}.lock")
    hang = os.path.join("state", f"{key}.hang")
    os.makedirs("heartbeats", exist_ok=True)
    os.makedirs("state", exist_ok=True)
    try:
        with open(lock, "x") as f:
            f.write(str(os.getpid()))
    except FileExistsError:
        print(f"{key}: database locked by a previous run ({lock}); clear_db first", file=sys.stderr)
        return 1
    print(f"{key}: started, pid {os.getpid()}", flush=True)
    iteration = 0
    while True:
        if is_hung(hang):
            time.sleep(3600)
            continue
        iteration += 1
        beat = {
            "process_key": key,
            "pid": os.getpid(),
            "timestamp": time.time(),
            "status": "running",
            "iteration": iteration,
        }
        temporary = f"{heartbeat}.tmp"
        with open(temporary, "w") as f:
            json.dump(beat, f)
        os.replace(temporary, heartbeat)
        time.sleep(BEAT_SECONDS)


def is_hung(path: str) -> bool:
    try:
        with open(path) as f:
            return f.read().strip() == str(os.getpid())
    except FileNotFoundError:
        return False


if __name__ == "__main__":
    sys.exit(main())
