"""URL guardrail: every URL in the selected text must resolve (``onlyDNS``) or answer a HEAD
request with 200-399, within ``timeout`` milliseconds.

A text with more than ``maxUrls`` distinct URLs fails without any being checked. The checks
themselves (``url_checks``) never contact loopback, link-local or private addresses unless
the operator allowed their networks, and run at most ten at a time per text over one HTTP
client per process. On a stream, text is released up to the start of a URL that may still
be arriving, once the complete URLs before it are checked.
"""

import asyncio
import re
from collections.abc import Container
from typing import Any

from guardrails.catalog.content import (
    REQUEST_JSON_PATH,
    RESPONSE_JSON_PATH,
    ContentGuardrail,
    Section,
    path_violation,
    section_schema,
    sections_schema,
)
from guardrails.catalog.url_checks import allowed_networks
from guardrails.catalog.url_checks import invalid_urls as failing_urls
from guardrails.engine import ChainCompileError
from guardrails.jsonpath import PathProblem
from guardrails.registry import (
    RequestContext,
    ResponseContext,
    StreamJudge,
    StreamMode,
    StreamStep,
    Verdict,
    register,
)

URL_PATTERN = re.compile(r"https?://[^\s,\"'{}\[\]\\`*]+")
# The characters a URL goes on with (what follows the scheme in ``URL_PATTERN``).
_URL_RUN = re.compile(r"[^\s,\"'{}\[\]\\`*]*")
_SCHEME = re.compile(r"https?://")
# The start of a scheme reaching the end of a text may be a URL still arriving.
_SCHEME_STARTS = frozenset(
    {"h", "ht", "htt", "http", "https", "http:", "https:", "http:/", "https:/"}
)
_TRAILING_PUNCTUATION = ".,;:!?"
# A URL longer than this is judged as it stands rather than held for more text.
_MAX_HELD = 4096
# Characters scanned for URLs between turns of the event loop. A regex scan of 10 MB takes
# 2-24 ms in one call depending on the text (measured), and ``re`` holds the GIL throughout,
# so a worker thread would not free the loop; a window of 64 K characters takes at most
# ~0.2 ms.
SCAN_WINDOW = 64 * 1024
# A URL starting this close to the end of a scanned window may not fit in it ("https://x").
_SCHEME_SPAN = len("https://x") - 1
DEFAULT_MAX_URLS = 50


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
            "maxUrls": {
                "type": "integer",
                "minimum": 1,
                "maximum": 200,
                "default": DEFAULT_MAX_URLS,
                "title": "Maximum URLs",
                "description": "A text with more distinct URLs than this fails unchecked.",
                "x-advanced": True,
            },
        },
        json_path=json_path,
        enabled=enabled,
        invert=False,
    )


def _trimmed(url: str) -> str:
    url = url.rstrip(_TRAILING_PUNCTUATION)
    if url.endswith(")") and url.count("(") < url.count(")"):
        url = url[:-1]
    return url


async def extract_urls(
    text: str, *, limit: int | None = None, skip: Container[str] = ()
) -> list[str]:
    """URLs in ``text``, without sentence punctuation stuck to their end, in order, once each,
    leaving out those in ``skip``; stops once it has ``limit`` of them. Scans a window at a
    time (``SCAN_WINDOW``), letting the event loop run between windows."""
    urls: dict[str, None] = {}
    size = len(text)
    pos = 0
    next_turn = SCAN_WINDOW
    while pos < size:
        end = min(pos + SCAN_WINDOW, size)
        match = URL_PATTERN.search(text, pos, end)
        if match is None:
            if end == size:
                break
            pos = end - _SCHEME_SPAN
        else:
            stop = match.end()
            if stop == end < size:  # the URL may go on past the window
                stop = await _url_end(text, stop)
            url = _trimmed(text[match.start() : stop])
            if url not in skip:
                urls[url] = None
                if limit is not None and len(urls) >= limit:
                    break
            pos = stop
        if pos >= next_turn:
            await asyncio.sleep(0)
            next_turn = pos + SCAN_WINDOW
    return list(urls)


