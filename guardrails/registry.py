"""The policy registry: every guardrail or policy is one small class registered here.

A policy declares its name, version, phases and a JSON schema for its parameters (properties
flagged ``"x-advanced": true`` are shown collapsed in forms). Attachments are validated against
that schema when saved, with the schema's defaults filled in, so the deployment snapshot holds
complete, checked parameters. ``Policy.compile`` turns them into a ready instance once per
snapshot (regexes, JSONPaths and schemas pre-compiled); the gateway only calls its hooks.

Hooks on a compiled instance, each optional:
- ``on_request(ctx: RequestContext) -> Verdict | None`` (None means passed);
- ``on_response(ctx: ResponseContext) -> Verdict | None``;
  each a plain method, or ``async`` when it waits on I/O (the URL guardrail): the chain calls
  plain ones without creating a coroutine, which matters on a path run per request;
- ``stream_judge(ctx: ResponseContext) -> StreamJudge | None`` for streamed responses, judging
  the plain text deltas the data plane extracts from the SSE events;
- ``request_text_hook()``: the same request phase on just the text at a JSONPath, for
  chains whose request policies all read the same text (see the method);
- ``on_response_raw(data: bytes, state) -> bytes | None``, for a policy that can do its
  response work on the raw JSON bytes (restoring placeholders): the bytes to send (the same
  object when unchanged), or None when it needs the parsed body after all. When every
  response policy of a chain has one, a plain JSON response is never parsed for them nor
  serialised again.
"""

import inspect
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, ClassVar, NamedTuple, Protocol

from jsonschema import Draft7Validator
from jsonschema.exceptions import ValidationError as SchemaError


class Phase:
    REQUEST = "request"
    RESPONSE = "response"
    STREAM = "stream"


class Direction:
    REQUEST = "REQUEST"
    RESPONSE = "RESPONSE"


class StreamMode:
    """How much of a streamed response a policy must see before releasing text."""

    CHUNK = "chunk"  # judges each delta as it comes
    WINDOW = "window"  # holds back a bounded tail (a placeholder or a match split across deltas)
    END = "end"  # must see the whole text; nothing is released until it passes


class Action:
    PASSED = "passed"
    MODIFIED = "modified"
    INTERVENED = "intervened"


class ParameterError(ValueError):
    """Parameters that break a policy's schema; ``errors`` holds ``{"field", "message"}`` rows."""

    def __init__(self, errors: list[dict[str, str]]):
        self.errors = errors
        super().__init__("; ".join(f"{e['field']}: {e['message']}" for e in errors))


@dataclass(frozen=True, slots=True)
class Verdict:
    """What a hook decided. Hooks return None for "passed" so the common case allocates nothing.

    An intervention carries the ``actionReason``, the ``assessments`` (shown only when
    ``show_assessment``) and the HTTP status: 422 for a guardrail; a transformation policy
    whose input the client got wrong (an unknown prompt template) uses 400 and an
    ``error_type`` such as ``PROMPT_TEMPLATE_ERROR``.
    """

    action: str
    reason: str = ""
    assessments: Any = None
    show_assessment: bool = False
    status: int = 422
    error_type: str | None = None

    @property
    def intervened(self) -> bool:
        return self.action == Action.INTERVENED

    @classmethod
    def intervene(
        cls,
        reason: str,
        assessments: Any = None,
        *,
        show_assessment: bool = False,
        status: int = 422,
        error_type: str | None = None,
    ) -> "Verdict":
        return cls(Action.INTERVENED, reason, assessments, show_assessment, status, error_type)


MODIFIED = Verdict(Action.MODIFIED)


class RequestContext:
    """The parsed request body (policies may change it in place) and the per-request state,
    a dict shared with the response phase (e.g. the PII placeholder mapping)."""

    __slots__ = ("body", "state")
    direction = Direction.REQUEST

    def __init__(self, body: Any, state: dict[str, Any]):
        self.body = body
        self.state = state


class ResponseContext(RequestContext):
    """The parsed response body (None while streaming) and the request's state."""

    __slots__ = ()
    direction = Direction.RESPONSE


class StreamStep(NamedTuple):
    """Text a judge lets through now (possibly rewritten), or an intervention."""

    release: str
    verdict: Verdict | None = None


_BACKSLASH = ord("\\")


