"""A web site on a free loopback port that records every request it gets, for the URL
guardrail's tests: whether a check reached it, over which connections, and how many at once."""

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class BurstServer(ThreadingHTTPServer):
    # A big backlog: a burst of connections must not wait on SYN retries.
    request_queue_size = 1024
    daemon_threads = True


class RecordingSite:
    """Answers HEAD and GET with 200 after ``delay`` seconds (HTTP/1.1, so connections are
    kept alive) and records each request as ``(path, client port)``."""

    def __init__(self, delay: float = 0.0):
        self.delay = delay
        self.requests: list[tuple[str, int]] = []
        self.in_flight = 0
        self.most_in_flight = 0
        self.lock = threading.Lock()
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_HEAD(self) -> None:
                site.answer(self)

            def do_GET(self) -> None:
                site.answer(self)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = BurstServer(("127.0.0.1", 0), Handler)
        # A short poll interval: stopping the site waits for at most one.
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    def answer(self, handler: BaseHTTPRequestHandler) -> None:
        with self.lock:
            self.requests.append((handler.path, handler.client_address[1]))
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            if self.delay:
                # Holds the answer the way a slow site does; nothing here waits on a condition.
                time.sleep(self.delay)
            handler.send_response(200)
            handler.send_header("Content-Length", "0")
            handler.end_headers()
        finally:
            with self.lock:
                self.in_flight -= 1

    def connections(self) -> set[int]:
        """The client ports requests came from: one per connection."""
        with self.lock:
            return {port for _, port in self.requests}

    def __enter__(self) -> "RecordingSite":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)
