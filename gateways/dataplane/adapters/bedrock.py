"""AWS Bedrock runtime with a Bedrock API key (``Authorization: Bearer``); the model ID is in
the path and Converse responses report ``usage.inputTokens`` / ``outputTokens``.

Response guardrails: Converse answers keep their text at ``$.output.message.content[0].text``
(set it as the response ``jsonPath``). Bedrock's native streams use the binary AWS event-stream
encoding, which the gateway cannot inspect: with response guardrails attached such a response is
refused (fail closed) rather than relayed unchecked; the OpenAI-compatible chat completions
endpoint streams SSE and is judged like OpenAI.
"""

from typing import Any

from gateways.dataplane.adapters.base import ProviderAdapter


class BedrockAdapter(ProviderAdapter):
    family = "aws-bedrock"
    # Model IDs and ARNs travel encoded (``arn%3Aaws%3Abedrock...%2F...``) in one segment.
    opaque_segment_after = "model"
    requests_stream_usage = False
    sse_usage_marker = b"usage"

    def error_payload(self, status: int, code: str, message: str) -> dict[str, Any]:
        return {"message": message, "code": code}

    def error_object(self, payload: dict[str, Any]) -> dict[str, Any]:
        return payload
