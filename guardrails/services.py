"""Attach, change, reorder and remove guardrails on providers and proxies; keep the model
pricing table."""

from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Max

from core.errors import ValidationFailed, validated_save
from core.revision import bump_config_revision
from guardrails.errors import PriceExists, UnknownPolicy
from guardrails.limits.price_list import SHIPPED as SHIPPED_LIST
from guardrails.limits.price_list import ListedPrice
from guardrails.models import GuardrailAttachment, ModelPrice
from guardrails.registry import ParameterError, get_policy
from guardrails.routing import check_provider_policy, check_routing_attachment


def validated_params(policy: str, params: dict[str, Any] | None) -> tuple[str, dict[str, Any]]:
    """Return the policy's version and ``params`` checked against its schema, with defaults."""
    policy_class = get_policy(policy)
    if policy_class is None:
        raise UnknownPolicy(
            f"No policy named '{policy}' in the catalog.",
            errors=[{"field": "policy", "message": f"Unknown policy '{policy}'."}],
        )
    if params is not None and not isinstance(params, dict):
        raise ValidationFailed(
            "Parameters must be an object.",
            errors=[{"field": "params", "message": "Expected an object."}],
        )
    try:
        return policy_class.version, policy_class.validate_params(params)
    except ParameterError as exc:
        raise ValidationFailed(
            f"Invalid parameters for {policy}: {exc}", errors=exc.errors
        ) from None


@transaction.atomic
def attachment_create(
    *,
    policy: str,
    params: dict[str, Any] | None = None,
    proxy=None,
    provider=None,
    enabled: bool = True,
    order: int | None = None,
) -> GuardrailAttachment:
    """Attach a policy to a proxy or a provider, at the end of its chain unless ``order`` says."""
    if (proxy is None) == (provider is None):
        raise ValidationFailed("Attach a guardrail to exactly one proxy or provider.")
    version, cleaned = validated_params(policy, params)
    check_routing_attachment(policy=policy, params=cleaned, proxy=proxy, provider=provider)
    if provider is not None and enabled:
        check_provider_policy(policy=policy, provider=provider)
    siblings = GuardrailAttachment.objects.filter(proxy=proxy, provider=provider)
    if order is None:
        order = (siblings.aggregate(m=Max("order"))["m"] or 0) + 1 if siblings.exists() else 1
    attachment = GuardrailAttachment.objects.create(
        proxy=proxy,
        provider=provider,
        policy=policy,
        policy_version=version,
        params=cleaned,
        enabled=enabled,
        order=order,
    )
    return attachment


@transaction.atomic
def attachment_update(
    *,
    attachment: GuardrailAttachment,
    params: dict[str, Any] | None = None,
    enabled: bool | None = None,
    order: int | None = None,
) -> GuardrailAttachment:
    if params is not None:
        attachment.policy_version, attachment.params = validated_params(attachment.policy, params)
        check_routing_attachment(
            policy=attachment.policy,
            params=attachment.params,
            proxy=attachment.proxy,
            provider=attachment.provider,
            attachment=attachment,
        )
    if enabled is not None:
        if enabled and not attachment.enabled and attachment.provider is not None:
            check_provider_policy(policy=attachment.policy, provider=attachment.provider)
        attachment.enabled = enabled
    if order is not None:
        if order < 0:
            raise ValidationFailed(
                "Order must be zero or more.",
                errors=[{"field": "order", "message": "Must be >= 0."}],
            )
        attachment.order = order
    attachment.save()
    return attachment


@transaction.atomic
def attachment_delete(*, attachment: GuardrailAttachment) -> None:
    attachment.delete()


@transaction.atomic
def attachments_reorder(*, attachments: list[GuardrailAttachment]) -> None:
    """Give the attachments, in the order given, positions 1..n."""
    for position, attachment in enumerate(attachments, start=1):
        if attachment.order != position:
            attachment.order = position
            attachment.save(update_fields=["order", "updated_at"])


