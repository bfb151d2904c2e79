"""Issue a management API token for a user, for scripts and CI pipelines."""

from core.commands import (
    ServiceCommand,
    add_expiry_arguments,
    expiry_from_options,
    format_time,
)
from proxies import services
from proxies.selectors import user_get

DEFAULT_EXPIRY_DAYS = services.MANAGEMENT_TOKEN_LIFETIME.days


class Command(ServiceCommand):
    help = (
        "Issue a management API token for USERNAME and print it once on stdout. "
        "Only its hash is stored; send it as 'Authorization: Bearer <token>'. "
        f"Tokens expire after {DEFAULT_EXPIRY_DAYS} days unless told otherwise."
    )

    def add_arguments(self, parser):
        parser.add_argument("username", metavar="USERNAME")
        parser.add_argument("--name", default="", help="A label, e.g. the pipeline using it.")
        add_expiry_arguments(parser, what="token", default_days=DEFAULT_EXPIRY_DAYS)

    def run(self, *args, username: str, name: str, **options) -> None:
        user = user_get(username)
        token, secret = services.management_token_create(
            user=user,
            name=name.strip(),
            expires_at=expiry_from_options(options, default_days=DEFAULT_EXPIRY_DAYS),
        )
        self.emit(secret)
        expires = format_time(token.expires_at) if token.expires_at else "never"
        self.note(
            f"Token {token.masked} for {user.get_username()}, expires {expires}: "
            "shown once, store it now."
        )
        if not user.is_active:
            self.note(f"Warning: user {user.get_username()} is inactive; the token is refused.")
