#!/usr/bin/env python3
"""The service's cleanup script, as the supervisor's clear_db action called it (with --force):
removes the database lock a crashed or killed run left behind, and logs what it did.

Usage: python3 clear_db.py KEY --force
"""
import os
import sys
import time


def main() -> int:
    if len(sys.argv) < 2 or "--force" not in sys.argv[2:]:
        print("usage: clear_db.py KEY --force (refusing to clear without --force)", file=sys.stderr)
        return 2
    key = sys.argv[1]
    lock = os.path.join("state", f"{key}.lock")
    try:
        with open(lock) as f:
            holder = f.read().strip()
        os.remove(lock)
        done = f"removed the lock of pid {holder}"
    except FileNotFoundError:
        done = "no lock to remove"
    with open(os.path.join("state", "clear_db.log"), "a") as log:
        log.write(f"{time.time():.3f} {key}: {done}\n")
    print(f"clear_db {key}: {done}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
