"""Encryption of provider credentials at rest, and hashing of secrets we only verify.

Credentials use Fernet (AES-128-CBC + HMAC) from ``cryptography``; several comma-separated keys
in GATEHOUSE_ENCRYPTION_KEY rotate (the first encrypts, every key decrypts). Secrets we only
verify (API keys, gateway and management tokens) are stored as HMAC-SHA-256 with a server-side
pepper, so a stolen table is useless without the settings.
"""

import base64
import functools
import hashlib
import hmac
import secrets

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver


@functools.cache
def _fernet() -> MultiFernet:
    configured = [k.strip() for k in settings.GATEHOUSE_ENCRYPTION_KEY.split(",") if k.strip()]
    if not configured:
        derived = hashlib.sha256(("gatehouse-credentials:" + settings.SECRET_KEY).encode()).digest()
        configured = [base64.urlsafe_b64encode(derived).decode()]
    return MultiFernet([Fernet(k.encode()) for k in configured])


def encrypt(plaintext: str) -> str:
    return _fernet().encrypt(plaintext.encode()).decode() if plaintext else ""


def reencrypt(ciphertext: str) -> str | None:
    """``ciphertext`` encrypted again with the first key (``MultiFernet.rotate``), or None
    when no configured key reads it."""
    try:
        return _fernet().rotate(ciphertext.encode()).decode()
    except InvalidToken:
        return None


def decrypt(ciphertext: str) -> str:
    """Return the plaintext; an unreadable value (wrong key) reads as empty, never raises."""
    if not ciphertext:
        return ""
    try:
        return _fernet().decrypt(ciphertext.encode()).decode()
    except InvalidToken:
        return ""


@functools.cache
def _pepper() -> bytes:
    return (settings.GATEHOUSE_KEY_PEPPER or settings.SECRET_KEY).encode()


def hash_secret(secret: str) -> str:
    """HMAC-SHA-256 of a secret with the server-side pepper, as hex."""
    return hmac.new(_pepper(), secret.encode(), hashlib.sha256).hexdigest()


def new_secret(prefix: str, nbytes: int = 32) -> str:
    """A high-entropy random secret with a recognisable product prefix."""
    return prefix + secrets.token_urlsafe(nbytes)


def mask(secret: str, prefix: str) -> str:
    """The displayable form: product prefix, an ellipsis and the last five characters."""
    return f"{prefix}…{secret[-5:]}"


@receiver(setting_changed)
def forget_keys(*, setting: str, **kwargs) -> None:
    """Read the keys again when a test changes the settings they come from."""
    if setting in ("GATEHOUSE_ENCRYPTION_KEY", "GATEHOUSE_KEY_PEPPER", "SECRET_KEY"):
        _fernet.cache_clear()
        _pepper.cache_clear()