async def _url_end(text: str, pos: int) -> int:
    """Where the URL going on at ``pos`` ends, scanned a window at a time."""
    size = len(text)
    while True:
        end = min(pos + SCAN_WINDOW, size)
        pos = _URL_RUN.match(text, pos, end).end()
        if pos < end or end == size:
            return pos
        await asyncio.sleep(0)


def open_url_start(text: str) -> int | None:
    """Where a URL that may still be arriving starts, when one (or the start of a scheme)
    reaches the end of ``text``: the first scheme in the run of URL characters that ends the
    text. Linear: the run is found by one match on the reversed text."""
    size = len(text)
    run_start = size - _URL_RUN.match(text[::-1]).end()
    scheme = _SCHEME.search(text, run_start)
    if scheme is not None:
        return scheme.start()
    for start in range(max(run_start, size - _SCHEME_SPAN), size):
        if text[start:] in _SCHEME_STARTS:
            return start
    return None


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

    def setup(self, params: dict[str, Any]) -> None:
        super().setup(params)
        # Read once per snapshot; a bad entry leaves the route unable to serve, saying why,
        # rather than checking URLs with no allowlist the operator meant.
        try:
            self.allowed = allowed_networks()
        except ValueError as exc:
            raise ChainCompileError(str(exc)) from None

    # The checks wait on the network: async hooks.
    async def on_request(self, ctx: RequestContext) -> Verdict | None:
        return await self.judge_body(self.request, ctx.body)

    async def on_response(self, ctx: ResponseContext) -> Verdict | None:
        return await self.judge_body(self.response, ctx.body)

    async def judge_body(self, section: Section | None, body: Any) -> Verdict | None:
        if section is None:
            return None
        try:
            text = section.path.text(body)
        except PathProblem as problem:
            return path_violation(section, problem)
        return await self.judge_text(section, text)

    async def judge_text(self, section: Section, text: str) -> Verdict | None:
        most = section.params["maxUrls"]
        urls = await extract_urls(text, limit=most + 1)
        if len(urls) > most:
            return self.too_many(section)
        if not urls:
            return None
        invalid = await self.invalid_urls(section, urls)
        return self.violation(section, invalid) if invalid else None

    async def invalid_urls(self, section: Section, urls: list[str]) -> list[str]:
        return await failing_urls(
            urls,
            only_dns=section.params["onlyDNS"],
            timeout=section.params["timeout"] / 1000,
            allowed=self.allowed,
        )

    def violation(self, section: Section, invalid: list[str]) -> Verdict:
        return Verdict.intervene(
            "Violation of url validity detected.",
            {
                "message": "One or more URLs in the payload failed validation.",
                "invalidUrls": invalid,
            },
            show_assessment=section.show_assessment,
        )

    def too_many(self, section: Section) -> Verdict:
        most = section.params["maxUrls"]
        return Verdict.intervene(
            f"Too many URLs to validate: more than {most}.",
            {
                "message": f"The payload holds more than {most} distinct URLs; none was checked.",
                "maxUrls": most,
            },
            show_assessment=section.show_assessment,
        )

    def stream_judge(self, ctx: ResponseContext) -> StreamJudge | None:
        if self.response is None:
            return None
        return URLStreamJudge(self, self.response)


class URLStreamJudge(StreamJudge):
    """Checks each URL of a streamed text once, as soon as it is complete; ``maxUrls`` counts
    the distinct URLs of the whole stream."""

    def __init__(self, policy: URLGuardrail, section: Section):
        self.policy = policy
        self.section = section
        self.held = ""
        self.checked: set[str] = set()

    async def _judge(self, text: str) -> Verdict | None:
        room = self.section.params["maxUrls"] - len(self.checked)
        urls = await extract_urls(text, limit=room + 1, skip=self.checked)
        if len(urls) > room:
            return self.policy.too_many(self.section)
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
        start = open_url_start(buf)
        if start is not None and len(buf) - start <= _MAX_HELD:
            cut = start
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
