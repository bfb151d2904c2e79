"""Model prices and what a request costs.

Gatehouse ships a pricing table (USD per million tokens: input, output and cached input, as
the vendors publish them for standard, non-batch use) for common OpenAI, Anthropic, Gemini and
Mistral models. It is synced into the ``ModelPrice`` table after every migrate, where the
admin can edit it; an edited row is no longer overwritten by upgrades.

Lookups forgive the spellings APIs use: ``gpt-4o-2024-08-06`` and ``gpt-4o`` share a price
(the longest known name the model starts with, followed by ``-``, ``@`` or ``:``), and vendor
prefixes such as ``models/``, ``openai/`` or Bedrock's ``us.anthropic.`` are dropped. A model
that matches nothing costs what the limit's fallback price says, or 0 with a warning logged
once per model and process: an unknown model never blocks a request by itself.

Costs are integers in nano-dollars (1e-9 USD) so counters add exactly.
"""

import logging
import math
from dataclasses import dataclass
from typing import Any

log = logging.getLogger("gatehouse.limits")

NANO_PER_USD = 1_000_000_000
# A price in USD per million tokens is this many nano-dollars per token, times the price.
_NANO_PER_TOKEN = NANO_PER_USD / 1_000_000

# (vendor, model, input, output, cached input or None) in USD per 1M tokens.
SHIPPED_PRICES: list[tuple[str, str, float, float, float | None]] = [
    ("openai", "gpt-5", 1.25, 10.00, 0.125),
    ("openai", "gpt-5-mini", 0.25, 2.00, 0.025),
    ("openai", "gpt-5-nano", 0.05, 0.40, 0.005),
    ("openai", "gpt-4.1", 2.00, 8.00, 0.50),
    ("openai", "gpt-4.1-mini", 0.40, 1.60, 0.10),
    ("openai", "gpt-4.1-nano", 0.10, 0.40, 0.025),
    ("openai", "gpt-4o", 2.50, 10.00, 1.25),
    ("openai", "gpt-4o-mini", 0.15, 0.60, 0.075),
    ("openai", "gpt-4-turbo", 10.00, 30.00, None),
    ("openai", "gpt-4", 30.00, 60.00, None),
    ("openai", "gpt-3.5-turbo", 0.50, 1.50, None),
    ("openai", "o1", 15.00, 60.00, 7.50),
    ("openai", "o1-mini", 1.10, 4.40, 0.55),
    ("openai", "o3", 2.00, 8.00, 0.50),
    ("openai", "o3-mini", 1.10, 4.40, 0.55),
    ("openai", "o4-mini", 1.10, 4.40, 0.275),
    ("openai", "text-embedding-3-small", 0.02, 0.0, None),
    ("openai", "text-embedding-3-large", 0.13, 0.0, None),
    ("openai", "text-embedding-ada-002", 0.10, 0.0, None),
    ("anthropic", "claude-opus-4-1", 15.00, 75.00, 1.50),
    ("anthropic", "claude-opus-4", 15.00, 75.00, 1.50),
    ("anthropic", "claude-sonnet-4-5", 3.00, 15.00, 0.30),
    ("anthropic", "claude-sonnet-4", 3.00, 15.00, 0.30),
    ("anthropic", "claude-haiku-4-5", 1.00, 5.00, 0.10),
    ("anthropic", "claude-3-7-sonnet", 3.00, 15.00, 0.30),
    ("anthropic", "claude-3-5-sonnet", 3.00, 15.00, 0.30),
    ("anthropic", "claude-3-5-haiku", 0.80, 4.00, 0.08),
    ("anthropic", "claude-3-opus", 15.00, 75.00, 1.50),
    ("anthropic", "claude-3-haiku", 0.25, 1.25, 0.03),
    ("google", "gemini-2.5-pro", 1.25, 10.00, 0.125),
    ("google", "gemini-2.5-flash", 0.30, 2.50, 0.03),
    ("google", "gemini-2.5-flash-lite", 0.10, 0.40, 0.01),
    ("google", "gemini-2.0-flash", 0.10, 0.40, 0.025),
    ("google", "gemini-2.0-flash-lite", 0.075, 0.30, None),
    ("google", "gemini-1.5-pro", 1.25, 5.00, 0.3125),
    ("google", "gemini-1.5-flash", 0.075, 0.30, 0.01875),
    ("mistral", "mistral-large", 2.00, 6.00, None),
    ("mistral", "mistral-medium", 0.40, 2.00, None),
    ("mistral", "mistral-small", 0.10, 0.30, None),
    ("mistral", "codestral", 0.30, 0.90, None),
    ("mistral", "pixtral-large", 2.00, 6.00, None),
    ("mistral", "open-mistral-nemo", 0.15, 0.15, None),
    ("mistral", "ministral-8b", 0.10, 0.10, None),
    ("mistral", "ministral-3b", 0.04, 0.04, None),
    ("mistral", "mistral-embed", 0.10, 0.0, None),
]

_SEPARATORS = ("-", "@", ":")


@dataclass(frozen=True, slots=True)
class ModelPricing:
    """One model's prices in USD per million tokens (cached input falls back to input)."""

    model: str
    input: float
    output: float
    cached_input: float | None = None

    def cost_nano(self, prompt: int, completion: int, cached: int = 0) -> int:
        """What ``prompt`` input tokens (``cached`` of them read from cache) and
        ``completion`` output tokens cost, in nano-dollars."""
        cached = min(max(cached, 0), prompt)
        cached_price = self.input if self.cached_input is None else self.cached_input
        usd_per_million = (
            (prompt - cached) * self.input + cached * cached_price + completion * self.output
        )
        return math.ceil(usd_per_million * _NANO_PER_TOKEN - 1e-6)


