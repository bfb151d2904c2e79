"""The gateway's HTTP front door: uvicorn's httptools protocol with limits on what one client
can make a process hold.

uvicorn bounds neither the size nor the count of request headers, nor the time a client may
take to send them or its body: a few connections sending endless headers grow the worker by
hundreds of megabytes, and hundreds sending them slowly hold file descriptors until the
process cannot accept its health checks. Each connection here gets:

- a cap on the request head (request line and headers, ``GATEHOUSE_MAX_HEADER_BYTES``) and on
  the number of headers (``GATEHOUSE_MAX_HEADERS``): 431, connection closed;
- a deadline for the whole head, from the connection's start or the request's first byte
  (``GATEHOUSE_HEADER_TIMEOUT``): 408, connection closed;
- an idle deadline while a body is expected (``GATEHOUSE_BODY_TIMEOUT``, reset by every
  read): 408, connection closed;
- a cap on the process's open connections (``GATEHOUSE_MAX_CONNECTIONS``): past it a new
  connection is answered 503 and closed at once.

When the process drains, uvicorn closes every connection that is not inside a request. That is
right for an idle keep-alive connection, but a connection accepted a moment ago, whose request
is still on its way (a load balancer connects and sends at once), would be reset with the
request unread, and a balancer never passes on a POST it has sent: its caller gets a 502. Such a
connection is served instead (one request, then closed), and closed if nothing arrives within
``DRAIN_FIRST_REQUEST_GRACE``.

Pass the class to uvicorn (``http=FrontDoorProtocol``); it reads the limits from settings.
"""

import asyncio

from django.conf import settings
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from gateways.dataplane.adapters import neutral_error_body

# Seconds a connection accepted just before the drain gets to deliver its first request; a
# balancer sends it with the connection, so this only bounds a client that sends nothing.
DRAIN_FIRST_REQUEST_GRACE = 1.0

_REASONS = {
    408: b"Request Timeout",
    431: b"Request Header Fields Too Large",
    503: b"Service Unavailable",
}


def refusal_bytes(status: int, code: str, message: str) -> bytes:
    """A complete HTTP response that closes the connection."""
    body = neutral_error_body(status, code, message)
    head = (
        b"HTTP/1.1 %d %s\r\ncontent-type: application/json\r\ncontent-length: %d\r\n"
        b"connection: close\r\n\r\n" % (status, _REASONS[status], len(body))
    )
    return head + body


class FrontDoorProtocol(HttpToolsProtocol):
    """``HttpToolsProtocol`` with the limits in the module docstring."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.max_head_bytes = settings.GATEHOUSE_MAX_HEADER_BYTES
        self.max_headers = settings.GATEHOUSE_MAX_HEADERS
        self.head_timeout = settings.GATEHOUSE_HEADER_TIMEOUT
        self.body_timeout = settings.GATEHOUSE_BODY_TIMEOUT
        self.max_connections = settings.GATEHOUSE_MAX_CONNECTIONS
        self.reading_head = True  # waiting for (the rest of) a request head
        self.head_bytes = 0
        self.header_count = 0
        self.too_many_headers = False
        self.head_timer: asyncio.TimerHandle | None = None
        self.body_timer: asyncio.TimerHandle | None = None
        self.request_begun = False  # any request on this connection yet
        self.draining = False

    # --- connection ------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        if len(self.connections) >= self.max_connections:
            self.transport = transport
            message = "This gateway process is at its connection limit; try again shortly."
            transport.write(refusal_bytes(503, "too_many_connections", message))
            transport.close()
            return
        super().connection_made(transport)
        self.head_timer = self.loop.call_later(self.head_timeout, self.head_timed_out)

    def connection_lost(self, exc: Exception | None) -> None:
        self.cancel_timers()
        super().connection_lost(exc)

    def shutdown(self) -> None:
        """The process drains (see the module docstring): a request that has begun to arrive,
        or a first one still on its way, is served and the connection closed after it."""
        if self.transport.is_closing():
            return
        self.draining = True
        cycle = self.cycle
        if cycle is not None and not cycle.response_complete:
            cycle.keep_alive = False  # inside a request: uvicorn's own handling
            return
        if self.reading_head and self.head_bytes > 0:
            return  # a head is arriving: served once complete (the head deadline bounds it)
        if not self.request_begun:
            self.loop.call_later(DRAIN_FIRST_REQUEST_GRACE, self.close_if_unused)
            return
        self.transport.close()  # idle between requests

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.transport.is_closing():
            self.cancel_timers()
            return
        if self.reading_head:
            self.head_bytes += len(data)
            if self.head_bytes > self.max_head_bytes:
                message = f"The request head is larger than {self.max_head_bytes} bytes."
                self.refuse(431, "request_header_too_large", message)
            elif self.too_many_headers:
                message = f"The request has more than {self.max_headers} headers."
                self.refuse(431, "too_many_headers", message)
            return
        self.watch_body()

    # --- parser callbacks ------------------------------------------------------------------

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self.request_begun = True
        self.reading_head = True
        self.head_bytes = self.header_count = 0
        if self.head_timer is None:
            self.head_timer = self.loop.call_later(self.head_timeout, self.head_timed_out)

    def on_header(self, name: bytes, value: bytes) -> None:
        self.header_count += 1
        if self.header_count > self.max_headers:
            self.too_many_headers = True
            return
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        if self.too_many_headers:
            return  # refused once the parser returns, never handed to the app
        self.reading_head = False
        if self.head_timer is not None:
            self.head_timer.cancel()
            self.head_timer = None
        super().on_headers_complete()
        if self.draining and self.cycle is not None:
            self.cycle.keep_alive = False

    def on_body(self, body: bytes) -> None:
        if not self.too_many_headers:
            super().on_body(body)

    def on_message_complete(self) -> None:
        if not self.too_many_headers:
            super().on_message_complete()

    # --- limits ----------------------------------------------------------------------------

    def watch_body(self) -> None:
        """(Re)start the idle deadline while the current request's body is still expected
        and the app is not holding reads back; stop it otherwise."""
        if self.body_timer is not None:
            self.body_timer.cancel()
            self.body_timer = None
        cycle = self.cycle
        if (
            cycle is not None
            and cycle.more_body
            and not cycle.response_complete
            and not self.flow.read_paused
        ):
            self.body_timer = self.loop.call_later(self.body_timeout, self.body_timed_out)

    def head_timed_out(self) -> None:
        self.head_timer = None
        if self.reading_head and not self.transport.is_closing():
            message = f"The request head did not arrive within {self.head_timeout:g} s."
            self.refuse(408, "request_timeout", message)

    def body_timed_out(self) -> None:
        self.body_timer = None
        cycle = self.cycle
        if cycle is None or not cycle.more_body or self.transport.is_closing():
            return
        if cycle.response_started:
            self.transport.close()
            return
        message = f"No part of the request body arrived for {self.body_timeout:g} s."
        self.refuse(408, "request_timeout", message)

    def close_if_unused(self) -> None:
        """End of the drain's grace: close the connection unless a request arrived on it."""
        if not self.request_begun and not self.transport.is_closing():
            self.transport.close()

    def refuse(self, status: int, code: str, message: str) -> None:
        self.cancel_timers()
        self.transport.write(refusal_bytes(status, code, message))
        self.transport.close()

    def cancel_timers(self) -> None:
        for timer in (self.head_timer, self.body_timer):
            if timer is not None:
                timer.cancel()
        self.head_timer = self.body_timer = None
