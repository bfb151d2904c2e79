"""Reads for guardrail attachments, the catalog, model prices and the consumption of rate limits."""

from collections.abc import Sequence
from typing import Any

from asgiref.sync import async_to_sync
from django.conf import settings
from django.db.models import QuerySet

from guardrails.engine import ChainCompileError, compile_policy
from guardrails.errors import AttachmentNotFound
from guardrails.limits import BackendUnavailable, Limiter
from guardrails.limits.pricing import ModelPricing, PriceTable, float_or_none
from guardrails.limits.rules import is_limit_attachment
from guardrails.models import GuardrailAttachment, ModelPrice
from guardrails.registry import all_policies


def catalog() -> list[dict[str, Any]]:
    return [policy.describe() for policy in all_policies()]


def attachments_for(*, proxy=None, provider=None) -> QuerySet[GuardrailAttachment]:
    return GuardrailAttachment.objects.filter(proxy=proxy, provider=provider).order_by(
        "order", "id"
    )


def attachment_get(*, attachment_id, proxy=None, provider=None) -> GuardrailAttachment:
    try:
        return attachments_for(proxy=proxy, provider=provider).get(pk=attachment_id)
    except (GuardrailAttachment.DoesNotExist, ValueError):
        raise AttachmentNotFound(f"No guardrail attachment '{attachment_id}' here.") from None


def model_prices() -> QuerySet[ModelPrice]:
    return ModelPrice.objects.all()


def price_table() -> PriceTable:
    """The editable price table, as the gateway prices calls with it (blocking: call it off
    the event loop, e.g. when a gateway reloads its snapshot). The shipped list while the
    table is empty."""
    rows = [
        ModelPricing(
            p.model,
            float(p.input_per_million),
            float(p.output_per_million),
            float_or_none(p.cached_input_per_million),
            float_or_none(p.cache_write_per_million),
        )
        for p in model_prices()
    ]
    return PriceTable(rows) if rows else PriceTable.shipped()


def attachment_limit_usage(
    *, attachment: GuardrailAttachment, key_id: str | None = None, resource: str = ""
) -> list[dict[str, Any]]:
    """Current consumption of each counter of a rate-limit attachment (empty for other
    policies): the counter's description plus ``usage`` (None while the store is down or when
    there is no shared store to read).
    ``key_id`` selects per-key counters, ``resource`` per-resource ones."""
    row = {"id": attachment.pk, "policy": attachment.policy, "params": attachment.params}
    if not is_limit_attachment(row):
        return []
    counters = compile_policy(row).group.counters()
    if not limit_store_configured():
        # Each gateway process counts on its own; the control plane cannot see those counts.
        return [{**counter.describe(), "usage": None} for counter in counters]

    async def read() -> list[dict[str, Any]]:
        limiter = Limiter.from_settings()
        try:
            out = []
            for counter in counters:
                try:
                    usage = await limiter.current_usage(counter, key_id, resource)
                except BackendUnavailable:
                    usage = None
                out.append({**counter.describe(), "usage": usage})
            return out
        finally:
            await limiter.close()

    return async_to_sync(read)()


def limit_store_configured() -> bool:
    """Whether gateways keep rate-limit counters in Redis, where the control plane can read
    them. Without it each gateway process counts on its own."""
    return bool(getattr(settings, "GATEHOUSE_LIMITS_REDIS_URL", "") or settings.REDIS_URL)


def limits_consumption(
    *,
    attachments: list[GuardrailAttachment],
    key_ids: Sequence[str] = (),
    resources: Sequence[str] = (),
) -> dict[str, Any]:
    """Every counter of the rate-limit ``attachments`` with its consumption, for the admin.

    Returns ``{"store", "limits"}``: ``limits`` maps each attachment's pk to its counters
    (``Counter.describe()`` plus ``readings``: one per key in ``key_ids`` for per-key
    counters, one per resource in ``resources`` for per-resource default counters, each
    ``{"key_id", "resource", "usage"}``). ``store`` is ``redis`` (usages read), ``unavailable``
    (Redis did not answer) or ``local`` (no Redis: counters live inside each gateway process
    and cannot be read); in the last two every ``usage`` is None.
    """
    compiled: dict[Any, list] = {}
    for attachment in attachments:
        row = {"id": attachment.pk, "policy": attachment.policy, "params": attachment.params}
        if not is_limit_attachment(row):
            continue
        try:
            compiled[attachment.pk] = compile_policy(row).group.counters()
        except ChainCompileError:
            compiled[attachment.pk] = []

    def readings_of(counter) -> list[dict[str, Any]]:
        keys = list(key_ids) if counter.per_key else [None]
        places = list(resources) if counter.per_resource and not counter.resource else [""]
        return [
            {"key_id": key, "resource": place, "usage": None} for key in keys for place in places
        ]

    limits = {
        pk: [{**counter.describe(), "readings": readings_of(counter)} for counter in counters]
        for pk, counters in compiled.items()
    }
    store = "redis" if limit_store_configured() else "local"
    if store == "local" or not any(limits.values()):
        return {"store": store, "limits": limits}

    async def read() -> str:
        limiter = Limiter.from_settings()
        try:
            for pk, counters in compiled.items():
                for counter, described in zip(counters, limits[pk], strict=True):
                    for reading in described["readings"]:
                        reading["usage"] = await limiter.current_usage(
                            counter, reading["key_id"], reading["resource"]
                        )
            return "redis"
        except BackendUnavailable:
            for described in limits.values():
                for counter in described:
                    for reading in counter["readings"]:
                        reading["usage"] = None
            return "unavailable"
        finally:
            await limiter.close()

    return {"store": async_to_sync(read)(), "limits": limits}
