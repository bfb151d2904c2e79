"""Issue a management API token for a user, for scripts and CI pipelines."""

from proxies import services
from proxies.management.commands._base import ServiceCommand
from proxies.selectors import user_get


class Command(ServiceCommand):
    help = (
        "Issue a management API token for USERNAME and print it once on stdout. "
        "Only its hash is stored; send it as 'Authorization: Bearer <token>'."
    )

    def add_arguments(self, parser):
        parser.add_argument("username", metavar="USERNAME")
        parser.add_argument("--name", default="", help="A label, e.g. the pipeline using it.")

    def run(self, *args, username: str, name: str, **options) -> None:
        user = user_get(username)
        token, secret = services.management_token_create(user=user, name=name.strip())
        self.emit(secret)
        self.note(f"Token {token.masked} for {user.get_username()}: shown once, store it now.")
        if not user.is_active:
            self.note(f"Warning: user {user.get_username()} is inactive; the token is refused.")
