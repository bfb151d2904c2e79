from core.errors import Conflict, NotFound


class GatewayNotFound(NotFound):
    code = "GATEWAY_NOT_FOUND"


class GatewayExists(Conflict):
    code = "GATEWAY_NAME_CONFLICT"


class GatewayHasActiveDeployments(Conflict):
    code = "GATEWAY_HAS_ACTIVE_DEPLOYMENTS"


class GatewayTokenLimitReached(Conflict):
    code = "GATEWAY_TOKEN_LIMIT_REACHED"


class GatewayTokenNotFound(NotFound):
    code = "GATEWAY_TOKEN_NOT_FOUND"
