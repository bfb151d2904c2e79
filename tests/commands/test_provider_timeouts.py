"""create_provider's timeout flags."""

import pytest
from django.core.management.base import CommandError

from proxies.models import Provider


def create(manage, *flags: str) -> Provider:
    out, _ = manage("create_provider", "--name", "Timed", "--template", "openai", *flags)
    return Provider.objects.get(slug=out.strip())


def test_every_timeout_can_be_given(manage):
    provider = create(
        manage,
        "--connect-timeout",
        "2",
        "--read-timeout",
        "30",
        "--first-byte-timeout",
        "5",
        "--total-timeout",
        "90",
    )
    timeouts = (
        provider.connect_timeout,
        provider.read_timeout,
        provider.first_byte_timeout,
        provider.total_timeout,
    )
    assert timeouts == (2.0, 30.0, 5.0, 90.0)


def test_without_flags_first_byte_and_total_have_no_limit(manage):
    provider = create(manage)
    assert (provider.first_byte_timeout, provider.total_timeout) == (None, None)


def test_a_first_byte_timeout_longer_than_the_total_fails(manage):
    with pytest.raises(CommandError, match="longer than the whole exchange"):
        create(manage, "--first-byte-timeout", "60", "--total-timeout", "30")
