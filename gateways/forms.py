"""Admin forms for gateways."""

from typing import Any

from core.forms import ServiceModelForm
from gateways import services
from gateways.models import Gateway

GATEWAY_FIELDS = ("name", "description", "base_url", "environment")


class GatewayForm(ServiceModelForm):
    class Meta(ServiceModelForm.Meta):
        model = Gateway
        fields = GATEWAY_FIELDS

    def write(self, data: dict[str, Any]) -> Gateway:
        if self.adding:
            return services.gateway_create(**self.changed(data, GATEWAY_FIELDS))
        return services.gateway_update(gateway=self.instance, **self.changed(data, GATEWAY_FIELDS))
