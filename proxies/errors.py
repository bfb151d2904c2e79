"""Domain errors of providers, proxies and API keys."""

from core.errors import Conflict, DomainError, Forbidden, NotFound


class ProviderNotFound(NotFound):
    code = "PROVIDER_NOT_FOUND"


class ProviderExists(Conflict):
    code = "PROVIDER_EXISTS"


class ProviderInUse(Conflict):
    code = "PROVIDER_IN_USE"


class TemplateNotFound(NotFound):
    code = "TEMPLATE_NOT_FOUND"


class TemplateReadOnly(Forbidden):
    code = "TEMPLATE_READ_ONLY"


class TemplateInUse(Conflict):
    code = "TEMPLATE_IN_USE"


class TemplateExists(Conflict):
    code = "TEMPLATE_EXISTS"


class ProxyNotFound(NotFound):
    code = "PROXY_NOT_FOUND"


class ProxyExists(Conflict):
    code = "PROXY_EXISTS"


class NoProvider(DomainError):
    code = "PROVIDER_REQUIRED"
    status = 400


class APIKeyNotFound(NotFound):
    code = "API_KEY_NOT_FOUND"


class APIKeyExists(Conflict):
    code = "API_KEY_EXISTS"


class APIKeyRevoked(Conflict):
    code = "API_KEY_REVOKED"


class UserNotFound(NotFound):
    code = "USER_NOT_FOUND"


class UpstreamAddressRefused(DomainError):
    """An upstream URL names an address gateways may not contact for others."""

    code = "UPSTREAM_ADDRESS_REFUSED"
    status = 400


class CredentialRequired(DomainError):
    """A provider's credential is never sent to an upstream URL it was not given for."""

    code = "CREDENTIAL_REQUIRED"
    status = 400
