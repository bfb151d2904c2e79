"""The policy registry: every guardrail or policy is one small class registered here.

A policy declares its name, version, phases and a JSON schema for its parameters (properties
flagged ``"x-advanced": true`` are shown collapsed in forms). Attachments are validated against
that schema when saved, with the schema's defaults filled in, so the deployment snapshot holds
complete, checked parameters. ``Policy.compile`` turns them into a ready instance once per
snapshot (regexes, JSONPaths and schemas pre-compiled); the gateway only calls its hooks.

Hooks on a compiled instance, each optional and each ``async``:
- ``on_request(ctx: RequestContext) -> Verdict | None`` (None means passed);
- ``on_response(ctx: ResponseContext) -> Verdict | None``;
- ``stream_judge(ctx: ResponseContext) -> StreamJudge | None`` (a plain method) for streamed
  responses: the judge's async ``feed`` / ``finish`` see the text deltas the data plane
  extracts from the SSE events.
"""

from collections.abc import Iterable
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


class ResponseBody(Protocol):
    """A complete response as the data plane holds it (``UpstreamAnswer``): its bytes, and
    its JSON parsed on first use."""

    body: bytes

    @property
    def parsed(self) -> Any: ...

    def replace(self, body: bytes) -> None: ...

    def changed(self) -> None: ...


class ResponseContext:
    """A complete response for the response phase, and the request's state.

    ``body`` is the parsed JSON (parsed on first use; a policy may change it in place and
    return ``MODIFIED``); ``raw`` the bytes, for a policy that can do its work on them
    without parsing (``replace_raw`` with the new bytes)."""

    __slots__ = ("answer", "dirty", "raw_replaced", "state")
    direction = Direction.RESPONSE

    def __init__(self, answer: ResponseBody, state: dict[str, Any]):
        self.answer = answer
        self.state = state
        self.dirty = False  # ``body`` was changed in place and not yet serialised
        self.raw_replaced = False

    @property
    def body(self) -> Any:
        return self.answer.parsed

    @property
    def raw(self) -> bytes:
        self.settle()
        return self.answer.body

    def replace_raw(self, data: bytes) -> None:
        self.answer.replace(data)
        self.dirty = False
        self.raw_replaced = True

    def settle(self) -> None:
        """Serialise the body if a policy changed it in place."""
        if self.dirty:
            self.answer.changed()
            self.dirty = False


class StreamStep(NamedTuple):
    """Text a judge lets through now (possibly rewritten), or an intervention."""

    release: str
    verdict: Verdict | None = None


class StreamJudge:
    """Judges one streamed response, delta by delta. One instance per response; ``feed``
    and ``finish`` are async (a judge may wait on I/O, as the URL guardrail does)."""

    modified: bool = False

    def raw_scan(self, events: bytes, start: int) -> int:
        """Where, in raw SSE ``events`` (complete events, their JSON still encoded), from
        ``start`` on, the first byte lies whose text this judge may need to see: every event
        before the one holding it would be released unchanged and leave the judge as it was,
        so the data plane relays them without decoding them. ``len(events)`` when no byte
        needs it. The default, ``start``: every event is fed."""
        return start

    async def feed(self, text: str) -> StreamStep:
        raise NotImplementedError

    async def finish(self) -> StreamStep:
        raise NotImplementedError


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

    async def on_request(self, ctx: RequestContext) -> Verdict | None:
        return None

    async def on_response(self, ctx: ResponseContext) -> Verdict | None:
        return None

    def stream_judge(self, ctx: ResponseContext) -> StreamJudge | None:
        """A judge for one streamed response, or None when there is nothing to do for it."""
        return None

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
