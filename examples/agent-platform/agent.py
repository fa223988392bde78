#!/usr/bin/env python3
"""One agent of the platform: runs each execution as a child process and says what it runs.

    GET  /api/executions/running          {"executions": [{"id": ..., "pid": ...}], "recent": [ids]}
    POST /api/executions                  {"id": "exec-1", "seconds": 600}: starts an execution
    POST /api/executions/{id}/terminate   stops it (SIGTERM, then SIGKILL): 200, or 404 when not running

Standard library only. Its registry lives in memory: an agent killed and restarted knows nothing of
what its previous self was running, as a restarted container does not.
"""

import argparse
import json
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

RECENT_SECONDS = 60

running = {}  # execution id -> Popen
recent = {}  # execution id -> when it finished
lock = threading.Lock()


def reap():
    """Moves finished executions to `recent` (their report to the backend is in flight)."""
    while True:
        now = time.time()
        with lock:
            for execution_id, process in list(running.items()):
                if process.poll() is not None:
                    del running[execution_id]
                    recent[execution_id] = now
            for execution_id, finished in list(recent.items()):
                if now - finished > RECENT_SECONDS:
                    del recent[execution_id]
        time.sleep(0.2)


class Handler(BaseHTTPRequestHandler):
    def reply(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path != "/api/executions/running":
            return self.reply(404, {"error": "not found"})
        with lock:
            executions = [{"id": i, "pid": p.pid} for i, p in running.items()]
            self.reply(200, {"executions": executions, "recent": list(recent)})

    def do_POST(self):
        parts = self.path.strip("/").split("/")
        if parts == ["api", "executions"]:
            length = int(self.headers.get("content-length") or 0)
            body = json.loads(self.rfile.read(length) or b"{}")
            seconds = float(body.get("seconds", 60))
            process = subprocess.Popen(
                [sys.executable, "-c", f"import time; time.sleep({seconds})"]
            )
            with lock:
                running[str(body["id"])] = process
            return self.reply(201, {"id": body["id"], "pid": process.pid})
        if len(parts) == 4 and parts[:2] == ["api", "executions"] and parts[3] == "terminate":
            with lock:
                process = running.get(parts[2])
            if process is None:
                return self.reply(404, {"status": "not_running"})
            process.terminate()
            try:
                process.wait(timeout=2)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            with lock:
                running.pop(parts[2], None)
            return self.reply(200, {"status": "terminated"})
        self.reply(404, {"error": "not found"})

    def log_message(self, format, *args):
        pass


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--name", required=True)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    threading.Thread(target=reap, daemon=True).start()
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    print(f"agent {args.name} listening on 127.0.0.1:{args.port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
