"""A trading bot's API, as its watchdog sees it (standard library only).

GET  /health                   {"status": "ok"}
GET  /operations               every operation: id, status, last_state_update_timestamp
GET  /operations/{id}          one operation (404 when unknown)
POST /operations/{id}/freeze   the operation's loop stops updating its state: a zombie that
                               stays RUNNING while nothing moves

Each RUNNING operation updates its state every 0.2 s on its own thread, as a live strategy loop
would. The port is the first argument (0: any free port); the bot prints "listening on PORT".
"""

import json
import sys
import threading
import time
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

OPERATIONS = {
    "op_live": {"status": "RUNNING", "frozen": False},
    "op_zombie": {"status": "RUNNING", "frozen": False},
    "op_done": {"status": "COMPLETED", "frozen": True},
}
STATE_LOCK = threading.Lock()
UPDATED = {op_id: time.time() for op_id in OPERATIONS}


def strategy_loop(op_id):
    while True:
        time.sleep(0.2)
        with STATE_LOCK:
            if not OPERATIONS[op_id]["frozen"]:
                UPDATED[op_id] = time.time()


def operation(op_id):
    with STATE_LOCK:
        stamp = datetime.fromtimestamp(UPDATED[op_id], tz=timezone.utc).isoformat()
        return {
            "id": op_id,
            "status": OPERATIONS[op_id]["status"],
            "last_state_update_timestamp": stamp,
        }


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def reply(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        parts = [p for p in self.path.split("/") if p]
        if parts == ["health"]:
            return self.reply(200, {"status": "ok"})
        if parts == ["operations"]:
            return self.reply(200, {"operations": [operation(op_id) for op_id in OPERATIONS]})
        if len(parts) == 2 and parts[0] == "operations":
            if parts[1] in OPERATIONS:
                return self.reply(200, operation(parts[1]))
            return self.reply(404, {"error": "no such operation"})
        return self.reply(404, {"error": "not found"})

    def do_POST(self):
        parts = [p for p in self.path.split("/") if p]
        if len(parts) == 3 and parts[0] == "operations" and parts[2] == "freeze":
            if parts[1] not in OPERATIONS:
                return self.reply(404, {"error": "no such operation"})
            with STATE_LOCK:
                OPERATIONS[parts[1]]["frozen"] = True
            return self.reply(200, operation(parts[1]))
        return self.reply(404, {"error": "not found"})


def main():
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 8000
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    for op_id in OPERATIONS:
        threading.Thread(target=strategy_loop, args=(op_id,), daemon=True).start()
    print(f"listening on {server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
