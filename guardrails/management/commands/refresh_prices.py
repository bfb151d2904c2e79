"""Load a price list into the model pricing table."""

from pathlib import Path

from core.commands import ServiceCommand
from guardrails import services
from guardrails.limits.price_list import SHIPPED, read_price_list, shipped_prices
from guardrails.models import ModelPrice


class Command(ServiceCommand):
    help = (
        "Load the price list Gatehouse ships, or a CSV file of your own with --file, into the "
        "model pricing table: new models are added and rows a price list set are brought up "
        "to date; rows an admin edited or added are kept. Prints how many rows were added and "
        "updated; gateways pick the prices up within a second."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--file",
            metavar="F",
            help="A CSV file with the shipped list's columns: vendor, model, input, output, "
            "cached_input, cache_write (USD per million tokens) and checked_on.",
        )

    def run(self, *args, file: str | None, **options) -> None:
        if file:
            prices = read_price_list(Path(file), vendors=ModelPrice.Vendor.values)
            name = Path(file).name
        else:
            prices, name = list(shipped_prices()), SHIPPED
        result = services.model_prices_refresh(prices=prices, price_list=name)
        self.emit(f"{len(result.created)} added, {len(result.updated)} updated")
        if result.kept:
            shown = ", ".join(result.kept[:10])
            more = f" and {len(result.kept) - 10} more" if len(result.kept) > 10 else ""
            self.note(
                f"Kept {len(result.kept)} prices an admin edited or added: {shown}{more}. "
                "Change them in the admin or the API."
            )
