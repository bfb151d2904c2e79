"""Bearer-token authentication for the management API (tokens stored only as hashes)."""

import hmac

from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from proxies import crypto
from proxies.models import ManagementToken


class BearerTokenAuthentication(authentication.BaseAuthentication):
    """``Authorization: Bearer ghm-...`` as issued by ``manage.py create_api_token``."""

    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1")
        scheme, _, secret = header.partition(" ")
        if scheme.lower() != "bearer":
            return None
        secret = secret.strip()
        if not secret:
            raise exceptions.AuthenticationFailed("Missing token after 'Bearer'.")
        digest = crypto.hash_secret(secret)
        token = (
            ManagementToken.objects.select_related("user")
            .filter(token_hash=digest, revoked_at__isnull=True)
            .first()
        )
        if token is None or not hmac.compare_digest(token.token_hash, digest):
            raise exceptions.AuthenticationFailed("Invalid or revoked API token.")
        if token.is_expired:
            raise exceptions.AuthenticationFailed(
                f"The API token expired on {token.expires_at:%Y-%m-%d %H:%M %Z}; "
                "issue a new one (manage.py create_api_token, or the admin)."
            )
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed("The token's user is inactive.")
        now = timezone.now()
        if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
            ManagementToken.objects.filter(pk=token.pk).update(last_used_at=now)
        return token.user, token

    def authenticate_header(self, request):
        return self.keyword


class BearerTokenScheme(OpenApiAuthenticationExtension):
    """Describes the bearer token in the OpenAPI schema (Swagger UI's Authorize button)."""

    target_class = BearerTokenAuthentication
    name = "bearerAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A token from `manage.py create_api_token USERNAME`.",
        }
