"""AWS Bedrock runtime: ``/model/{modelId}/converse`` and ``/converse-stream`` (any model),
``/invoke`` and ``/invoke-with-response-stream`` (Anthropic models' native body). Streams are
``application/vnd.amazon.eventstream`` frames, encoded by AWS's own event-stream serializer
(from ``amazon-transcribe``; botocore only decodes them).

A caller signs in with a Bedrock API key (``Authorization: Bearer``) or a SigV4 signature,
which is verified with botocore over the request exactly as received, for the test access key
``ACCESS_KEY_ID`` / ``SECRET_ACCESS_KEY`` (AWS's documented example pair) or the temporary
credentials the fake STS issues (``TEMPORARY_ACCESS_KEY_ID``, with ``SESSION_TOKEN``
signed); a wrong signature
gets Bedrock's 403 ``InvalidSignatureException``, another access key
``UnrecognizedClientException``. Usage reports ``cacheReadInputTokens`` /
``cacheWriteInputTokens`` (when a cache was used) apart from ``inputTokens``."""

import base64
import hmac
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from amazon_transcribe.eventstream import EventStreamMessageSerializer
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from gateways.fake_upstream import anthropic
from gateways.fake_upstream.exchange import (
    Counts,
    Exchange,
    Reply,
    bearer_token,
    json_reply,
    last_user_text,
    refused_key,
)
from gateways.fake_upstream.vendor import Vendor, route

ACCESS_KEY_ID = "AKIAIOSFODNN7EXAMPLE"
SECRET_ACCESS_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
# What the fake STS issues: temporary credentials, valid only with their session token.
TEMPORARY_ACCESS_KEY_ID = "ASIAIOSFODNN7EXAMPLE"
TEMPORARY_SECRET_ACCESS_KEY = "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY"
SESSION_TOKEN = "FwoGZXIvYXdzEFAKESESSIONTOKENEXAMPLE"
SECRETS = {ACCESS_KEY_ID: SECRET_ACCESS_KEY, TEMPORARY_ACCESS_KEY_ID: TEMPORARY_SECRET_ACCESS_KEY}
SIGV4 = "AWS4-HMAC-SHA256 "
# How far a signature's time may be from the fake's clock (AWS allows 5 minutes).
CLOCK_SKEW = timedelta(minutes=5)
MODEL = r"/model/(?P<model>.+)"
EVENT_STREAM = [(b"content-type", b"application/vnd.amazon.eventstream")]
REQUEST_ID = (b"x-amzn-requestid", b"00000000-0000-4000-8000-000000000000")
BAD_SIGNATURE = (
    "The request signature we calculated does not match the signature you provided. Check "
    "your AWS Secret Access Key and signing method. Consult the service documentation for "
    "details."
)
SERIALIZER = EventStreamMessageSerializer()


def error(status: int, code: str, message: str, service: str = "bedrock") -> Reply:
    """Bedrock's error: the code in ``x-amzn-ErrorType``, the message in the body."""
    namespace = "com.amazon.bedrock" if service == "bedrock" else "com.amazon.coral.service"
    kind = f"{code}:http://internal.amazon.com/coral/{namespace}/".encode()
    return json_reply(status, {"message": message}, [(b"x-amzn-errortype", kind), REQUEST_ID])


def frame(event_type: str, payload: dict[str, Any]) -> bytes:
    """One event-stream message holding an event of ``event_type``."""
    headers = {
        ":event-type": event_type,
        ":content-type": "application/json",
        ":message-type": "event",
    }
    return SERIALIZER.serialize(headers, orjson.dumps(payload))


def converse_usage(counts: Counts) -> dict[str, Any]:
    usage: dict[str, Any] = {"inputTokens": counts.prompt, "outputTokens": counts.completion}
    total = counts.prompt + counts.completion + counts.cached + counts.cache_write
    usage["totalTokens"] = total
    if counts.cached or counts.cache_write:
        usage["cacheReadInputTokens"] = counts.cached
        usage["cacheWriteInputTokens"] = counts.cache_write
    return usage


