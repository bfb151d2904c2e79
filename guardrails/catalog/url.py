"""URL guardrail: every URL in the selected text must resolve (``onlyDNS``) or answer a HEAD
request with 200-399, within ``timeout`` milliseconds.

Checks run concurrently on the event loop (``getaddrinfo`` through the loop, HEAD through
``httpx.AsyncClient``). On a stream, text is released up to the start of a URL that may still
be arriving, once the complete URLs before it are checked.

Note: HEAD checks make the gateway fetch URLs chosen by the client or the model; run gateways
where that egress is acceptable, or use ``onlyDNS``.
"""

import asyncio
import re
from typing import Any
from urllib.parse import urlsplit

import httpx

from guardrails.catalog.content import (
    REQUEST_JSON_PATH,
    RESPONSE_JSON_PATH,
    ContentGuardrail,
    Section,
    section_schema,
    sections_schema,
)
from guardrails.registry import (
    RequestContext,
    ResponseContext,
    StreamJudge,
    StreamMode,
    StreamStep,
    Verdict,
    register,
    settled,
)

URL_PATTERN = re.compile(r"https?://[^\s,\"'{}\[\]\\`*]+")
# A URL (or the start of its scheme) reaching the end of the text may still be arriving.
_OPEN_URL_AT_END = re.compile(
    r"(?:https?://[^\s,\"'{}\[\]\\`*]*|h(?:t(?:t(?:p(?:s?(?::/?)?)?)?)?)?)\Z"
)
_TRAILING_PUNCTUATION = ".,;:!?"
# A URL longer than this is judged as it stands rather than held for more text.
_MAX_HELD = 4096


def _url_section(json_path: str, enabled: bool) -> dict[str, Any]:
    return section_schema(
        {
            "onlyDNS": {
                "type": "boolean",
                "default": False,
                "title": "Perform DNS Lookup",
                "description": "Only resolve each URL's host instead of sending a HEAD request.",
                "x-advanced": True,
            },
            "timeout": {
                "type": "integer",
                "minimum": 1,
                "maximum": 60000,
                "default": 3000,
                "title": "Connection Timeout (ms)",
                "x-advanced": True,
            },
        },
        json_path=json_path,
        enabled=enabled,
        invert=False,
    )


def extract_urls(text: str) -> list[str]:
    """URLs in ``text``, without sentence punctuation stuck to their end, in order, once."""
    urls = []
    for raw in URL_PATTERN.findall(text):
        url = raw.rstrip(_TRAILING_PUNCTUATION)
        if url.endswith(")") and url.count("(") < url.count(")"):
            url = url[:-1]
        if url not in urls:
            urls.append(url)
    return urls


async def dns_resolves(url: str, timeout: float) -> bool:
    host = urlsplit(url).hostname
    if not host:
        return False
    loop = asyncio.get_running_loop()
    try:
        infos = await asyncio.wait_for(loop.getaddrinfo(host, None), timeout)
    except (OSError, TimeoutError, UnicodeError):
        return False
    return bool(infos)


async def head_succeeds(client: httpx.AsyncClient, url: str) -> bool:
    try:
        response = await client.head(url)
    except (httpx.HTTPError, ValueError, UnicodeError):
        return False
    return 200 <= response.status_code < 400


@register
class URLGuardrail(ContentGuardrail):
    name = "url-guardrail"
    display_name = "URL Guardrail"
    description = "Blocks text containing URLs that do not resolve or do not answer."
    stream_mode = StreamMode.WINDOW
    # As in the reference v1, this guardrail is on for responses and off for requests unless
    # a section says otherwise.
    parameters_schema = sections_schema(
        _url_section(REQUEST_JSON_PATH, False), _url_section(RESPONSE_JSON_PATH, True)
    )

    # The checks wait on the network: async hooks. ``_judge_body`` hands back a verdict when
    # the path finds no text, else the coroutine of ``judge_text``.
    async def on_request(self, ctx: RequestContext) -> Verdict | None:
        return await settled(self._judge_body(self.request, ctx.body))

    async def on_response(self, ctx: ResponseContext) -> Verdict | None:
        return await settled(self._judge_body(self.response, ctx.body))

    async def judge_text(self, section: Section, text: str) -> Verdict | None:
        urls = extract_urls(text)
        if not urls:
            return None
        invalid = await self.invalid_urls(section, urls)
        return self.violation(section, invalid) if invalid else None

    async def invalid_urls(self, section: Section, urls: list[str]) -> list[str]:
        timeout = section.params["timeout"] / 1000
        if section.params["onlyDNS"]:
            results = await asyncio.gather(*(dns_resolves(url, timeout) for url in urls))
        else:
            async with httpx.AsyncClient(timeout=timeout, follow_redirects=False) as client:
                results = await asyncio.gather(*(head_succeeds(client, url) for url in urls))
        return [url for url, ok in zip(urls, results, strict=True) if not ok]

    def violation(self, section: Section, invalid: list[str]) -> Verdict:
        return Verdict.intervene(
            "Violation of url validity detected.",
            {
                "message": "One or more URLs in the payload failed validation.",
                "invalidUrls": invalid,
            },
            show_assessment=section.show_assessment,
        )

    def stream_judge(self, ctx: ResponseContext) -> StreamJudge | None:
        if self.response is None:
            return None
        return URLStreamJudge(self, self.response)


class URLStreamJudge(StreamJudge):
    def __init__(self, policy: URLGuardrail, section: Section):
        self.policy = policy
        self.section = section
        self.held = ""
        self.checked: set[str] = set()

    async def _judge(self, text: str) -> Verdict | None:
        urls = [url for url in extract_urls(text) if url not in self.checked]
        if not urls:
            return None
        invalid = await self.policy.invalid_urls(self.section, urls)
        if invalid:
            return self.policy.violation(self.section, invalid)
        self.checked.update(urls)
        return None

    async def feed(self, text: str) -> StreamStep:
        buf = self.held + text
        cut = len(buf)
        open_url = _OPEN_URL_AT_END.search(buf)
        if open_url is not None and len(buf) - open_url.start() <= _MAX_HELD:
            cut = open_url.start()
        ready, self.held = buf[:cut], buf[cut:]
        verdict = await self._judge(ready)
        if verdict is not None:
            return StreamStep("", verdict)
        return StreamStep(ready)

    async def finish(self) -> StreamStep:
        ready, self.held = self.held, ""
        verdict = await self._judge(ready)
        if verdict is not None:
            return StreamStep("", verdict)
        return StreamStep(ready)
