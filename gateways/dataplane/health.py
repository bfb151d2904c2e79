"""What this gateway process knows about the health of what it calls, kept across snapshot
reloads: circuit breakers per target, resting upstream keys, and the models a round robin
suspended.

A circuit opens after ``failure_threshold`` failures in a row and stays open for its cool-down;
then one call at a time may probe it (half-open): a success closes it, a failure opens it
again. An opened circuit can be announced to every other gateway process (through Redis,
``on_open``); one announced elsewhere opens here too (``open_remote``), so a dead target is
skipped everywhere at once. Times are wall-clock seconds, so announcements mean the same in
every process.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

# Where processes announce the circuits they open (Redis pub/sub), so all skip a dead target.
CIRCUITS_CHANNEL = "gatehouse_circuits"
# A half-open circuit's probe that has not reported back by then lets another go.
PROBE_TIMEOUT = 60.0
CLOSED = "closed"
OPEN = "open"
HALF_OPEN = "half_open"


@dataclass(frozen=True, slots=True)
class BreakerPolicy:
    """How a route's failover treats a failing target."""

    enabled: bool = True
    failure_threshold: int = 5
    cooldown: float = 30.0
    shared: bool = True


@dataclass(slots=True)
class Circuit:
    state: str = CLOSED
    failures: int = 0
    until: float = 0.0  # while open: when it may be probed
    probing: bool = False  # half-open: a probe is out


@dataclass
class Health:
    clock: Callable[[], float] = time.time
    circuits: dict[str, Circuit] = field(default_factory=dict)
    resting_keys: dict[str, float] = field(default_factory=dict)  # fingerprint -> until
    suspended: dict[tuple[str, str], float] = field(default_factory=dict)  # (scope, model)
    # Told (target, until) when a shared circuit opens here, to announce it to the others.
    on_open: Callable[[str, float], Any] | None = None

    # --- circuits ----------------------------------------------------------------------------

    def allows(self, target: str) -> bool:
        """Whether a call may go to ``target`` now: closed, or open past its cool-down (the
        caller then probes it: one at a time)."""
        circuit = self.circuits.get(target)
        if circuit is None or circuit.state == CLOSED:
            return True
        now = self.clock()
        if circuit.state == OPEN and now >= circuit.until:
            circuit.state, circuit.probing = HALF_OPEN, False
        if circuit.state == HALF_OPEN and (not circuit.probing or now >= circuit.until):
            # One probe at a time; a probe that never reported back frees its place.
            circuit.probing, circuit.until = True, now + PROBE_TIMEOUT
            return True
        return False

    def succeeded(self, target: str) -> None:
        """A success closes ``target``'s circuit and clears its count of failures in a row."""
        self.circuits.pop(target, None)

    def failed(self, target: str, policy: BreakerPolicy) -> None:
        """A failure ``target`` answered (or caused); may open its circuit."""
        if not policy.enabled:
            return
        circuit = self.circuits.setdefault(target, Circuit())
        circuit.failures += 1
        if circuit.state == HALF_OPEN or circuit.failures >= policy.failure_threshold:
            self.open(target, self.clock() + policy.cooldown)
            if policy.shared and self.on_open is not None:
                self.on_open(target, circuit.until)

    def open(self, target: str, until: float) -> None:
        circuit = self.circuits.setdefault(target, Circuit())
        circuit.state, circuit.until, circuit.probing = OPEN, until, False

    def open_remote(self, target: str, until: float) -> None:
        """Another process opened ``target``'s circuit until ``until``."""
        circuit = self.circuits.get(target)
        if circuit is None or circuit.state != OPEN or circuit.until < until:
            self.open(target, until)

    def state(self, target: str) -> Circuit | None:
        """The circuit of ``target`` when it is not simply closed."""
        circuit = self.circuits.get(target)
        if circuit is not None and circuit.state == OPEN and self.clock() >= circuit.until:
            return Circuit(HALF_OPEN, circuit.failures, circuit.until)
        return circuit if circuit is not None and circuit.state != CLOSED else None

    # --- upstream keys -----------------------------------------------------------------------

    def key_resting(self, fingerprint: str) -> bool:
        until = self.resting_keys.get(fingerprint)
        if until is None:
            return False
        if self.clock() >= until:
            del self.resting_keys[fingerprint]
            return False
        return True

    def rest_key(self, fingerprint: str, seconds: float) -> None:
        self.resting_keys[fingerprint] = self.clock() + seconds

    # --- round robins ------------------------------------------------------------------------

    def is_suspended(self, scope: str, model: str) -> bool:
        until = self.suspended.get((scope, model))
        if until is None:
            return False
        if self.clock() >= until:
            del self.suspended[(scope, model)]
            return False
        return True

    def suspend(self, scope: str, model: str, seconds: float) -> None:
        if seconds > 0:
            self.suspended[(scope, model)] = self.clock() + seconds


def circuit_report(proxy: str, target: str, health: Health) -> list[dict[str, Any]]:
    """``target``'s circuit as operators see it (none while it is simply closed)."""
    circuit = health.state(target)
    if circuit is None:
        return []
    until = circuit.until if circuit.state == OPEN else None
    return [
        {
            "proxy": proxy,
            "target": target,
            "state": circuit.state,
            "until": until,
            "failures": circuit.failures,
        }
    ]
