"""ASGI entry point for the all-in-one server.

Paths under /admin/, /api/ and /static/ go to Django (admin, management API, static files);
everything else is invoke traffic for the default gateway and goes straight to the lean
gateway app, ahead of Django's request handler. Lifespan events go to the gateway app.
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

django_application = get_asgi_application()

from django.conf import settings  # noqa: E402

from gateways.dataplane.app import GatewayApp  # noqa: E402

DJANGO_PREFIXES = ("/admin/", "/api/", "/static/")
DJANGO_PATHS = frozenset({"/admin", "/api", "/favicon.ico", "/", "/metrics"})

gateway_application = GatewayApp(
    os.environ.get("GATEHOUSE_GATEWAY") or settings.GATEHOUSE_DEFAULT_GATEWAY,
    token=os.environ.get("GATEHOUSE_GATEWAY_TOKEN") or None,
)


async def application(scope, receive, send) -> None:
    if scope["type"] == "lifespan":
        await gateway_application(scope, receive, send)
        return
    path = scope.get("path", "")
    if path.startswith(DJANGO_PREFIXES) or path in DJANGO_PATHS:
        await django_application(scope, receive, send)
    else:
        await gateway_application(scope, receive, send)
