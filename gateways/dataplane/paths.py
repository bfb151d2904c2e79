"""One canonical form of the invoke path, made from the raw bytes before any check.

Access control, the model allowlist and the upstream URL must all see the same path. The
server hands the application a percent-decoded ``path`` that an HTTP client would normalise
again on the way out (``..`` collapsed, ``%2F`` turned into a separator), so a path could be
checked as one thing and reach the upstream as another. Here the raw path is split on its
literal slashes once; a path with a dot segment, an empty segment, a NUL or other control
character, a malformed or non-ASCII escape, or an encoded separator (``%2F``, ``%3F``,
``%23``, ``%5C``) is refused, and what is forwarded upstream is the caller's raw path, which
decodes to exactly the path that was checked.

One exception: a segment the provider's adapter declares opaque (Bedrock's model ID, which
carries ARNs as ``arn%3Aaws%3Abedrock...%2F...``) may hold encoded separators. It is kept
encoded in the checked path, so it stays one segment for access control, and forwarded as it
came; its decoded value is the model the allowlist sees.
"""

from dataclasses import dataclass
from urllib.parse import unquote

# Encoded bytes that would become a separator (or a query / fragment) once decoded.
_SEPARATORS = frozenset("/?#\\")
_DOT_SEGMENTS = frozenset({".", ".."})


class BadPath(ValueError):
    """The path cannot be served as it is; the message says why, for the 400 answer."""


@dataclass(frozen=True, slots=True)
class InvokePath:
    """The segments of an invoke path after the proxy ID, checked.

    ``checked``: decoded, as every check reads them (an opaque segment still encoded);
    ``raw``: the same segments as the caller encoded them, forwarded upstream; ``opaque``:
    the decoded value of the opaque segment, or "" when there is none.
    """

    checked: tuple[str, ...]
    raw: tuple[str, ...]
    opaque: str = ""

    def resource(self, context: tuple[str, ...]) -> tuple[str, str] | None:
        """The resource after the proxy's ``context`` segments: ``(checked, raw)`` paths,
        each starting with "/"; None when the path is outside the context or ends there."""
        size = len(context)
        if len(self.checked) <= size or self.checked[:size] != context:
            return None
        return "/" + "/".join(self.checked[size:]), "/" + "/".join(self.raw[size:])


def split_proxy(raw_path: bytes) -> tuple[str, bytes]:
    """``b"/chat-api/v1/chat/completions"`` → ``("chat-api", b"/v1/chat/completions")``. The
    proxy ID is decoded for the route lookup only (IDs are plain lowercase ASCII)."""
    end = raw_path.find(b"/", 1)
    if end == -1:
        head, rest = raw_path[1:], b""
    else:
        head, rest = raw_path[1:end], raw_path[end:]
    return head.decode("latin-1"), rest


def canonical_path(rest: bytes, opaque_after: str | None = None) -> InvokePath:
    """Check the raw path after the proxy ID and return its canonical parts.

    ``opaque_after``: the literal segment (``"model"``) after which one segment is opaque.
    Raises ``BadPath``."""
    if not rest:
        return InvokePath((), ())
    try:
        raw = rest.decode("ascii")
    except UnicodeDecodeError:
        raise BadPath("The path holds bytes that are not percent-encoded.") from None
    if raw[0] != "/":
        raise BadPath("The path must start with '/'.")
    raw_segments = raw[1:].split("/")
    checked: list[str] = []
    opaque_value = ""
    opaque_next = False
    for segment in raw_segments:
        if not segment:
            raise BadPath("The path has an empty segment ('//' or a trailing '/').")
        escaped = "%" in segment
        decoded = _decode(segment) if escaped else segment
        if not decoded.isprintable():
            raise BadPath("The path holds a control character.")
        if opaque_next:
            # One segment, kept as the caller encoded it; its parts must still not walk up.
            if any(part in _DOT_SEGMENTS for part in decoded.replace("\\", "/").split("/")):
                raise BadPath("The path has a '.' or '..' segment.")
            checked.append(segment)
            opaque_value = decoded
            opaque_next = False
            continue
        if decoded in _DOT_SEGMENTS:
            raise BadPath("The path has a '.' or '..' segment.")
        if escaped and not _SEPARATORS.isdisjoint(decoded):
            raise BadPath("The path has an encoded '/', '?', '#' or '\\'.")
        if "\\" in decoded:
            raise BadPath("The path has a '\\'.")
        checked.append(decoded)
        opaque_next = opaque_after is not None and decoded == opaque_after
    return InvokePath(tuple(checked), tuple(raw_segments), opaque_value)


def _decode(segment: str) -> str:
    """Percent-decode one segment strictly: every ``%`` starts two hex digits of UTF-8."""
    at = segment.find("%")
    while at != -1:
        pair = segment[at + 1 : at + 3]
        if len(pair) != 2 or not all(c in "0123456789abcdefABCDEF" for c in pair):
            raise BadPath("The path has a malformed percent-escape.")
        at = segment.find("%", at + 3)
    try:
        return unquote(segment, errors="strict")
    except UnicodeDecodeError:
        raise BadPath("The path's escapes do not spell UTF-8 text.") from None


def clean_query(query: bytes) -> str:
    """The raw query string, forwarded as it came; refused when it holds bytes that are not
    printable ASCII (they would be re-encoded on the way out)."""
    if not query:
        return ""
    try:
        text = query.decode("ascii")
    except UnicodeDecodeError:
        raise BadPath("The query string holds bytes that are not percent-encoded.") from None
    if not text.isprintable() or " " in text:
        raise BadPath("The query string holds a space or a control character.")
    return text


def take_query_param(query: str, name: str) -> tuple[str | None, str]:
    """Remove parameter ``name`` from a raw query string: its decoded value (the last one
    when repeated) and the other parameters exactly as they came."""
    if name not in unquote(query):
        return None, query
    value = None
    kept = []
    for pair in query.split("&"):
        key, _, raw_value = pair.partition("=")
        if unquote(key.replace("+", " ")) == name:
            value = unquote(raw_value.replace("+", " "))
        elif pair:
            kept.append(pair)
    return value, "&".join(kept)
