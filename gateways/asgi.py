"""ASGI entry point for a gateway-only process: ``gateways.asgi:application``.

Serves the invoke endpoint of the gateway named by the GATEHOUSE_GATEWAY environment variable
(default: settings.GATEHOUSE_DEFAULT_GATEWAY) under any ASGI server, presenting the
registration token in GATEHOUSE_GATEWAY_TOKEN when the gateway has tokens.
"""

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django.setup()

from django.conf import settings  # noqa: E402

from gateways.dataplane.app import GatewayApp  # noqa: E402

application = GatewayApp(
    os.environ.get("GATEHOUSE_GATEWAY") or settings.GATEHOUSE_DEFAULT_GATEWAY,
    token=os.environ.get("GATEHOUSE_GATEWAY_TOKEN") or None,
)
