"""One exception handler turning every API failure into the SPEC error shape:
``{"status": "error", "code", "message", "errors": [{"field", "message"}]}``."""

import logging
import uuid

from django.core.exceptions import PermissionDenied
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from config.errors import DomainError

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


def error_body(code: str, message: str, errors: list[dict[str, str]] | None = None) -> dict:
    body = {"status": "error", "code": code, "message": message}
    if errors:
        body["errors"] = errors
    return body


def _flatten(detail, prefix: str = "") -> list[dict[str, str]]:
    rows = []
    if isinstance(detail, dict):
        for key, value in detail.items():
            field = key if key != "non_field_errors" else ""
            rows.extend(
                _flatten(value, f"{prefix}.{field}" if prefix and field else prefix or field)
            )
    elif isinstance(detail, list):
        for index, item in enumerate(detail):
            if isinstance(item, dict | list) and not all(isinstance(i, str) for i in item):
                rows.extend(_flatten(item, f"{prefix}[{index}]"))
            else:
                rows.extend(_flatten(item, prefix))
    else:
        rows.append({"field": prefix, "message": str(detail)})
    return rows


def exception_handler(exc, context):
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
