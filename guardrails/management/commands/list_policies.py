"""List the guardrail and policy catalog."""

from django.core.management.base import CommandError

from core.commands import ServiceCommand
from guardrails.selectors import catalog


class Command(ServiceCommand):
    help = "List the policies that attach_guardrail accepts; --schema shows their parameters."

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="The full catalog as JSON.")
        parser.add_argument("--schema", metavar="POLICY", help="The parameter schema of POLICY.")

    def run(self, *args, **options) -> None:
        policies = catalog()
        if options["schema"]:
            match = [p for p in policies if p["name"] == options["schema"]]
            if not match:
                names = ", ".join(p["name"] for p in policies)
                raise CommandError(f"No policy named '{options['schema']}'. Known: {names}.")
            self.emit_json(match[0]["parameters_schema"])
            return
        if options["json"]:
            self.emit_json(policies)
            return
        self.emit_table(
            ["NAME", "VERSION", "PHASES", "DESCRIPTION"],
            [(p["name"], p["version"], ",".join(p["phases"]), p["description"]) for p in policies],
        )
