from core.errors import Conflict, NotFound, ValidationFailed


class UnknownPolicy(ValidationFailed):
    code = "UNKNOWN_POLICY"


class AttachmentNotFound(NotFound):
    code = "GUARDRAIL_NOT_FOUND"


class PriceNotFound(NotFound):
    code = "PRICE_NOT_FOUND"


class PriceExists(Conflict):
    code = "PRICE_EXISTS"


class RoutingPolicyExists(Conflict):
    code = "ROUTING_POLICY_EXISTS"