class PriceTable:
    """Prices by model name with forgiving lookups, built once and read per request."""

    __slots__ = ("_cache", "_prices")

    def __init__(self, prices: list[ModelPricing]):
        self._prices = {p.model.lower(): p for p in prices}
        self._cache: dict[str, ModelPricing | None] = {}

    @classmethod
    def shipped(cls) -> "PriceTable":
        """The table that ships with Gatehouse (used before the database is read)."""
        return cls([ModelPricing(m, i, o, c) for _, m, i, o, c in SHIPPED_PRICES])

    def __len__(self) -> int:
        return len(self._prices)

    def lookup(self, model: str | None) -> ModelPricing | None:
        if not model:
            return None
        try:
            return self._cache[model]
        except KeyError:
            pass
        found = self._find(model.lower())
        if len(self._cache) < 4096:
            self._cache[model] = found
        return found

    def _find(self, name: str) -> ModelPricing | None:
        for candidate in _candidates(name):
            exact = self._prices.get(candidate)
            if exact is not None:
                return exact
            best = None
            for known, pricing in self._prices.items():
                if (
                    candidate.startswith(known)
                    and candidate[len(known)] in _SEPARATORS
                    and (best is None or len(known) > len(best.model))
                ):
                    best = pricing
            if best is not None:
                return best
        return None


def _candidates(name: str) -> list[str]:
    """``name``, without a ``vendor/`` path, then without dotted prefixes (``us.anthropic.``)."""
    name = name.rsplit("/", 1)[-1]
    out = [name]
    while "." in name:
        head, rest = name.split(".", 1)
        if "-" in head or head.isdigit():  # a version such as gemini-1.5, not a prefix
            break
        name = rest
        out.append(name)
    return out


_warned: set[str] = set()


def warn_unknown_model(model: str | None) -> None:
    """Log once per model and process that a cost limit had no price for it."""
    key = model or ""
    if key in _warned or len(_warned) > 1000:
        return
    _warned.add(key)
    log.warning("No price for model %r: it counts as 0 USD in cost limits.", model)


def pricing_from_params(value: dict[str, Any] | None) -> ModelPricing | None:
    """A limit's ``fallbackPrice`` parameter (``{"input", "output"}`` per 1M tokens)."""
    if not value:
        return None
    return ModelPricing(
        "(fallback)", float(value["input"]), float(value["output"]), value.get("cachedInput")
    )


BYTES_PER_PROMPT_TOKEN = 3


def max_output_tokens(body: Any) -> int | None:
    """The completion cap a request sets, in any of the supported APIs' spellings."""
    if not isinstance(body, dict):
        return None
    for name in ("max_completion_tokens", "max_tokens", "max_output_tokens"):
        value = body.get(name)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    for outer, inner in (("generationConfig", "maxOutputTokens"), ("inferenceConfig", "maxTokens")):
        section = body.get(outer)
        if isinstance(section, dict):
            value = section.get(inner)
            if isinstance(value, int) and not isinstance(value, bool) and value > 0:
                return value
    return None


class CostEstimate:
    """What a request may cost before it is sent, shared by its cost counters: the prompt
    (one token per 3 bytes of body) at the input price plus its ``max_tokens`` at the output
    price, capped by the counter's largest reservation, which is also what a request without
    ``max_tokens`` reserves."""

    __slots__ = ("max_output", "model", "pricing", "prompt")

    def __init__(self, pricing: ModelPricing | None, model: str | None, body: Any, body_bytes: int):
        self.model = model
        self.pricing = pricing
        self.prompt = math.ceil(body_bytes / BYTES_PER_PROMPT_TOKEN)
        self.max_output = max_output_tokens(body)

    def reservation(self, counter: Any) -> int:
        """Nano-dollars to reserve on ``counter`` (a cost ``Counter``)."""
        pricing = self.pricing or counter.fallback_price
        if pricing is None:
            warn_unknown_model(self.model)
            return 0
        if self.max_output is None:
            return counter.max_reservation
        return min(pricing.cost_nano(self.prompt, self.max_output), counter.max_reservation)


def load_price_table() -> PriceTable:
    """The editable table from the database (blocking: call it off the event loop, e.g. when
    a gateway reloads its snapshot). Falls back to the shipped table while it is empty."""
    from guardrails.selectors import model_prices

    rows = [
        ModelPricing(
            p.model,
            float(p.input_per_million),
            float(p.output_per_million),
            None if p.cached_input_per_million is None else float(p.cached_input_per_million),
        )
        for p in model_prices()
    ]
    return PriceTable(rows) if rows else PriceTable.shipped()


def sync_builtin_prices(**kwargs: Any) -> None:
    """Create or refresh the shipped prices (connected to ``post_migrate``); rows an admin
    edited keep their values."""
    from guardrails.models import ModelPrice

    for vendor, model, input_price, output_price, cached in SHIPPED_PRICES:
        values = {
            "vendor": vendor,
            "input_per_million": input_price,
            "output_per_million": output_price,
            "cached_input_per_million": cached,
        }
        price, created = ModelPrice.objects.get_or_create(
            model=model, defaults={**values, "builtin": True}
        )
        if not created and price.builtin and not price.edited:
            for field, value in values.items():
                setattr(price, field, value)
            price.save()