# A model price's editable fields besides the model (the admin's form edits the same).
PRICE_FIELDS = (
    "vendor",
    "input_per_million",
    "output_per_million",
    "cached_input_per_million",
    "cache_write_per_million",
    "checked_on",
)


@transaction.atomic
def model_price_create(
    *,
    model: str,
    input_per_million,
    output_per_million,
    cached_input_per_million=None,
    cache_write_per_million=None,
    checked_on=None,
    vendor: str = ModelPrice.Vendor.OTHER,
) -> ModelPrice:
    """Add a model to the pricing table used for usage costs and cost limits."""
    model = model.strip()
    taken = PriceExists(
        f"The model '{model}' already has a price.",
        errors=[{"field": "model", "message": "This model already has a price."}],
    )
    if ModelPrice.objects.filter(model=model).exists():
        raise taken
    price = ModelPrice(
        model=model,
        vendor=vendor,
        input_per_million=input_per_million,
        output_per_million=output_per_million,
        cached_input_per_million=cached_input_per_million,
        cache_write_per_million=cache_write_per_million,
        checked_on=checked_on,
    )
    try:
        validated_save(price)
    except IntegrityError:
        # Another request added the same model between the check and the insert.
        raise taken from None
    bump_config_revision()
    return price


@transaction.atomic
def model_price_update(*, price: ModelPrice, **changes: Any) -> ModelPrice:
    """Change a model's prices; a row a price list set that is edited is no longer refreshed
    by the next load. Gateways pick the change up on their next configuration reload."""
    unknown = set(changes) - set(PRICE_FIELDS)
    if unknown:
        raise ValidationFailed(f"Cannot change {', '.join(sorted(unknown))} of a model price.")
    for name, value in changes.items():
        setattr(price, name, value)
    if price.price_list or price.builtin:
        price.edited = True
    validated_save(price)
    bump_config_revision()
    return price


@transaction.atomic
def model_price_delete(*, price: ModelPrice) -> None:
    price.delete()
    bump_config_revision()


@dataclass
class PriceRefresh:
    """What loading a price list did, model names per outcome."""

    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    # Rows an admin edited or added, which a price list never overwrites.
    kept: list[str] = field(default_factory=list)


@transaction.atomic
def model_prices_refresh(
    *, prices: list[ListedPrice], price_list: str, upgrade: bool = False
) -> PriceRefresh:
    """Load a price list (``price_list`` names it: ``shipped``, or a file's name) into the
    pricing table: new models are added, rows a price list set are brought up to date, rows
    an admin edited or added are kept. An ``upgrade`` (after migrate) refreshes only the rows
    the same list set, so a company's own list survives upgrades."""
    result = PriceRefresh()
    existing = {p.model: p for p in ModelPrice.objects.select_for_update()}
    for listed in prices:
        values = {
            "vendor": listed.vendor,
            "input_per_million": listed.input,
            "output_per_million": listed.output,
            "cached_input_per_million": listed.cached_input,
            "cache_write_per_million": listed.cache_write,
            "checked_on": listed.checked_on,
        }
        row = existing.get(listed.model)
        if row is None:
            builtin = price_list == SHIPPED_LIST
            row = ModelPrice(model=listed.model, builtin=builtin, price_list=price_list, **values)
            validated_save(row)
            result.created.append(listed.model)
            continue
        if row.edited or not (row.price_list or row.builtin):
            result.kept.append(listed.model)
            continue
        if upgrade and row.price_list not in ("", price_list):
            result.kept.append(listed.model)
            continue
        changed = {name: value for name, value in values.items() if getattr(row, name) != value}
        if not changed and row.price_list == price_list:
            result.unchanged.append(listed.model)
            continue
        for name, value in changed.items():
            setattr(row, name, value)
        row.price_list = price_list
        validated_save(row)
        result.updated.append(listed.model)
    if result.created or result.updated:
        bump_config_revision()
    return result
