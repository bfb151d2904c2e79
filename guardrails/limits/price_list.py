"""Price lists: the one Gatehouse ships (``prices.csv`` beside this module) and those
``refresh_prices --file`` and the API load into the editable pricing table.

One row per model, as its vendor's API names it (``gpt-4o``, ``claude-sonnet-4-5``,
``anthropic.claude-3-haiku-20240307-v1:0`` on Bedrock): the vendor, then USD per million tokens
of input, output, cached input (read from a prompt cache) and cache writes, and the date the
prices were checked against the vendor's list. Cached input and cache writes may be left empty:
they then cost the input price.
"""

import csv
import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from functools import cache
from pathlib import Path
from typing import Any

from core.errors import ValidationFailed

SHIPPED_PRICE_LIST = Path(__file__).with_name("prices.csv")
SHIPPED = "shipped"  # the ``price_list`` of a row the shipped list set
COLUMNS = ("vendor", "model", "input", "output", "cached_input", "cache_write", "checked_on")
REQUIRED = ("model", "input", "output")
PRICES = ("input", "output", "cached_input", "cache_write")
# The pricing table's columns hold up to 12 digits, 6 of them decimals.
LARGEST_PRICE = Decimal("999999.999999")
MODEL_LENGTH = 200
MAX_ERRORS = 20


class PriceListInvalid(ValidationFailed):
    code = "PRICE_LIST_INVALID"


@dataclass(frozen=True, slots=True)
class ListedPrice:
    """One model's prices as a price list gives them (USD per million tokens)."""

    vendor: str
    model: str
    input: Decimal
    output: Decimal
    cached_input: Decimal | None = None
    cache_write: Decimal | None = None
    checked_on: date | None = None


@cache
def shipped_prices() -> tuple[ListedPrice, ...]:
    """The price list that ships with Gatehouse, read once per process."""
    return tuple(read_price_list(SHIPPED_PRICE_LIST))


def read_price_list(path: Path, *, vendors: Iterable[str] | None = None) -> list[ListedPrice]:
    """The prices of a CSV file in the shipped list's columns; ``PriceListInvalid`` saying
    where, when the file cannot be read or a row is wrong."""
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "not UTF-8 text"
        raise PriceListInvalid(
            f"Cannot read the price list {path}: {reason}.",
            errors=[{"field": "file", "message": reason}],
        ) from None
    return parse_price_csv(text, vendors=vendors)


def parse_price_csv(text: str, *, vendors: Iterable[str] | None = None) -> list[ListedPrice]:
    """The prices of CSV text whose header names the shipped list's columns (``vendor``,
    ``model``, ``input``, ``output``, ``cached_input``, ``cache_write``, ``checked_on``; the
    first four are needed, the order is free)."""
    reader = csv.DictReader(io.StringIO(text))
    header = [name.strip() for name in reader.fieldnames or []]
    missing = [name for name in REQUIRED if name not in header]
    if missing:
        message = f"the header names no {', '.join(missing)} column"
        raise PriceListInvalid(
            f"The price list is invalid: {message}.",
            errors=[{"field": "line 1", "message": message}],
        )
    rows = ({(k or "").strip(): v for k, v in row.items()} for row in reader)
    return parse_price_rows(rows, field=line_field, vendors=vendors)


def line_field(index: int, column: str) -> str:
    """Where a CSV row's error is, as an editor shows it: the header is line 1."""
    return f"line {index + 2}, {column}" if column else f"line {index + 2}"


def parse_price_rows(
    rows: Iterable[Any],
    *,
    field: Callable[[int, str], str],
    vendors: Iterable[str] | None = None,
) -> list[ListedPrice]:
    """Checked prices from rows keyed by the shipped list's columns (CSV text or JSON values);
    ``field(i, column)`` names the place of an error (``column`` empty: the whole row). Every
    error is reported (up to 20)."""
    known = frozenset(vendors) if vendors is not None else None
    prices: list[ListedPrice] = []
    errors: list[dict[str, str]] = []
    seen: set[str] = set()
    for index, row in enumerate(rows):
        if not isinstance(row, dict):
            message = "Expected an object of the list's columns."
            errors.append({"field": field(index, ""), "message": message})
            continue
        before = len(errors)
        listed = _listed_price(row, lambda column, i=index: field(i, column), known, errors)
        if listed is None or len(errors) > before:
            continue
        if listed.model.lower() in seen:
            message = "This model is listed twice."
            errors.append({"field": field(index, "model"), "message": message})
            continue
        seen.add(listed.model.lower())
        prices.append(listed)
    if errors:
        shown = errors[:MAX_ERRORS]
        summary = "; ".join(f"{e['field']}: {e['message']}" for e in shown[:3])
        more = f" (and {len(errors) - 3} more)" if len(errors) > 3 else ""
        raise PriceListInvalid(f"The price list is invalid: {summary}{more}", errors=shown)
    return prices


def _listed_price(
    row: dict[str, Any],
    field: Callable[[str], str],
    vendors: frozenset[str] | None,
    errors: list[dict[str, str]],
) -> ListedPrice | None:
    def fail(column: str, message: str) -> None:
        errors.append({"field": field(column), "message": message})

    model = _text(row.get("model"))
    if not model:
        fail("model", "A model name is needed.")
    elif len(model) > MODEL_LENGTH:
        fail("model", f"At most {MODEL_LENGTH} characters.")
    vendor = _text(row.get("vendor")) or "other"
    if vendors is not None and vendor not in vendors:
        fail("vendor", f"Unknown vendor '{vendor}'; one of: {', '.join(sorted(vendors))}.")
    amounts: dict[str, Decimal | None] = {}
    for column in PRICES:
        value = row.get(column)
        if value is None or (isinstance(value, str) and not value.strip()):
            if column in REQUIRED:
                fail(column, "A price is needed.")
            amounts[column] = None
            continue
        amount = _price(value)
        if amount is None:
            fail(column, f"'{value}' is not a price from 0 to {LARGEST_PRICE} with 6 decimals.")
        amounts[column] = amount
    checked = _text(row.get("checked_on"))
    checked_on = None
    if checked:
        try:
            checked_on = date.fromisoformat(checked)
        except ValueError:
            fail("checked_on", f"'{checked}' is not a date (YYYY-MM-DD).")
    if not model or amounts["input"] is None or amounts["output"] is None:
        return None
    return ListedPrice(
        vendor=vendor,
        model=model,
        input=amounts["input"],
        output=amounts["output"],
        cached_input=amounts["cached_input"],
        cache_write=amounts["cache_write"],
        checked_on=checked_on,
    )


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _price(value: Any) -> Decimal | None:
    """A price as the table stores it; None when it is not one (a bool is not a number)."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return None
    try:
        amount = Decimal(value.strip() if isinstance(value, str) else str(value))
    except InvalidOperation:
        return None
    if not amount.is_finite() or not 0 <= amount <= LARGEST_PRICE:
        return None
    if amount.as_tuple().exponent < -6 and amount != amount.quantize(Decimal("0.000001")):
        return None
    return amount
