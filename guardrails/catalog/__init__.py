"""The policy catalog: importing this package registers every policy class."""

from guardrails.catalog import (  # noqa: F401
    counting,
    json_schema,
    payload,
    pii,
    prompt,
    ratelimit,
    regex,
    routing,
    url,
)
