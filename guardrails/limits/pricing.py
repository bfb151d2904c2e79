"""Model prices and what a request costs.

Gatehouse ships a price list (``price_list``: USD per million tokens of input, output, cached
input and cache writes, as the vendors publish them for standard, non-batch use) for the models
of OpenAI, Azure OpenAI, Azure AI Foundry, Anthropic, Gemini, Mistral and AWS Bedrock. It is
loaded into the ``ModelPrice`` table after every migrate and by ``refresh_prices``, where the
admin and the API can edit it; an edited row is no longer overwritten.

Lookups forgive the spellings APIs use: ``gpt-4o-2024-08-06`` and ``gpt-4o`` share a price
(the longest known name the model starts with, followed by ``-``, ``@`` or ``:``), and vendor
prefixes such as ``models/``, ``openai/`` or Bedrock's ``us.anthropic.`` are dropped. A model
that matches nothing has no cost on its usage record and costs what a limit's fallback price
says, or 0, with a warning logged once per model and process: an unknown model never blocks a
request by itself.

Costs are integers in nano-dollars (1e-9 USD) so counters add exactly.
"""

import logging
import math
from dataclasses import dataclass
from typing import Any

from guardrails.limits.price_list import SHIPPED, shipped_prices

log = logging.getLogger("gatehouse.limits")

NANO_PER_USD = 1_000_000_000
# A price in USD per million tokens is this many nano-dollars per token, times the price.
_NANO_PER_TOKEN = NANO_PER_USD / 1_000_000

_SEPARATORS = ("-", "@", ":")


@dataclass(frozen=True, slots=True)
class ModelPricing:
    """One model's prices in USD per million tokens; cached input and cache writes fall back
    to the input price."""

    model: str
    input: float
    output: float
    cached_input: float | None = None
    cache_write: float | None = None

    def cost_nano(self, prompt: int, completion: int, cached: int = 0, cache_write: int = 0) -> int:
        """What ``prompt`` input tokens (``cached`` of them read from a prompt cache and
        ``cache_write`` written to it) and ``completion`` output tokens cost, in nano-dollars."""
        cached = min(max(cached, 0), prompt)
        cache_write = min(max(cache_write, 0), prompt - cached)
        cached_price = self.input if self.cached_input is None else self.cached_input
        write_price = self.input if self.cache_write is None else self.cache_write
        usd_per_million = (
            (prompt - cached - cache_write) * self.input
            + cached * cached_price
            + cache_write * write_price
            + completion * self.output
        )
        return math.ceil(usd_per_million * _NANO_PER_TOKEN - 1e-6)

    def usage_cost_nano(self, usage: dict[str, int]) -> int:
        """What a usage record's counts cost (``gateways.dataplane.adapters.base.Usage``)."""
        return self.cost_nano(
            usage.get("prompt_tokens") or 0,
            usage.get("completion_tokens") or 0,
            usage.get("cached_tokens") or 0,
            usage.get("cache_write_tokens") or 0,
        )


class PriceTable:
    """Prices by model name with forgiving lookups, built once and read per request."""

    __slots__ = ("_cache", "_prices")

    def __init__(self, prices: list[ModelPricing]):
        self._prices = {p.model.lower(): p for p in prices}
        self._cache: dict[str, ModelPricing | None] = {}

    @classmethod
    def shipped(cls) -> "PriceTable":
        """The table that ships with Gatehouse (used before the database is read)."""
        return cls(
            [
                ModelPricing(
                    p.model,
                    float(p.input),
                    float(p.output),
                    float_or_none(p.cached_input),
                    float_or_none(p.cache_write),
                )
                for p in shipped_prices()
            ]
        )

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
    log.warning(
        "No price for model %r: its usage records carry no cost and it counts as 0 USD in cost "
        "limits (or their fallback price). Add it to the pricing table.",
        model,
    )


def pricing_from_params(value: dict[str, Any] | None) -> ModelPricing | None:
    """A limit's ``fallbackPrice`` parameter (``{"input", "output"}``, optionally
    ``cachedInput`` and ``cacheWrite``, per 1M tokens)."""
    if not value:
        return None
    return ModelPricing(
        "(fallback)",
        float(value["input"]),
        float(value["output"]),
        float_or_none(value.get("cachedInput")),
        float_or_none(value.get("cacheWrite")),
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


def sync_builtin_prices(**kwargs: Any) -> None:
    """Load the shipped price list (connected to ``post_migrate``): new models are added and
    the rows it set before refreshed; rows an admin edited or another list set are kept."""
    from guardrails.services import model_prices_refresh

    model_prices_refresh(prices=list(shipped_prices()), price_list=SHIPPED, upgrade=True)


def float_or_none(value: Any) -> float | None:
    return None if value is None else float(value)
