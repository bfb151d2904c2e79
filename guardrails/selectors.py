"""Reads for guardrail attachments and the catalog."""

from typing import Any

from django.db.models import QuerySet

from guardrails.errors import AttachmentNotFound
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


def attachment_limit_usage(
    *, attachment: GuardrailAttachment, key_id: str | None = None, resource: str = ""
) -> list[dict[str, Any]]:
    """Current consumption of each counter of a rate-limit attachment (empty for other
    policies): the counter's description plus ``usage`` (None while the store is down).
    ``key_id`` selects per-key counters, ``resource`` per-resource ones."""
    from asgiref.sync import async_to_sync

    from guardrails.engine import compile_policy
    from guardrails.limits import BackendUnavailable, Limiter
    from guardrails.limits.rules import is_limit_attachment

    row = {"id": attachment.pk, "policy": attachment.policy, "params": attachment.params}
    if not is_limit_attachment(row):
        return []
    counters = compile_policy(row).group.counters()

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
