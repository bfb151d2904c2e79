"""Throttling of admin sign-ins, against password guessing.

After ``GATEHOUSE_LOGIN_MAX_FAILURES`` failed sign-ins for one username, or from one client
address, within ``GATEHOUSE_LOGIN_FAILURE_WINDOW`` seconds, further attempts for that username
or from that address are refused for ``GATEHOUSE_LOGIN_LOCKOUT`` seconds without checking the
password. A success resets the username's count (not the address's: one known account must not
buy an address more guesses at others). Usernames count whether or not they exist, and the
refusal reads the same either way. The counts live in Django's cache, so with Redis they hold
across every process.
"""

import hashlib
import math
import time

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest

KEY_PREFIX = "gatehouse:signin:"


def client_address(request: HttpRequest) -> str:
    """The address a sign-in comes from: the last entry of ``GATEHOUSE_CLIENT_ADDRESS_HEADER``
    (the one the load balancer in front added) when set, else the peer address."""
    header = settings.GATEHOUSE_CLIENT_ADDRESS_HEADER
    if header:
        forwarded = request.headers.get(header, "")
        last = forwarded.split(",")[-1].strip()
        if last:
            return last
    return request.META.get("REMOTE_ADDR", "")


def signin_refusal(*, username: str, address: str) -> str:
    """Why this sign-in attempt is refused unheard, or "" when it may be checked."""
    now = time.time()
    until = max(
        cache.get(_key("locked", "user", _username(username)), 0),
        cache.get(_key("locked", "address", address), 0) if address else 0,
    )
    if until <= now:
        return ""
    minutes = max(1, math.ceil((until - now) / 60))
    return (
        "Too many failed sign-in attempts. Try again in "
        f"{minutes} minute{'s' if minutes != 1 else ''}."
    )


def signin_failed(*, username: str, address: str) -> None:
    """Count a failed sign-in for the username and the address; lock either at the limit."""
    _count_failure("user", _username(username))
    if address:
        _count_failure("address", address)


def signin_succeeded(*, username: str) -> None:
    """Forget the username's failures."""
    cache.delete(_key("failures", "user", _username(username)))


def _count_failure(kind: str, value: str) -> None:
    key = _key("failures", kind, value)
    cache.add(key, 0, timeout=settings.GATEHOUSE_LOGIN_FAILURE_WINDOW)
    try:
        failures = cache.incr(key)
    except ValueError:  # the window ended between add and incr
        cache.set(key, 1, timeout=settings.GATEHOUSE_LOGIN_FAILURE_WINDOW)
        failures = 1
    if failures >= settings.GATEHOUSE_LOGIN_MAX_FAILURES:
        lockout = settings.GATEHOUSE_LOGIN_LOCKOUT
        cache.set(_key("locked", kind, value), time.time() + lockout, timeout=lockout)
        cache.delete(key)


def _username(username: str) -> str:
    return username.strip().casefold()


def _key(state: str, kind: str, value: str) -> str:
    # Hashed: keys stay short and well-formed whatever a client sends as a username.
    return f"{KEY_PREFIX}{state}:{kind}:{hashlib.sha256(value.encode()).hexdigest()}"
