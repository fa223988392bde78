"""The app's runner: claims pending interactions and executes them, one at a time.

Standard library only; it talks to PostgreSQL through `psql`. With --hang it claims one interaction
and then hangs in the executor (the driver kills it with kill -9, like the OOM killer would), so the
interaction stays 'running' with nobody working on it.

    python3 runner.py DATABASE_URL RUNNER_ID [--hang]
"""

import subprocess
import sys
import time

CLAIM = """
UPDATE interactions SET status = 'running', runner_id = :'runner', started_at = now()
 WHERE interaction_id = (
   SELECT interaction_id FROM interactions
    WHERE status = 'pending' AND (not_before IS NULL OR not_before <= now())
    ORDER BY interaction_id LIMIT 1 FOR UPDATE SKIP LOCKED)
RETURNING interaction_id, actor_type;
"""

SUCCESS = """
UPDATE interactions SET status = 'completed', completed_at = now(),
       output = jsonb_build_object('answer', 'done by ' || :'runner')
 WHERE interaction_id = :'id' AND status = 'running' AND runner_id = :'runner';
"""

WAITING = "SELECT count(*) FROM interactions WHERE status = 'pending';"


def psql(url, sql, **variables):
    args = ["psql", url, "-X", "-q", "-t", "-A", "-F", "|", "-v", "ON_ERROR_STOP=1"]
    for name, value in variables.items():
        args += ["-v", f"{name}={value}"]
    done = subprocess.run(args, input=sql, capture_output=True, text=True, check=True)
    return [line for line in done.stdout.splitlines() if line and not line.startswith("UPDATE")]


def main():
    url, runner = sys.argv[1], sys.argv[2]
    hang = "--hang" in sys.argv[3:]
    idle_since = time.monotonic()
    while True:
        claimed = psql(url, CLAIM, runner=runner)
        if not claimed:
            # Pending work that is not due yet (not_before): wait for it, up to 20 s in all.
            if int(psql(url, WAITING)[0]) == 0 or time.monotonic() - idle_since > 20:
                return
            time.sleep(0.2)
            continue
        interaction_id, actor_type = claimed[0].split("|")
        print(f"{runner}: claimed interaction {interaction_id} ({actor_type})", flush=True)
        if hang:
            while True:  # the executor hangs; only kill -9 ends this
                time.sleep(60)
        time.sleep(0.3)  # the model call or the script
        psql(url, SUCCESS, runner=runner, id=interaction_id)
        print(f"{runner}: completed interaction {interaction_id}", flush=True)
        idle_since = time.monotonic()


if __name__ == "__main__":
    main()
