"""Register a provider from a template and print its ID."""

from core.commands import ServiceCommand
from proxies import services
from proxies.management.credentials import add_credential_arguments, credential_from_options


class Command(ServiceCommand):
    help = (
        "Register a provider from a template (openai, anthropic, openai-compatible, ...) and "
        "print its ID. Pass the upstream credential with --credential-env VAR."
    )

    def add_arguments(self, parser):
        parser.add_argument("--name", required=True)
        parser.add_argument("--template", required=True, help="Template ID, e.g. openai.")
        add_credential_arguments(parser, required=False)
        parser.add_argument(
            "--upstream-url", default="", help="Defaults to the template's upstream URL."
        )
        parser.add_argument("--description", default="")

    def run(self, *args, **options) -> None:
        provider = services.provider_create(
            name=options["name"],
            template=options["template"],
            credential=credential_from_options(options) or "",
            upstream_url=options["upstream_url"],
            description=options["description"],
        )
        self.emit(provider.slug)
        if not provider.has_credential:
            self.note(
                f"Provider {provider.slug} has no upstream credential; "
                "set one with set_provider_credential if the upstream needs it."
            )
