"""Attach a guardrail or policy from the catalog to a proxy or a provider."""

import json
from pathlib import Path

from django.core.management.base import CommandError

from core.commands import ServiceCommand
from guardrails import services
from guardrails.errors import UnknownPolicy
from guardrails.selectors import catalog
from proxies.selectors import provider_get, proxy_get


class Command(ServiceCommand):
    help = (
        "Attach a policy (see list_policies) to PROXY, or to every proxy of a provider with "
        "--provider PROVIDER, at the end of its chain. Prints the attachment id. Redeploy the "
        "proxy for the change to reach gateways."
    )

    def add_arguments(self, parser):
        parser.add_argument("proxy", metavar="PROXY", nargs="?", help="Proxy ID.")
        parser.add_argument(
            "--provider", metavar="PROVIDER", help="Attach to this provider (ID) instead."
        )
        parser.add_argument("--policy", required=True, help="Policy name from the catalog.")
        params = parser.add_mutually_exclusive_group()
        params.add_argument(
            "--params", metavar="JSON", help="Parameters as a JSON object, e.g. '{\"max\": 10}'."
        )
        params.add_argument(
            "--params-file", metavar="PATH", help="Read the parameters from a JSON file."
        )
        parser.add_argument("--order", type=int, help="Position in the chain (default: last).")
        parser.add_argument("--disabled", action="store_true", help="Attach it switched off.")

    def run(self, *args, proxy: str | None, provider: str | None, policy: str, **options) -> None:
        if (proxy is None) == (provider is None):
            raise CommandError("Give either a PROXY or --provider PROVIDER, not both or neither.")
        params = _params(options)
        owner = {"proxy": proxy_get(proxy)} if proxy else {"provider": provider_get(provider)}
        try:
            attachment = services.attachment_create(
                policy=policy,
                params=params,
                enabled=not options["disabled"],
                order=options["order"],
                **owner,
            )
        except UnknownPolicy as exc:
            names = ", ".join(p["name"] for p in catalog())
            raise CommandError(f"{exc.message} Known policies: {names}.") from None
        self.emit(attachment.pk)
        target = proxy or provider
        self.note(
            f"Attached {attachment.policy} {attachment.policy_version} to {target} "
            f"at position {attachment.order}; redeploy for gateways to apply it."
        )


def _params(options: dict) -> dict | None:
    if options["params_file"]:
        try:
            text = Path(options["params_file"]).read_text()
        except OSError as exc:
            raise CommandError(f"Cannot read --params-file: {exc.strerror}.") from None
        source = "--params-file"
    elif options["params"] is not None:
        text, source = options["params"], "--params"
    else:
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise CommandError(f"{source} is not valid JSON: {exc}.") from None
