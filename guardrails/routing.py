"""Rules for routing policies that need more than their own parameters: a failover target is
an existing provider speaking the wire format of the provider it stands in for, with no
policies of its own (a call failing over to it would not pass them) and keeping that format
when a custom template's adapter changes, a proxy has at most one routing policy of each kind
(counting its provider's), and a provider named as a target is not deleted from under a
policy. Used by the services, so admin, API and commands refuse alike."""

from typing import Any

from django.db.models import Q

from core.errors import ValidationFailed
from gateways.dataplane.adapters import wire_format
from guardrails.catalog.routing import ROUTING_CATEGORY, ProviderFailover, routing_targets
from guardrails.errors import RoutingPolicyExists
from guardrails.models import GuardrailAttachment
from guardrails.registry import get_policy
from proxies.models import Provider, Proxy


def routing_kind(policy: str) -> str:
    """The routing kind of ``policy`` (``model`` or ``failover``), or "" for other policies."""
    policy_class = get_policy(policy)
    if policy_class is None or policy_class.category != ROUTING_CATEGORY:
        return ""
    return policy_class.kind


def check_routing_attachment(
    *,
    policy: str,
    params: dict[str, Any],
    proxy: Proxy | None = None,
    provider: Provider | None = None,
    attachment: GuardrailAttachment | None = None,
) -> None:
    """Refuse a routing attachment (new, or ``attachment`` changed) that breaks a rule."""
    kind = routing_kind(policy)
    if not kind:
        return
    home = proxy.provider if proxy is not None else provider
    proxies = [proxy] if proxy is not None else list(home.proxies.all())
    clash = _same_kind(kind, proxies=proxies, providers=[home], exclude=attachment)
    if clash is not None:
        raise _exists(clash, kind)
    if policy == ProviderFailover.name:
        errors = target_errors(routing_targets(params), home=home)
        if errors:
            summary = "; ".join(e["message"] for e in errors)
            raise ValidationFailed(f"Invalid failover targets: {summary}", errors=errors)


def check_provider_change(*, proxy: Proxy, provider: Provider) -> None:
    """Refuse moving ``proxy`` to ``provider`` when its routing policies could not follow:
    failover targets of another wire format, or a routing kind both already have."""
    own = [a for a in GuardrailAttachment.objects.filter(proxy=proxy) if routing_kind(a.policy)]
    theirs = [
        a for a in GuardrailAttachment.objects.filter(provider=provider) if routing_kind(a.policy)
    ]
    errors = []
    for attachment in own:
        kind = routing_kind(attachment.policy)
        if any(routing_kind(other.policy) == kind for other in theirs):
            errors.append(
                f"Both this proxy and provider '{provider.slug}' have a {_kind_name(kind)} "
                "policy; remove one first."
            )
        if attachment.policy == ProviderFailover.name:
            problems = target_errors(routing_targets(attachment.params), home=provider)
            errors.extend(f"Its provider-failover: {p['message']}" for p in problems)
    if errors:
        raise ValidationFailed(
            " ".join(errors), errors=[{"field": "provider", "message": m} for m in errors]
        )


def target_errors(targets: list[dict[str, str]], *, home: Provider) -> list[dict[str, str]]:
    """Field errors for failover ``targets`` standing in for the provider ``home``."""
    slugs = {t["provider"] for t in targets}
    found = {p.slug: p for p in Provider.objects.filter(slug__in=slugs).select_related("template")}
    errors = []
    for index, target in enumerate(targets):
        field = f"params.targets.{index}.provider"
        slug = target["provider"]
        candidate = found.get(slug)
        if candidate is None:
            errors.append({"field": field, "message": f"Unknown provider '{slug}'."})
        elif candidate.pk == home.pk and not target["model"]:
            message = (
                f"'{slug}' is the proxy's own provider, always tried first; give a model to "
                "fall back to another model on it."
            )
            errors.append({"field": field, "message": message})
        elif (message := format_error(candidate, home)) is not None:
            errors.append({"field": field, "message": message})
        elif candidate.pk != home.pk and (policies := own_policies(candidate)):
            message = (
                f"Provider '{slug}' has policies of its own ({', '.join(policies)}), which a "
                "call failing over to it would not pass; attach them to the proxy instead."
            )
            errors.append({"field": field, "message": message})
    return errors


