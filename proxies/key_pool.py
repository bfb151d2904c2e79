"""Key pools: a provider's upstream credential may be several API keys (of one account or of
several), which gateways use in rotation, resting a key that answers 401 or 429.

A pool is stored as the JSON text of a list of strings under the same encryption as any
credential; a single key stays plain text as before, and AWS Bedrock's credential object
(``proxies.aws_credentials``) is a JSON object, never a list. Error messages name positions,
never values."""

import orjson

from core.errors import ValidationFailed

FIELD = "credential"
MAX_KEYS = 20


def key_pool(keys: list) -> list[str]:
    """Check a pool given as a list: 1 to 20 distinct, non-empty strings (trimmed)."""
    problems: list[tuple[str, str]] = []
    if not keys:
        problems.append((FIELD, "Give at least one key."))
    elif len(keys) > MAX_KEYS:
        problems.append((FIELD, f"A key pool holds at most {MAX_KEYS} keys."))
    cleaned: list[str] = []
    for index, key in enumerate(keys[:MAX_KEYS]):
        field = f"{FIELD}[{index}]"
        if not isinstance(key, str) or not key.strip():
            problems.append((field, "Each key must be a non-empty string."))
        elif key.strip().startswith(("{", "[")):
            problems.append((field, "Each key is an API key; AWS keys are one object, not a list."))
        elif key.strip() in cleaned:
            problems.append((field, "This key is already in the pool."))
        else:
            cleaned.append(key.strip())
    if problems:
        summary = "; ".join(f"{field}: {message}" for field, message in problems)
        raise ValidationFailed(
            f"Invalid key pool: {summary}",
            errors=[{"field": field, "message": message} for field, message in problems],
        )
    return cleaned


def pool_text(keys: list[str]) -> str:
    """The stored form of checked keys: one key as itself, several as a JSON list."""
    return keys[0] if len(keys) == 1 else orjson.dumps(keys).decode()


def credential_value(text: str) -> str | list[str]:
    """A decrypted credential as gateways get it: a list for a pool, else the text as stored
    (an API key, Bedrock's JSON object, or "" for none)."""
    if not text.startswith("["):
        return text
    try:
        keys = orjson.loads(text)
    except orjson.JSONDecodeError:
        return text
    if isinstance(keys, list) and keys and all(isinstance(k, str) for k in keys):
        return keys
    return text


def key_count(text: str) -> int:
    """How many keys a stored credential holds (0 for none)."""
    value = credential_value(text)
    return len(value) if isinstance(value, list) else int(bool(value))
