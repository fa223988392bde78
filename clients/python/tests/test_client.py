"""``VigilClient``: one method per route, the errors, and which failures are retried."""

from __future__ import annotations

import json
import socket
import threading
import unittest
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import List, Tuple

from tests.harness import Vigil
from vigil import AlreadyEnded, ApiError, LostOwnership, Unreachable, VigilClient

vigil: Vigil


def setUpModule() -> None:
    global vigil
    vigil = Vigil()


def tearDownModule() -> None:
    vigil.close()


class RoutesTest(unittest.TestCase):
    def setUp(self) -> None:
        self.client = VigilClient(url=vigil.url)

    def test_register_beat_complete(self) -> None:
        execution = self.client.register(
            "embed", id="py-routes", limits={"heartbeat": "5s"}, metadata={"n": 1}
        )
        self.assertEqual(execution["status"], "running")
        self.assertEqual(execution["limits"]["heartbeat"], 5000)
        answer = self.client.heartbeat("py-routes", 1, progress="1/2")
        self.assertIn("deadlineAt", answer)
        self.assertEqual(self.client.get("py-routes")["progress"], "1/2")
        done = self.client.complete("py-routes", 1, {"rows": 2})
        self.assertEqual((done["status"], done["result"]), ("succeeded", {"rows": 2}))

    def test_queued_start_fail(self) -> None:
        queued = self.client.register("embed", id="py-queued", status="queued")
        self.assertEqual(queued["status"], "queued")
        started = self.client.start("py-queued", queued["attempt"])
        self.assertEqual(started["status"], "running")
        failed = self.client.fail("py-queued", started["attempt"], "disk full")
        self.assertEqual((failed["status"], failed["reason"]), ("failed", "disk full"))

    def test_batch_heartbeats_list_lost_ones(self) -> None:
        self.client.register("embed", id="py-batch-live")
        self.client.register("embed", id="py-batch-gone")
        self.client.cancel("py-batch-gone", reason="not needed")
        answer = self.client.heartbeats(
            [{"id": "py-batch-live", "attempt": 1}, {"id": "py-batch-gone", "attempt": 1}]
        )
        self.assertEqual(answer["ok"], ["py-batch-live"])
        self.assertEqual([lost["id"] for lost in answer["lost"]], ["py-batch-gone"])

    def test_register_many(self) -> None:
        owned = VigilClient(url=vigil.url, owner="team-py")
        items = [{"id": f"py-many-{i}", "kind": "many", "metadata": {"i": i}} for i in range(1002)]
        items.append({"id": "py-many-0", "kind": "many"})
        items.append({"kind": ""})
        results = owned.register_many(items)
        self.assertEqual(len(results), 1004)
        self.assertEqual(
            [r["execution"]["id"] for r in results[:1002]], [f"py-many-{i}" for i in range(1002)]
        )
        self.assertEqual(results[1001]["execution"]["owner"], "team-py")
        self.assertEqual(results[1002]["error"]["code"], "already_exists")
        self.assertEqual(results[1003]["error"]["code"], "bad_input")
        self.assertEqual(self.client.get("py-many-1001")["metadata"], {"i": 1001})
        self.assertEqual(self.client.register_many([]), [])

    def test_slots(self) -> None:
        self.client.register("agent", id="py-slot-a")
        self.client.register("agent", id="py-slot-b")
        grant = self.client.acquire_slot("py-slot-a", 1, "agent:alpha", ttl="1m")
        self.assertEqual(grant["slot"], "agent:alpha")
        with self.assertRaises(ApiError) as taken:
            self.client.acquire_slot("py-slot-b", 1, "agent:alpha")
        self.assertEqual((taken.exception.status, taken.exception.code), (409, "slot_taken"))
        self.assertEqual(len(self.client.slots("py-slot-a")["items"]), 1)
        self.assertEqual(self.client.release_slot("py-slot-a", "agent:alpha", 1)["released"], True)

    def test_errors_carry_status_code_and_execution(self) -> None:
        with self.assertRaises(ApiError) as missing:
            self.client.get("py-no-such")
        self.assertEqual((missing.exception.status, missing.exception.code), (404, "not_found"))

        self.client.register("embed", id="py-errors")
        self.client.cancel("py-errors", reason="operator said so")
        with self.assertRaises(LostOwnership) as lost:
            self.client.heartbeat("py-errors", 1)
        self.assertEqual(lost.exception.execution_status, "cancelled")
        self.assertEqual(lost.exception.code, "lost_ownership")
        self.assertIn("operator said so", lost.exception.reason)
        with self.assertRaises(AlreadyEnded) as ended:
            self.client.complete("py-errors", 1, {"late": True})
        self.assertEqual(ended.exception.status, 409)
        execution = ended.exception.execution
        assert execution is not None
        self.assertEqual((execution["id"], execution["status"]), ("py-errors", "cancelled"))

        with self.assertRaises(ApiError) as bad:
            self.client.register("")
        self.assertEqual((bad.exception.status, bad.exception.code), (400, "bad_input"))


