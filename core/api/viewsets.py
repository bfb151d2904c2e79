"""The base every management API viewset builds on: lookups that raise the domain's 404, and
201 responses with a Location header. Writes go through services; views only translate."""

import re
from typing import Any, ClassVar

from django.core.exceptions import ObjectDoesNotExist
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Model
from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers, status, viewsets
from rest_framework.response import Response
from rest_framework.reverse import reverse

from core.errors import DomainError, NotFound
from proxies.models import Proxy
from proxies.selectors import proxy_get

PROXY_PARAMETER = OpenApiParameter("proxy_slug", str, OpenApiParameter.PATH, description="Proxy ID")

_HEAD = re.compile(r"^([A-Za-z_]+)(.*)$")


def field_aliases(serializer: serializers.Serializer) -> dict[str, str]:
    """Model field name -> API field path (``access_mode`` -> ``access_control.mode``), so the
    field errors services raise name what the client sent."""
    aliases = {}
    for name, field in serializer.fields.items():
        if isinstance(field, serializers.Serializer) and field.source == "*":
            for child_name, child in field.fields.items():
                aliases[child.source] = f"{name}.{child_name}"
        elif field.source not in (name, "*") and "." not in field.source:
            aliases[field.source] = name
    return aliases


def _renamed(errors: list[dict[str, str]], aliases: dict[str, str]) -> list[dict[str, str]]:
    rows = []
    for row in errors:
        match = _HEAD.match(row.get("field") or "")
        if match and match.group(1) in aliases:
            row = {**row, "field": aliases[match.group(1)] + match.group(2)}
        rows.append(row)
    return rows


class ServiceViewSet(viewsets.GenericViewSet):
    """A viewset whose writes call services. PUT is not offered: updates are partial."""

    http_method_names = ["get", "post", "patch", "delete", "head", "options"]
    not_found: ClassVar[type[DomainError]] = NotFound
    action_permissions: ClassVar[dict[str, list[str]]] = {}

    def handle_exception(self, exc: Exception):
        if isinstance(exc, DomainError) and exc.errors:
            exc.errors = _renamed(exc.errors, field_aliases(self.get_serializer()))
        return super().handle_exception(exc)

    def get_object(self) -> Any:
        kwarg = self.lookup_url_kwarg or self.lookup_field
        value = self.kwargs[kwarg]
        try:
            obj = self.get_queryset().get(**{self.lookup_field: value})
        except (ObjectDoesNotExist, ValueError, DjangoValidationError):
            name = self.get_queryset().model._meta.verbose_name
            raise self.not_found(f"No {name} '{value}'.") from None
        self.check_object_permissions(self.request, obj)
        return obj

    def location(self, instance: Model) -> str:
        kwarg = self.lookup_url_kwarg or self.lookup_field
        kwargs = {**self.kwargs, kwarg: str(getattr(instance, self.lookup_field))}
        return reverse(f"{self.basename}-detail", kwargs=kwargs, request=self.request)

    def created(self, instance: Model, data: Any) -> Response:
        """201 with the new object's URL in ``Location``."""
        return Response(
            data, status=status.HTTP_201_CREATED, headers={"Location": self.location(instance)}
        )

    def deleted(self) -> Response:
        return Response(status=status.HTTP_204_NO_CONTENT)


class ProxyChildMixin:
    """Routes under ``/proxies/{proxy_slug}/``. The proxy is looked up after authentication
    and permission checks, so a stranger cannot probe which proxies exist."""

    proxy: Proxy

    def initial(self, request, *args, **kwargs) -> None:
        super().initial(request, *args, **kwargs)
        self.proxy = proxy_get(self.kwargs["proxy_slug"])

    def has_parent(self) -> bool:
        return hasattr(self, "proxy")
