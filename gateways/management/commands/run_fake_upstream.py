"""Run the local fake LLM upstream (every provider template's wire format) for demos and trials."""

import uvicorn
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = (
        "Serve the fake LLM upstream: OpenAI, Azure OpenAI, Anthropic, Gemini, Mistral and "
        "Bedrock routes (see gateways/fake_upstream)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8090)

    def handle(self, *args, host, port, **options):
        uvicorn.run(
            "gateways.fake_upstream:application",
            host=host,
            port=port,
            lifespan="off",
            log_level="warning",
        )