class StreamJudge:
    """Judges one streamed response, delta by delta. One instance per response.

    ``feed`` and ``finish`` are plain methods, or ``async`` ones when judging waits on I/O
    (the URL guardrail): the stream guard awaits only what returns an awaitable."""

    modified: bool = False
    # How a judge that can tell from the raw bytes says so, kept current as it is fed: a
    # callable ``veto(events, pos=0)``, ideally a compiled pattern's ``search`` (no Python
    # frame, so a relay loop can ask it for every read), giving None when the text of the raw
    # events from ``pos`` on would be released unchanged, leaving the judge as it was, and
    # anything else for the rest: a match object when it can say where (the events before
    # that one then pass). It is asked only about events without a ``\u`` escape (which could
    # spell any text). None: every event is fed.
    raw_veto: Callable[..., object] | None = None

    def passes_raw(self, events: bytes) -> bool:
        """Whether any text the raw SSE ``events`` (one or more complete events, their JSON
        still encoded) can carry would be released unchanged by ``feed``, leaving the judge
        as it was: the gateway then relays them as they came without decoding them. From
        ``raw_veto``; without one, every event goes through ``feed``."""
        veto = self.raw_veto
        if veto is None or (_BACKSLASH in events and b"\\u" in events):
            return False
        return veto(events) is None

    def feed(self, text: str) -> StreamStep:
        raise NotImplementedError

    def finish(self) -> StreamStep:
        raise NotImplementedError

    def raw_feeder(self) -> Callable[[str, bytes], bytes] | None:
        """For a judge that never intervenes and can release text straight into a raw event:
        ``feed_raw(text, span)``, ``feed`` for ``text`` whose JSON string in the event is
        ``span`` (no escapes: its UTF-8 bytes), giving the released text as JSON string bytes
        (``span`` itself when released unchanged). None: ``feed`` only."""
        return None

    def raw_carrier(self) -> "RawCarrier | None":
        """For a judge with a ``raw_feeder`` that can settle its veto's hits in many raw
        events at once (see ``RawCarrier``); None: events with hits are fed one by one."""
        return None


class RawCarrier(Protocol):
    """What a judge offers to settle a read of many raw events in one pass, when all it does
    to text is hold back an unfinished piece at a text's end and rewrite complete pieces.
    The relay moves each piece that ends a text into the next event's text, where the judge
    would have released it, and rewrites each complete piece where it stands."""

    # For a veto hit at ``at``: ``held_run(events, at).end()`` is where the piece the judge
    # would hold back, if its text ended there, ends (a compiled pattern's ``match``: no
    # Python frame per hit). A complete piece is that run and the byte after it.
    held_run: Callable[[bytes, int], Any]
    # Each complete piece the judge rewrites and what it becomes, as raw JSON string bytes.
    # The relay sets the judge's ``modified`` when it rewrites one.
    rewrites: dict[bytes, bytes]
    modified: bool


async def settled(value: Any) -> Any:
    """What a hook returned, awaited when it is an async hook's coroutine."""
    return await value if inspect.isawaitable(value) else value