def signature_refusal(exchange: Exchange) -> Reply | None:
    """Verify a SigV4 ``Authorization`` over the request as received; Bedrock's 403 when it
    does not hold."""
    fields = {}
    for part in exchange.headers["authorization"][len(SIGV4) :].split(","):
        name, _, value = part.strip().partition("=")
        fields[name] = value
    scope = fields.get("Credential", "").split("/")
    if len(scope) != 5 or not fields.get("SignedHeaders") or not fields.get("Signature"):
        return error(400, "IncompleteSignatureException", "Authorization header is malformed.")
    key_id, _, region, service, _ = scope
    signed = fields["SignedHeaders"].split(";")
    temporary = key_id == TEMPORARY_ACCESS_KEY_ID
    token = exchange.headers.get("x-amz-security-token", "")
    if key_id not in SECRETS or temporary != bool(token):
        message = "The security token included in the request is invalid."
        return error(403, "UnrecognizedClientException", message, "coral")
    if temporary and (token != SESSION_TOKEN or "x-amz-security-token" not in signed):
        message = "The security token included in the request is invalid."
        return error(403, "UnrecognizedClientException", message, "coral")
    stamp = exchange.headers.get("x-amz-date", "")
    if "host" not in signed or "x-amz-date" not in signed or not stamp:
        return error(403, "InvalidSignatureException", BAD_SIGNATURE, "coral")
    if any(name not in exchange.headers for name in signed):
        return error(403, "InvalidSignatureException", BAD_SIGNATURE, "coral")
    try:
        signed_at = datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except ValueError:
        return error(403, "InvalidSignatureException", BAD_SIGNATURE, "coral")
    if abs(datetime.now(UTC) - signed_at) > CLOCK_SKEW:
        message = f"Signature expired: {stamp} is now earlier than the allowed time."
        return error(403, "InvalidSignatureException", message, "coral")
    query = f"?{exchange.query}" if exchange.query else ""
    request = AWSRequest(
        method=exchange.method,
        url=f"http://{exchange.headers['host']}{exchange.raw_path}{query}",
        headers={name: exchange.headers[name] for name in signed},
        data=exchange.body,
    )
    request.context["timestamp"] = stamp
    signer = SigV4Auth(Credentials(key_id, SECRETS[key_id]), service, region)
    expected = signer.signature(
        signer.string_to_sign(request, signer.canonical_request(request)), request
    )
    if not hmac.compare_digest(expected, fields["Signature"]):
        return error(403, "InvalidSignatureException", BAD_SIGNATURE, "coral")
    return None


