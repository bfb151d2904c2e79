"""AWS Bedrock runtime with a Bedrock API key (``Authorization: Bearer``); the model ID is in
the path and Converse responses report ``usage.inputTokens`` / ``outputTokens``."""

import orjson

from gateways.adapters.base import ProviderAdapter


class BedrockAdapter(ProviderAdapter):
    family = "aws-bedrock"
    requests_stream_usage = False
    sse_usage_marker = b"usage"

    def error_body(self, status: int, code: str, message: str) -> bytes:
        return orjson.dumps({"message": message, "code": code})
