"""ASGI entry point for the all-in-one server.

Paths under /admin/, /api/ and /static/ go to Django (admin, management API, static files);
everything else is invoke traffic for the default gateway and goes straight to the lean
gateway app, ahead of Django's request handler. Lifespan events go to the gateway app.

With ``GATEHOUSE_DEFAULT_GATEWAY`` set empty (a production control plane, whose gateways run
on their own) no gateway runs here and any other path is a JSON 404.
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

django_application = get_asgi_application()

from django.conf import settings  # noqa: E402

from gateways.dataplane.app import GatewayApp  # noqa: E402
from gateways.dataplane.ops import respond  # noqa: E402

DJANGO_PREFIXES = ("/admin/", "/api/", "/static/")
DJANGO_PATHS = frozenset({"/admin", "/api", "/favicon.ico", "/", "/metrics"})
NOT_FOUND = b'{"code":"not_found","message":"Nothing is served here."}'

served_gateway = os.environ.get("GATEHOUSE_GATEWAY") or settings.GATEHOUSE_DEFAULT_GATEWAY
gateway_application = (
    GatewayApp(served_gateway, token=os.environ.get("GATEHOUSE_GATEWAY_TOKEN") or None)
    if served_gateway
    else None
)


async def application(scope, receive, send) -> None:
    if scope["type"] == "lifespan":
        if gateway_application is not None:
            await gateway_application(scope, receive, send)
        else:
            await lifespan_without_gateway(receive, send)
        return
    path = scope.get("path", "")
    if path.startswith(DJANGO_PREFIXES) or path in DJANGO_PATHS:
        await django_application(scope, receive, send)
    elif gateway_application is not None:
        await gateway_application(scope, receive, send)
    else:
        await respond(send, 404, NOT_FOUND)


async def lifespan_without_gateway(receive, send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