class Bedrock(Vendor):
    name = "aws-bedrock"
    routes = [
        (route("POST", MODEL + r"/converse"), "converse"),
        (route("POST", MODEL + r"/converse-stream"), "converse_stream"),
        (route("POST", MODEL + r"/invoke"), "invoke"),
        (route("POST", MODEL + r"/invoke-with-response-stream"), "invoke_stream"),
    ]

    def refuse(self, exchange: Exchange, found) -> Reply | None:
        authorization = exchange.headers.get("authorization", "")
        if authorization.startswith(SIGV4):
            return signature_refusal(exchange)
        key = bearer_token(exchange)
        if not key:
            message = "Missing Authentication Token"
            return error(403, "MissingAuthenticationTokenException", message, "coral")
        if refused_key(key):
            message = "The security token included in the request is invalid."
            return error(403, "UnrecognizedClientException", message, "coral")
        return None

    def bad_request(self, message: str) -> Reply:
        return error(400, "ValidationException", f"Malformed input request: {message}")

    # --- Converse ----------------------------------------------------------------------------

    def conversation(self, exchange: Exchange) -> tuple[str | None, list[str], Counts] | Reply:
        """The reply, its pieces and counts for a Converse request; 400 for a bad one."""
        request = exchange.request
        messages = request.get("messages") if isinstance(request, dict) else None
        if not isinstance(messages, list) or not messages:
            return error(400, "ValidationException", "A conversation must have messages.")
        reply = exchange.reply_text(last_user_text(messages))
        pieces = exchange.pieces(reply)
        return reply, pieces, exchange.counts(len(pieces))

    async def converse(self, exchange: Exchange, found) -> None:
        found_turn = self.conversation(exchange)
        if isinstance(found_turn, Reply):
            return await exchange.answer(found_turn)
        reply, _, counts = found_turn
        text = f"echo: {last_user_text(exchange.request['messages'])}" if reply is None else reply
        answer = {
            "output": {"message": {"role": "assistant", "content": [{"text": text}]}},
            "stopReason": "end_turn",
            "usage": converse_usage(counts),
            "metrics": {"latencyMs": 1},
        }
        override = exchange.usage_override()
        if override is not None:
            answer["usage"] = override
        await exchange.answer(json_reply(200, answer, [REQUEST_ID]))

    async def converse_stream(self, exchange: Exchange, found) -> None:
        found_turn = self.conversation(exchange)
        if isinstance(found_turn, Reply):
            return await exchange.answer(found_turn)
        _, pieces, counts = found_turn
        frames = [frame("messageStart", {"role": "assistant"})]
        for piece in pieces:
            delta = {"contentBlockIndex": 0, "delta": {"text": piece}}
            frames.append(frame("contentBlockDelta", delta))
        frames.append(frame("contentBlockStop", {"contentBlockIndex": 0}))
        frames.append(frame("messageStop", {"stopReason": "end_turn"}))
        metadata = {"usage": converse_usage(counts), "metrics": {"latencyMs": 1}}
        frames.append(frame("metadata", metadata))
        await exchange.stream(frames, [*EVENT_STREAM, REQUEST_ID])

    # --- InvokeModel (Anthropic's body) ------------------------------------------------------

    def anthropic_turn(self, exchange: Exchange, found) -> tuple[dict, list[str], str] | Reply:
        if "anthropic." not in found["model"]:
            return error(400, "ValidationException", "The provided model identifier is invalid.")
        request = exchange.request
        if not isinstance(request, dict) or "anthropic_version" not in request:
            message = "Malformed input request: #: required key [anthropic_version] not found"
            return error(400, "ValidationException", message)
        reply = exchange.reply_text(last_user_text(request.get("messages")))
        pieces = exchange.pieces(reply)
        text = f"echo: {anthropic.last_text(request)}" if reply is None else reply
        return {**request, "model": found["model"]}, pieces, text

    async def invoke(self, exchange: Exchange, found) -> None:
        turn = self.anthropic_turn(exchange, found)
        if isinstance(turn, Reply):
            return await exchange.answer(turn)
        request, pieces, text = turn
        counts = exchange.counts(len(pieces))
        answer = anthropic.message(request, text, counts, msg_id="msg_bdrk_fake")
        override = exchange.usage_override()
        if override is not None:
            answer["usage"] = override
        headers = [
            (b"x-amzn-bedrock-input-token-count", str(counts.prompt).encode()),
            (b"x-amzn-bedrock-output-token-count", str(counts.completion).encode()),
            (b"x-amzn-bedrock-invocation-latency", b"1"),
            REQUEST_ID,
        ]
        await exchange.answer(json_reply(200, answer, headers))

    async def invoke_stream(self, exchange: Exchange, found) -> None:
        turn = self.anthropic_turn(exchange, found)
        if isinstance(turn, Reply):
            return await exchange.answer(turn)
        request, pieces, _ = turn
        counts = exchange.counts(len(pieces))
        events = anthropic.stream_events(request, pieces, counts)
        events[-1]["amazon-bedrock-invocationMetrics"] = {
            "inputTokenCount": counts.prompt,
            "outputTokenCount": counts.completion,
            "invocationLatency": 1,
            "firstByteLatency": 1,
        }
        frames = [
            frame("chunk", {"bytes": base64.b64encode(orjson.dumps(event)).decode()})
            for event in events
        ]
        headers = [*EVENT_STREAM, (b"x-amzn-bedrock-content-type", b"application/json")]
        await exchange.stream(frames, [*headers, REQUEST_ID])
