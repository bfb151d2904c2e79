"""Register a provider from a template and print its ID."""

from core.commands import ServiceCommand
from proxies import services
from proxies.management.credentials import add_credential_arguments, credential_from_options

# Provider field -> what it limits; each has the flag of its name (--first-byte-timeout).
TIMEOUTS = {
    "connect_timeout": "Seconds to open a connection to the upstream (default 10).",
    "read_timeout": "Seconds the upstream may stay silent while answering (default 120).",
    "first_byte_timeout": "Seconds until the upstream's first response byte (default: none).",
    "total_timeout": "Seconds for the whole exchange, a stream included (default: none).",
}


class Command(ServiceCommand):
    help = (
        "Register a provider from a template (openai, anthropic, openai-compatible, ...) and "
        "print its ID. Pass the upstream credential with --credential-env VAR (several keys, one "
        "per line or as a JSON list, make a key pool used in rotation)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--name", required=True)
        parser.add_argument("--template", required=True, help="Template ID, e.g. openai.")
        add_credential_arguments(parser, required=False)
        parser.add_argument(
            "--upstream-url", default="", help="Defaults to the template's upstream URL."
        )
        parser.add_argument("--description", default="")
        for field, meaning in TIMEOUTS.items():
            flag = "--" + field.replace("_", "-")
            parser.add_argument(flag, type=float, metavar="SECONDS", help=meaning)

    def run(self, *args, **options) -> None:
        timeouts = {field: options[field] for field in TIMEOUTS if options[field] is not None}
        provider = services.provider_create(
            name=options["name"],
            template=options["template"],
            credential=credential_from_options(options) or "",
            upstream_url=options["upstream_url"],
            description=options["description"],
            **timeouts,
        )
        self.emit(provider.slug)
        if not provider.has_credential:
            self.note(
                f"Provider {provider.slug} has no upstream credential; "
                "set one with set_provider_credential if the upstream needs it."
            )
