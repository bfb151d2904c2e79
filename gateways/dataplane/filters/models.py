"""The provider's model allowlist."""

from gateways.dataplane.call import Call, Refusal
from gateways.dataplane.chain import Filter
from gateways.dataplane.routes import Route

UNNAMED = Refusal(
    403, "model_not_allowed", "This proxy only serves specific models; name one in the request."
)


class ModelAllowlist(Filter):
    """Only the models the provider allows (a chain has this step only when it lists some)."""

    name = "model-allowlist"

    def __init__(self, route: Route):
        self.allowed = route.allowed_models

    async def on_request(self, call: Call) -> Refusal | None:
        if call.model in self.allowed:
            return None
        if not call.model:
            return UNNAMED
        message = f"Model '{call.model}' is not allowed on this proxy."
        return Refusal(403, "model_not_allowed", message)
