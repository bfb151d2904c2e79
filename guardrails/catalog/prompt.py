"""Prompt policies that rewrite the request: the prompt decorator and prompt templates.

Both change the parsed body in place and never judge content. When the request does not have
the shape they need (nothing at ``jsonPath``, an unknown template), they stop it with a 400
(``PROMPT_DECORATOR_ERROR`` / ``PROMPT_TEMPLATE_ERROR``): the client sent something the proxy
cannot use, and a 5xx would only make SDKs retry it.
"""

import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

from guardrails.jsonpath import compile_path, iter_strings, path_error
from guardrails.registry import MODIFIED, Phase, Policy, RequestContext, Verdict, register

TEXT_JSON_PATH = "$.messages[-1].content"
MESSAGES_JSON_PATH = "$.messages"
TEMPLATE_REFERENCE = re.compile(r"template://[a-zA-Z0-9_-]+(?:\?[^\s\"']*)?")
PLACEHOLDER = re.compile(r"\[\[([a-zA-Z0-9_-]+)\]\]")


def _json_path_error(params: dict[str, Any]) -> list[dict[str, str]]:
    problem = path_error(params["jsonPath"])
    return [{"field": "params.jsonPath", "message": problem}] if problem else []


@register
class PromptDecorator(Policy):
    name = "prompt-decorator"
    display_name = "Prompt Decorator"
    description = "Adds text to the prompt, or messages to the conversation, on every request."
    category = "policy"
    phases = frozenset({Phase.REQUEST})
    intervention_type = "PROMPT_DECORATOR_ERROR"
    parameters_schema = {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "promptDecoratorConfig": {
                "type": "object",
                "title": "Decoration",
                "description": "Exactly one of text (added to the prompt) or messages.",
                "additionalProperties": False,
                "properties": {
                    "text": {"type": "string", "minLength": 1, "title": "Text"},
                    "messages": {
                        "type": "array",
                        "minItems": 1,
                        "title": "Messages",
                        "items": {
                            "type": "object",
                            "additionalProperties": False,
                            "properties": {
                                "role": {
                                    "type": "string",
                                    "enum": ["system", "user", "assistant", "tool"],
                                },
                                "content": {"type": "string", "minLength": 1},
                            },
                            "required": ["role", "content"],
                        },
                    },
                },
                "oneOf": [{"required": ["text"]}, {"required": ["messages"]}],
            },
            "jsonPath": {
                "type": "string",
                "default": "",
                "title": "JSON Path",
                "description": "Where to decorate; empty means $.messages[-1].content for "
                "text and $.messages for messages.",
                "x-advanced": True,
            },
            "append": {
                "type": "boolean",
                "default": False,
                "title": "Append",
                "description": "Add after the prompt instead of before it.",
                "x-advanced": True,
            },
        },
        "required": ["promptDecoratorConfig"],
    }

    @classmethod
    def check(cls, params: dict[str, Any]) -> list[dict[str, str]]:
        return _json_path_error(params)

    def setup(self, params: dict[str, Any]) -> None:
        config = params["promptDecoratorConfig"]
        self.text = config.get("text")
        self.messages = config.get("messages")
        default = TEXT_JSON_PATH if self.text is not None else MESSAGES_JSON_PATH
        self.path = compile_path(params["jsonPath"].strip() or default)
        self.append = params["append"]

    def _error(self, reason: str) -> Verdict:
        return Verdict.intervene(reason, status=400, error_type=self.intervention_type)

    async def on_request(self, ctx: RequestContext) -> Verdict | None:
        matches = self.path.find(ctx.body)
        if not matches or matches[0].container is None:
            return self._error(f"No value found at JSONPath '{self.path.expression}'.")
        target = matches[0]
        value = target.value
        if self.text is not None:
            if isinstance(value, str):
                target.replace(f"{value} {self.text}" if self.append else f"{self.text} {value}")
                return MODIFIED
            if isinstance(value, list) and all(isinstance(i, dict) for i in value):
                # A list of content parts (Anthropic / OpenAI multimodal): add a text part.
                part = {"type": "text", "text": self.text}
                target.replace([*value, part] if self.append else [part, *value])
                return MODIFIED
            return self._error(
                f"The value at JSONPath '{self.path.expression}' is not text to decorate."
            )
        if not isinstance(value, list):
            return self._error(
                f"The value at JSONPath '{self.path.expression}' is not a list of messages."
            )
        added = [dict(m) for m in self.messages]
        target.replace([*value, *added] if self.append else [*added, *value])
        return MODIFIED


