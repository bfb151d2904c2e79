"""Routing: which model and which provider a call goes to (``model-round-robin``,
``model-weighted-round-robin``, ``provider-failover``; their parameters are in
``guardrails.catalog.routing``). The filters decide; the relay's attempt loop carries the plan
out (``gateways.dataplane.relay``), and the process's ``Health`` remembers what failed."""

import base64
import hashlib
import os
from typing import Any

from gateways.dataplane.call import Call, Outcome, Refusal
from gateways.dataplane.chain import Filter
from gateways.dataplane.health import BreakerPolicy, Health, circuit_report
from gateways.dataplane.routes import Route
from gateways.dataplane.targets import Attempt, Plan

ALL_SUSPENDED = "All models are currently unavailable"
RETRYABLE = ("429", "5xx", "connect", "timeout")


class ModelRoundRobin(Filter):
    """Sends each call to the next of its models (weighted: in proportion to their weights,
    smoothly interleaved), skipping a model suspended for answering 5xx or 429; all suspended
    gives 503. With a sticky key, the calls that carry the same key keep their model."""

    name = "model-round-robin"

    def __init__(self, route: Route, attachment: dict[str, Any], health: Health):
        params = attachment["params"]
        self.adapter = route.adapter
        self.models = [entry["model"] for entry in params["models"]]
        self.weights = [int(entry.get("weight", 1)) for entry in params["models"]]
        self.current = [0] * len(self.models)  # smooth weighted round robin's running weights
        self.suspend_for = float(params.get("suspendDuration", 0))
        self.sticky = params.get("stickyKey") or None
        # A header session: a call without one is given ``<random>_M<index>`` in that header.
        self.session_header = None
        if self.sticky and self.sticky.get("location") == "header":
            self.session_header = self.sticky["identifier"].lower().encode("latin-1")
        self.scope = f"{route.proxy}:{attachment.get('id', '')}"
        self.health = health

    async def on_request(self, call: Call) -> Refusal | None:
        available = [
            index
            for index, model in enumerate(self.models)
            if not self.health.is_suspended(self.scope, model)
        ]
        if not available:
            return Refusal(503, "all_models_unavailable", ALL_SUSPENDED, outcome=Outcome.FAILED)
        index = self.sticky_choice(call, available) if self.sticky else None
        if index is None:
            index = self.next_index(available)
            if self.session_header is not None:
                session = base64.urlsafe_b64encode(os.urandom(9)).decode()
                call.route_headers.append((self.session_header, f"{session}_M{index}".encode()))
        model = self.models[index]
        call.resource, call.raw_resource = self.adapter.with_model(
            call.resource, call.raw_resource, call.parsed, model
        )
        if self.adapter.model_source != "path":
            call.body_changed = True
        call.model = model
        call.routed_model = (self.scope, model)
        if call.plan is None:
            call.plan = Plan([call.route.attempt])
        return None

    def next_index(self, available: list[int]) -> int:
        """Smooth weighted round robin over the available models (plain round robin when
        every weight is 1): each turn every model gains its weight, the richest is taken and
        pays the total back."""
        total = 0
        best = available[0]
        for index in available:
            self.current[index] += self.weights[index]
            total += self.weights[index]
            if self.current[index] > self.current[best]:
                best = index
        self.current[best] -= total
        return best

    def sticky_choice(self, call: Call, available: list[int]) -> int | None:
        """The model a sticky key names: a session ID ``<random>_M<index>`` this gateway gave
        out; any other value (a user ID, the client's address) picks one by its hash; without
        a value, when asked, the caller's key or address does."""
        value = self.sticky_value(call)
        seed = None
        if value:
            head, _, index = value.rpartition("_M")
            if head and index.isdigit() and int(index) in available:
                return int(index)
            seed = value
        elif self.sticky.get("fallbackToAuth") and call.key is not None:
            seed = call.key.id
        elif self.sticky.get("fallbackToIP"):
            client = call.scope.get("client") or ("", 0)
            seed = client[0]
        if not seed:
            return None
        digest = int.from_bytes(hashlib.sha256(seed.encode()).digest()[:4], "big")
        return available[digest % len(available)]

    def sticky_value(self, call: Call) -> str:
        location = self.sticky.get("location")
        identifier = self.sticky.get("identifier") or ""
        if location == "header":
            wanted = identifier.lower().encode("latin-1")
            for name, value in call.scope["headers"]:
                if name == wanted:
                    return value.decode("latin-1")
        elif location == "queryParam":
            for pair in call.query.split("&"):
                key, _, value = pair.partition("=")
                if key == identifier:
                    return value
        elif location == "payload" and isinstance(call.parsed, dict):
            value = call.parsed.get(identifier)
            return value if isinstance(value, str) else ""
        elif location == "ip":
            client = call.scope.get("client") or ("", 0)
            return client[0]
        return ""

    def report(self, route: Route, health: Health) -> list[dict[str, Any]]:
        """The models suspended now."""
        rows = []
        for model in self.models:
            until = health.suspended.get((self.scope, model))
            if until is not None and until > health.clock():
                target = f"{route.provider}/{model}"
                rows.append(
                    {
                        "proxy": route.proxy,
                        "target": target,
                        "state": "suspended",
                        "until": until,
                        "failures": 0,
                    }
                )
        return rows

    async def on_end(self, call: Call) -> None:
        """A model that answered 5xx or 429 is suspended for ``suspendDuration``."""
        if call.routed_model is None or call.routed_model[0] != self.scope or not call.attempts:
            return
        status = call.attempts[0]["status"]
        if status is not None and (status == 429 or status >= 500):
            self.health.suspend(self.scope, call.routed_model[1], self.suspend_for)