class Policy:
    """Base class: class attributes describe the policy; an instance is a compiled attachment."""

    name: ClassVar[str]
    version: ClassVar[str] = "v1"
    display_name: ClassVar[str]
    description: ClassVar[str] = ""
    category: ClassVar[str] = "guardrail"
    phases: ClassVar[frozenset[str]] = frozenset()
    parameters_schema: ClassVar[dict[str, Any]] = {"type": "object", "properties": {}}
    stream_mode: str = StreamMode.END
    # The ``type`` of the 422 body, e.g. ``WORD_COUNT_GUARDRAIL``; derived from ``name``.
    intervention_type: ClassVar[str] = ""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "name" in cls.__dict__ and "intervention_type" not in cls.__dict__:
            cls.intervention_type = cls.name.upper().replace("-", "_")

    def __init__(self, params: dict[str, Any], *, key: str | None = None):
        self.params = params
        self.key = key or self.name
        self.applies_to_request = Phase.REQUEST in self.phases
        self.applies_to_response = Phase.RESPONSE in self.phases
        self.setup(params)

    @classmethod
    def compile(cls, params: dict[str, Any] | None, *, key: str | None = None) -> "Policy":
        """Validate ``params`` (filling defaults) and build the instance the gateway runs.

        Done once per deployment snapshot, never per request. ``key`` tells two attachments
        of the same policy apart in the per-request state.
        """
        return cls(cls.validate_params(params), key=key)

    def setup(self, params: dict[str, Any]) -> None:
        """Pre-compile what the hooks need; may narrow ``applies_to_request/response``."""

    def on_request(self, ctx: RequestContext) -> Verdict | None:
        return None

    def on_response(self, ctx: ResponseContext) -> Verdict | None:
        return None

    def request_text_hook(self) -> "tuple[Any, Callable[[str, dict[str, Any]], Any]] | None":
        """For a policy whose request phase only reads or rewrites the text at one JSONPath of
        names and indexes: ``(compiled path, hook)``, ``hook(text, state)`` returning None
        (passed, unchanged), the rewritten text (modified) or a Verdict. When every request
        policy of a chain has one for the same path, the chain reads that text once for all
        of them (and writes it back once) instead of each walking the body; a body without
        a string there goes through ``on_request`` as usual. None: ``on_request`` only."""
        return None

    def stream_judge(self, ctx: ResponseContext) -> StreamJudge | None:
        """A judge for one streamed response, or None when there is nothing to do for it."""
        return None

    # ``on_response_raw(data, state) -> bytes | None``; see the module docstring.
    on_response_raw: Any = None

    @classmethod
    def validate_params(cls, params: dict[str, Any] | None) -> dict[str, Any]:
        """Check ``params`` against the schema and return them with defaults filled in."""
        params = {} if params is None else params
        validator = Draft7Validator(cls.parameters_schema)
        errors = sorted(validator.iter_errors(params), key=lambda e: list(e.absolute_path))
        if errors:
            raise ParameterError([_field_error(e) for e in errors])
        cleaned = _with_defaults(cls.parameters_schema, params)
        problems = cls.check(cleaned)
        if problems:
            raise ParameterError(problems)
        return cleaned

    @classmethod
    def check(cls, params: dict[str, Any]) -> list[dict[str, str]]:
        """Rules the schema cannot express (e.g. min <= max). Return field errors."""
        return []

    @classmethod
    def describe(cls) -> dict[str, Any]:
        return {
            "name": cls.name,
            "version": cls.version,
            "display_name": cls.display_name,
            "description": cls.description,
            "category": cls.category,
            "phases": sorted(cls.phases),
            "stream_mode": cls.stream_mode if Phase.RESPONSE in cls.phases else None,
            "parameters_schema": cls.parameters_schema,
        }


def _field_error(error: SchemaError) -> dict[str, str]:
    path = [str(p) for p in error.absolute_path]
    if error.validator == "required":
        missing = error.message.split("'")[1] if "'" in error.message else ""
        path.append(missing)
        message = "This field is required."
    elif error.validator in ("anyOf", "oneOf") and _only_required(error.validator_value):
        names = ", ".join(name for option in error.validator_value for name in option["required"])
        quantity = "at least one" if error.validator == "anyOf" else "exactly one"
        message = f"Provide {quantity} of: {names}."
    else:
        message = error.message
    return {
        "field": "params." + ".".join(p for p in path if p) if path else "params",
        "message": message,
    }


def _only_required(options: Any) -> bool:
    return isinstance(options, list) and all(set(o) == {"required"} for o in options)


def _with_defaults(schema: dict[str, Any], value: Any) -> Any:
    if schema.get("type") == "array" and isinstance(value, list) and "items" in schema:
        return [_with_defaults(schema["items"], item) for item in value]
    if schema.get("type") != "object" or not isinstance(value, dict):
        return value
    result = dict(value)
    for key, sub in schema.get("properties", {}).items():
        if key not in result and "default" in sub:
            result[key] = sub["default"]
        if key in result:
            result[key] = _with_defaults(sub, result[key])
    return result


_REGISTRY: dict[str, type[Policy]] = {}


def register(cls: type[Policy]) -> type[Policy]:
    """Class decorator adding a policy to the catalog."""
    Draft7Validator.check_schema(cls.parameters_schema)
    if Phase.RESPONSE in cls.phases and cls.stream_judge is Policy.stream_judge:
        # A response guardrail that could not judge streams would be skipped silently there.
        raise TypeError(f"{cls.__name__} has a response phase but no stream_judge.")
    _REGISTRY[cls.name] = cls
    return cls


def get_policy(name: str) -> type[Policy] | None:
    return _REGISTRY.get(name)


def all_policies() -> Iterable[type[Policy]]:
    return sorted(_REGISTRY.values(), key=lambda p: p.display_name)
