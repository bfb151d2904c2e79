"""The management API under /api/v1/: each app contributes its routes."""

from django.urls import include, path, re_path

from core.api.errors import route_not_found

urlpatterns = [
    path("", include("proxies.api.urls")),
    path("", include("guardrails.api.urls")),
    path("", include("gateways.api.urls")),
    path("", include("deployments.api.urls")),
    # Only paths ending in "/", so APPEND_SLASH still redirects "/api/v1/proxies".
    re_path(r"^.*/$", route_not_found),
]
