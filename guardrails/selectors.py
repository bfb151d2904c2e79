"""Reads for guardrail attachments and the catalog."""

from typing import Any

from django.db.models import QuerySet

from guardrails.errors import AttachmentNotFound
from guardrails.models import GuardrailAttachment
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
