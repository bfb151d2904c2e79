"""The control plane's access log: one JSON line per request on ``gatehouse.access``, the
gateway's format (method, path, status, latency), never a query string, a body or a header."""

import logging
import time
from collections.abc import Awaitable, Callable

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings
from django.core.exceptions import MiddlewareNotUsed
from django.http import HttpRequest, HttpResponse
from opentelemetry import trace

log = logging.getLogger("gatehouse.access")


def trace_id() -> str | None:
    """The current OpenTelemetry trace's ID, when a tracer is recording one."""
    context = trace.get_current_span().get_span_context()
    return format(context.trace_id, "032x") if context.is_valid else None


def request_fields(request: HttpRequest, status: int, started: float) -> dict:
    user = getattr(request, "user", None)
    return {
        "plane": "control",
        "method": request.method,
        "path": request.path,
        "status": status,
        "latency_ms": round((time.perf_counter() - started) * 1000, 2),
        "user": user.get_username() if user is not None and user.is_authenticated else None,
        "trace_id": trace_id(),
    }


class AccessLogMiddleware:
    """Logs each request after its response; not loaded unless ``GATEHOUSE_ACCESS_LOG``."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable) -> None:
        if not settings.GATEHOUSE_ACCESS_LOG:
            raise MiddlewareNotUsed
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> HttpResponse | Awaitable[HttpResponse]:
        if self.is_async:
            return self.respond(request)
        started = time.perf_counter()
        response = self.get_response(request)
        log.info("request", extra=request_fields(request, response.status_code, started))
        return response

    async def respond(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = await self.get_response(request)
        log.info("request", extra=request_fields(request, response.status_code, started))
        return response