class UnusableTemplate(Exception):
    pass


@register
class PromptTemplate(Policy):
    name = "prompt-template"
    display_name = "Prompt Template"
    description = (
        "Lets clients send template://name?param=value and replaces it with a stored prompt, "
        "filling [[param]] placeholders."
    )
    category = "policy"
    phases = frozenset({Phase.REQUEST})
    intervention_type = "PROMPT_TEMPLATE_ERROR"
    parameters_schema = {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "templates": {
                "type": "array",
                "minItems": 1,
                "title": "Templates",
                "items": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {
                        "name": {
                            "type": "string",
                            "pattern": "^[a-zA-Z0-9_-]+$",
                            "title": "Name",
                        },
                        "template": {
                            "type": "string",
                            "minLength": 1,
                            "title": "Prompt",
                            "description": "Text with [[param]] placeholders.",
                        },
                    },
                    "required": ["name", "template"],
                },
            },
            "jsonPath": {
                "type": "string",
                "default": "",
                "title": "JSON Path",
                "description": "Where template references are resolved; empty means every "
                "string in the body.",
                "x-advanced": True,
            },
            "onMissingTemplate": {
                "type": "string",
                "enum": ["error", "passthrough"],
                "default": "error",
                "title": "On Missing Template",
                "x-advanced": True,
            },
            "onUnresolvedPlaceholder": {
                "type": "string",
                "enum": ["keep", "empty", "error"],
                "default": "keep",
                "title": "On Unresolved Placeholder",
                "x-advanced": True,
            },
        },
        "required": ["templates"],
    }

    @classmethod
    def check(cls, params: dict[str, Any]) -> list[dict[str, str]]:
        errors = _json_path_error(params)
        seen = set()
        for index, template in enumerate(params["templates"]):
            if template["name"] in seen:
                errors.append(
                    {
                        "field": f"params.templates.{index}.name",
                        "message": "Template names must be unique.",
                    }
                )
            seen.add(template["name"])
        return errors

    def setup(self, params: dict[str, Any]) -> None:
        self.templates = {t["name"]: t["template"] for t in params["templates"]}
        self.path = compile_path(params["jsonPath"].strip())
        self.on_missing = params["onMissingTemplate"]
        self.on_unresolved = params["onUnresolvedPlaceholder"]

    async def on_request(self, ctx: RequestContext) -> Verdict | None:
        matches = self.path.find(ctx.body)
        if not matches:
            return self._error(f"No value found at JSONPath '{self.path.expression}'.")
        changed = False
        try:
            for match in matches:
                targets = [match] if isinstance(match.value, str) else iter_strings(match.value)
                for target in list(targets):
                    if "template://" not in target.value:
                        continue
                    resolved = TEMPLATE_REFERENCE.sub(self._render, target.value)
                    if resolved != target.value:
                        if target.container is None:
                            ctx.body = resolved
                        else:
                            target.replace(resolved)
                        changed = True
        except UnusableTemplate as exc:
            return self._error(str(exc))
        return MODIFIED if changed else None

    def _render(self, reference: re.Match) -> str:
        parts = urlsplit(reference.group())
        name = parts.netloc
        template = self.templates.get(name)
        if template is None:
            if self.on_missing == "passthrough":
                return reference.group()
            raise UnusableTemplate(f"Template '{name}' not found.")
        values = {k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        rendered = PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group()), template)
        if self.on_unresolved == "keep":
            return rendered
        missing = sorted({m.group(1) for m in PLACEHOLDER.finditer(rendered)})
        if not missing:
            return rendered
        if self.on_unresolved == "empty":
            return PLACEHOLDER.sub("", rendered)
        raise UnusableTemplate(
            f"Unresolved placeholders in template '{name}': {', '.join(missing)}."
        )

    def _error(self, reason: str) -> Verdict:
        return Verdict.intervene(reason, status=400, error_type=self.intervention_type)