class ProviderFailover(Filter):
    """Tries the proxy's provider, then each target in order (same wire format, each with its
    own credential and URL), on the failures ``retryOn`` names, with exponential backoff and
    jitter (honouring ``Retry-After``) inside one deadline; a target that keeps failing has
    its circuit opened for a cool-down."""

    name = "provider-failover"

    def __init__(self, route: Route, attachment: dict[str, Any], refused: set[str]):
        params = attachment["params"]
        self.targets = [
            (t["provider"], t.get("model") or "")
            for t in params["targets"]
            if t["provider"] not in refused
        ]
        self.retry_on = frozenset(params.get("retryOn") or RETRYABLE)
        self.max_attempts = int(params.get("maxAttempts", 3))
        backoff = params.get("backoff") or {}
        self.backoff_initial = float(backoff.get("initialMs", 100)) / 1000
        self.backoff_max = float(backoff.get("maxMs", 2000)) / 1000
        self.deadline = float(params.get("deadlineSeconds", 60))
        breaker = params.get("circuitBreaker") or {}
        self.breaker = BreakerPolicy(
            enabled=bool(breaker.get("enabled", True)),
            failure_threshold=int(breaker.get("failureThreshold", 5)),
            cooldown=float(breaker.get("cooldownSeconds", 30)),
            shared=bool(breaker.get("shared", True)),
        )
        # The proxy's provider, then the targets this deployment has: the same for every call.
        self.attempts = [route.attempt]
        for provider, model in self.targets:
            target = route.targets.get(provider)
            if target is not None:
                self.attempts.append(Attempt(target, model))

    def report(self, route: Route, health: Health) -> list[dict[str, Any]]:
        """The circuits of the failover targets that are not simply closed."""
        rows = []
        for provider, model in self.targets:
            name = f"{provider}/{model}" if model else provider
            rows.extend(circuit_report(route.proxy, name, health))
        return rows

    async def on_request(self, call: Call) -> Refusal | None:
        call.plan = Plan(
            attempts=self.attempts,
            retry_on=self.retry_on,
            max_attempts=self.max_attempts,
            backoff_initial=self.backoff_initial,
            backoff_max=self.backoff_max,
            deadline=call.started + self.deadline,
            breaker=self.breaker,
        )
        return None