def check_wire_format_change(providers: list[Provider]) -> None:
    """Refuse a change of ``providers``' wire format (a custom template's adapter, saved but
    not committed) that leaves a failover with a target that cannot stand in for its home."""
    changed = {p.pk for p in providers}
    slugs = {p.slug for p in providers}
    rows = GuardrailAttachment.objects.filter(policy=ProviderFailover.name).select_related(
        "proxy__provider__template", "provider__template"
    )
    errors = []
    for row in rows:
        home = home_provider(row)
        targets = routing_targets(row.params or {})
        if home.pk not in changed and not any(t["provider"] in slugs for t in targets):
            continue
        owner = owner_name(row)
        found = Provider.objects.filter(slug__in={t["provider"] for t in targets})
        for candidate in found.select_related("template"):
            message = format_error(candidate, home)
            if message is not None:
                errors.append(f"The provider-failover of {owner}: {message}")
    if errors:
        raise ValidationFailed(
            " ".join(errors), errors=[{"field": "adapter", "message": m} for m in errors]
        )


def format_error(candidate: Provider, home: Provider) -> str | None:
    """Why ``candidate`` cannot stand in for ``home`` (another wire format), or None."""
    target_format = wire_format(candidate.template.adapter)
    home_format = wire_format(home.template.adapter)
    if target_format == home_format:
        return None
    return (
        f"Provider '{candidate.slug}' speaks the {target_format} API, not the {home_format} "
        f"API of '{home.slug}'; a failover target must speak the same."
    )


def own_policies(provider: Provider) -> list[str]:
    """The enabled policies attached to ``provider`` other than routing policies: what every
    call through its own proxies passes, and a call failing over to it from another provider
    would not (that call runs its own proxy's chain)."""
    rows = GuardrailAttachment.objects.filter(provider=provider, enabled=True).order_by("order")
    return [row.policy for row in rows if not routing_kind(row.policy)]


def check_provider_policy(*, policy: str, provider: Provider) -> None:
    """Refuse enabling a policy (other than a routing policy) on ``provider`` while a
    provider-failover names it as a target: calls failing over to it would bypass it."""
    if routing_kind(policy):
        return
    # A failover to another model on a proxy's own provider passes that provider's policies.
    naming = [a for a in failover_attachments_naming(provider) if home_provider(a) != provider]
    if not naming:
        return
    owners = ", ".join(owner_name(a) for a in naming)
    message = (
        f"Provider '{provider.slug}' is a failover target of {owners}; calls failing over to "
        f"it would not pass this {policy} policy. Attach it to the proxies instead, or take "
        f"'{provider.slug}' out of those failover targets first."
    )
    raise ValidationFailed(message, errors=[{"field": "policy", "message": message}])


def home_provider(attachment: GuardrailAttachment) -> Provider:
    """The provider whose calls ``attachment`` governs: its proxy's, or the one it is on."""
    return attachment.proxy.provider if attachment.proxy_id else attachment.provider


def owner_name(attachment: GuardrailAttachment) -> str:
    """Where ``attachment`` sits, as messages name it: ``proxy 'chat'`` or ``provider 'x'``."""
    if attachment.proxy_id:
        return f"proxy '{attachment.proxy.slug}'"
    return f"provider '{attachment.provider.slug}'"


def failover_attachments_naming(provider: Provider) -> list[GuardrailAttachment]:
    """The provider-failover attachments that list ``provider`` as a target."""
    rows = GuardrailAttachment.objects.filter(policy=ProviderFailover.name).select_related(
        "proxy__provider", "provider"
    )
    return [
        a
        for a in rows
        if any(t["provider"] == provider.slug for t in routing_targets(a.params or {}))
    ]


def failover_target_slugs(attachments: list[dict[str, Any]]) -> list[str]:
    """The providers the provider-failover rows of a snapshot chain name, in order, once."""
    slugs: list[str] = []
    for row in attachments:
        if row["policy"] != ProviderFailover.name:
            continue
        for target in routing_targets(row["params"] or {}):
            if target["provider"] not in slugs:
                slugs.append(target["provider"])
    return slugs


def _same_kind(
    kind: str,
    *,
    proxies: list[Proxy],
    providers: list[Provider],
    exclude: GuardrailAttachment | None,
) -> GuardrailAttachment | None:
    rows = GuardrailAttachment.objects.filter(Q(proxy__in=proxies) | Q(provider__in=providers))
    if exclude is not None:
        rows = rows.exclude(pk=exclude.pk)
    for row in rows.select_related("proxy", "provider").order_by("id"):
        if routing_kind(row.policy) == kind:
            return row
    return None


def _kind_name(kind: str) -> str:
    return "model routing" if kind == "model" else "provider failover"


def _exists(clash: GuardrailAttachment, kind: str) -> RoutingPolicyExists:
    where = owner_name(clash)
    message = (
        f"{where[0].upper()}{where[1:]} already has a {_kind_name(kind)} policy "
        f"({clash.policy}, guardrail {clash.pk}); a proxy takes one, counting its provider's. "
        "Edit or remove that one instead."
    )
    return RoutingPolicyExists(message, errors=[{"field": "policy", "message": message}])
