from config.errors import NotFound, ValidationFailed


class UnknownPolicy(ValidationFailed):
    code = "UNKNOWN_POLICY"


class AttachmentNotFound(NotFound):
    code = "GUARDRAIL_NOT_FOUND"
