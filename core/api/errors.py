"""One exception handler turning every API failure into the SPEC error shape:
``{"status": "error", "code", "message", "errors": [{"field", "message"}]}``."""

import logging
import uuid

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, JsonResponse
from drf_spectacular.utils import OpenApiResponse
from prometheus_client import Counter
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from core.errors import DomainError

# Served with the control plane's other metrics (core.metrics).
API_ERRORS = Counter(
    "gatehouse_api_errors",
    "Management API requests answered with an error, by status and error code.",
    ["status", "code"],
)

log = logging.getLogger("gatehouse.api")

_CODES = {
    400: "VALIDATION_FAILED",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    406: "NOT_ACCEPTABLE",
    409: "CONFLICT",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    429: "TOO_MANY_REQUESTS",
}


class ErrorRowSerializer(serializers.Serializer):
    field = serializers.CharField(help_text="Dotted path of the offending field; empty if none.")
    message = serializers.CharField()


class ErrorSerializer(serializers.Serializer):
    """The body of every failed request (documented in the OpenAPI schema)."""

    status = serializers.CharField(default="error")
    code = serializers.CharField(help_text="Stable machine-readable reason, e.g. PROXY_EXISTS.")
    message = serializers.CharField()
    errors = ErrorRowSerializer(many=True, required=False)


_DESCRIPTIONS = {
    400: "Invalid input; `errors` lists the fields.",
    401: "Not authenticated.",
    403: "Not allowed.",
    404: "Not found.",
    409: "Conflicts with the current state.",
}


def error_responses(*statuses: int) -> dict[int, OpenApiResponse]:
    """OpenAPI responses for the given error statuses, all in the error shape."""
    return {s: OpenApiResponse(ErrorSerializer, description=_DESCRIPTIONS[s]) for s in statuses}


def error_body(code: str, message: str, errors: list[dict[str, str]] | None = None) -> dict:
    body = {"status": "error", "code": code, "message": message}
    if errors:
        body["errors"] = errors
    return body


def route_not_found(request: HttpRequest) -> JsonResponse:
    """Unknown URLs under the API answer in the error shape rather than Django's HTML page."""
    return JsonResponse(error_body("NOT_FOUND", "No such API endpoint."), status=404)


def _join(prefix: str, key) -> str:
    """``resources`` + 0 -> ``resources[0]``; ``access_control`` + ``mode`` -> dotted."""
    if isinstance(key, int) or (isinstance(key, str) and key.isdigit()):
        return f"{prefix}[{key}]"
    if key in ("non_field_errors", ""):
        return prefix
    return f"{prefix}.{key}" if prefix else str(key)


def _flatten(detail, prefix: str = "") -> list[dict[str, str]]:
    rows = []
    if isinstance(detail, dict):
        for key, value in detail.items():
            rows.extend(_flatten(value, _join(prefix, key)))
    elif isinstance(detail, list):
        for index, item in enumerate(detail):
            # Messages for one field come as a list of strings; lists of objects are per item.
            nested = isinstance(item, dict | list)
            rows.extend(_flatten(item, _join(prefix, index) if nested else prefix))
    else:
        rows.append({"field": prefix, "message": str(detail)})
    return rows


def exception_handler(exc, context):
    response = error_response(exc, context)
    API_ERRORS.labels(str(response.status_code), response.data.get("code", "ERROR")).inc()
    return response


def error_response(exc, context) -> Response:
    """Any error as the API's error body, with its status."""
    if isinstance(exc, DomainError):
        return Response(error_body(exc.code, exc.message, exc.errors), status=exc.status)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None:
        tracking = str(uuid.uuid4())
        log.exception("Unhandled API error (tracking id %s)", tracking)
        body = error_body("INTERNAL_ERROR", "Something went wrong on our side.")
        body["trackingId"] = tracking
        return Response(body, status=status.HTTP_500_INTERNAL_SERVER_ERROR)
    code = _CODES.get(response.status_code, "ERROR")
    if isinstance(exc, exceptions.ValidationError):
        errors = _flatten(exc.detail)
        message = (
            "; ".join(
                f"{e['field']}: {e['message']}" if e["field"] else e["message"] for e in errors
            )
            or "Invalid input."
        )
        response.data = error_body(code, message, errors)
    else:
        detail = getattr(exc, "detail", "")
        response.data = error_body(code, str(detail) or "Request failed.")
    return response