class Flaky(BaseHTTPRequestHandler):
    """Answers every request with the status the server was given, and counts them."""

    def _answer(self) -> None:
        server = self.server
        length = int(self.headers.get("content-length") or 0)
        self.rfile.read(length)
        server.hits.append((self.command, self.path))  # type: ignore[attr-defined]
        status = server.status  # type: ignore[attr-defined]
        body = json.dumps({"error": {"code": f"http_{status}", "message": "try later"}}).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer

    def log_message(self, *args: object) -> None:
        pass


class RetriesTest(unittest.TestCase):
    def serve(self, status: int) -> Tuple[str, List[Tuple[str, str]]]:
        server = ThreadingHTTPServer(("127.0.0.1", 0), Flaky)
        server.status = status  # type: ignore[attr-defined]
        server.hits = []  # type: ignore[attr-defined]
        threading.Thread(target=server.serve_forever, daemon=True).start()
        self.addCleanup(server.server_close)
        self.addCleanup(server.shutdown)
        return f"http://127.0.0.1:{server.server_address[1]}", server.hits  # type: ignore[attr-defined]

    def test_transient_answers_are_retried_only_for_requests_safe_to_repeat(self) -> None:
        url, hits = self.serve(503)
        client = VigilClient(url=url, retries=2, report_retry=0)
        with self.assertRaises(ApiError) as beat:
            client.heartbeat("x", 1)
        self.assertEqual(beat.exception.status, 503)
        self.assertEqual(len(hits), 3)
        hits.clear()
        with self.assertRaises(ApiError):
            client.register("embed")
        self.assertEqual(len(hits), 1, "register is never repeated")

    def test_a_4xx_is_never_retried(self) -> None:
        url, hits = self.serve(400)
        with self.assertRaises(ApiError):
            VigilClient(url=url, retries=3).heartbeat("x", 1)
        self.assertEqual(len(hits), 1)

    def test_unreachable_names_the_url(self) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        client = VigilClient(url=f"http://127.0.0.1:{port}", retries=1)
        with self.assertRaises(Unreachable) as failure:
            client.get("x")
        self.assertEqual(failure.exception.code, "unreachable")
        self.assertTrue(failure.exception.transient)
        self.assertIn(f"cannot reach Vigil at http://127.0.0.1:{port}", str(failure.exception))

    def test_defaults_come_from_the_environment(self) -> None:
        client = VigilClient(env={"VIGIL_URL": "http://127.0.0.1:9", "VIGIL_TOKEN": "s3cret"})
        self.assertEqual((client.url, client.token), ("http://127.0.0.1:9", "s3cret"))
        self.assertEqual(VigilClient(env={}).url, "http://127.0.0.1:7070")
        with self.assertRaises(ValueError):
            VigilClient(liveness="fork")


if __name__ == "__main__":
    unittest.main()
