"""The policy catalog: importing this package registers every policy class."""

from guardrails.catalog import counting  # noqa: F401
