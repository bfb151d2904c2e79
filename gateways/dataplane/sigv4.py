"""AWS Signature Version 4 on upstream calls (AWS Bedrock), with botocore's signer and its
credential providers.

A signer is made once per credential (``aws_signer``, cached across snapshot reloads, so
assumed-role credentials are not fetched again at every configuration change). Static keys
sign as they are; an assumed role (``AssumeRoleCredentialFetcher``) and the gateway host's
default credential chain (environment, shared config, instance or task role, web identity)
give botocore's refreshable credentials, fetched at their first use and refreshed before they
expire. Fetching blocks (STS, the instance metadata service), so it runs in a thread, one at a
time per source; a call whose credentials are fresh signs without leaving the event loop.
"""

import asyncio
import functools
import logging
import os
import threading
import time

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import (
    AssumeRoleCredentialFetcher,
    Credentials,
    DeferredRefreshableCredentials,
    ReadOnlyCredentials,
    RefreshableCredentials,
)
from botocore.session import Session

from proxies.aws_credentials import AwsCredential, region_of_url

log = logging.getLogger("gatehouse.gateway")

SERVICE = "bedrock"
# Headers the signature sets: a caller's own never travel beside them.
SIGNATURE_HEADERS = frozenset(
    {"authorization", "x-amz-date", "x-amz-security-token", "x-amz-content-sha256"}
)
# After a failed attempt to get credentials, how long to answer without trying again
# (probing the instance metadata service takes seconds when there is none; a role STS refuses
# would otherwise be asked for on every call).
RETRY_AFTER = 30.0
ROLE_SESSION = "gatehouse"
# botocore sessions are not thread-safe, and fetches are rare: one at a time in the process.
FETCH_LOCK = threading.Lock()


class CredentialsUnavailable(Exception):
    """No AWS credentials to sign with (none on the host, or a role that cannot be assumed);
    the message says which, without a secret."""


class CredentialSource:
    """Where a signer's credentials come from: ``load`` (blocking) gives botocore credentials,
    static or refreshable, or None when there are none."""

    def __init__(self, load, description: str, credentials: Credentials | None = None):
        self.load = load
        self.description = description
        self.credentials = credentials  # static keys are there from the start
        # The last failure and when it happened: calls within RETRY_AFTER of it get it too.
        self.failure: CredentialsUnavailable | None = None
        self.failed_at = 0.0

    async def frozen(self) -> ReadOnlyCredentials:
        """The credentials to sign one request with, fetched or refreshed off the event loop
        when that is due."""
        credentials = self.credentials
        if credentials is not None and not refresh_due(credentials):
            return credentials.get_frozen_credentials()
        return await asyncio.to_thread(self.fetch)

    def fetch(self) -> ReadOnlyCredentials:
        with FETCH_LOCK:  # the calls that waited then find it done (or failed)
            if self.failure is not None and time.monotonic() - self.failed_at < RETRY_AFTER:
                raise self.failure
            try:
                if self.credentials is None:
                    self.credentials = self.load()
                if self.credentials is None:
                    raise CredentialsUnavailable(f"No AWS credentials: {self.description}.")
                # Refreshes when due; botocore keeps the current ones if an advisory refresh
                # fails and raises only once they are about to expire.
                frozen = self.credentials.get_frozen_credentials()
            except Exception as exc:
                self.failure = (
                    exc if isinstance(exc, CredentialsUnavailable) else unavailable(self, exc)
                )
                self.failed_at = time.monotonic()
                raise self.failure from None
            self.failure = None
            return frozen


def refresh_due(credentials: Credentials) -> bool:
    return isinstance(credentials, RefreshableCredentials) and credentials.refresh_needed()


def unavailable(source: CredentialSource, exc: Exception) -> CredentialsUnavailable:
    # botocore's messages name the operation and the refusal (AccessDenied ...), not secrets.
    what = source.description
    log.warning("AWS credentials (%s) could not be obtained: %s: %s", what, type(exc).__name__, exc)
    return CredentialsUnavailable(f"AWS credentials could not be obtained: {what}.")


class AwsSigner:
    """Signs upstream requests for one credential and region."""

    __slots__ = ("region", "source")

    def __init__(self, source: CredentialSource, region: str):
        self.source = source
        self.region = region

    async def sign(
        self, method: str, url: str, headers: list[tuple[str, str]], body: bytes
    ) -> list[tuple[str, str]]:
        """``headers`` with the signature's added, over the exact URL and body sent (the
        path as encoded, which SigV4 encodes once more for Bedrock, as AWS's SDKs do).
        Raises ``CredentialsUnavailable``."""
        if not self.region:
            raise CredentialsUnavailable(
                "No AWS region: give one in the credential or the upstream URL "
                "(bedrock-runtime.REGION.amazonaws.com), or set AWS_REGION on the gateway host."
            )
        credentials = await self.source.frozen()
        request = AWSRequest(method=method, url=url, data=body)
        SigV4Auth(credentials, SERVICE, self.region).add_auth(request)
        signed = [(name, value) for name, value in headers if name not in SIGNATURE_HEADERS]
        signed.extend(request.headers.items())
        return signed


@functools.cache
def host_session() -> Session:
    """The botocore session whose default credential chain and region are the host's."""
    return Session()


@functools.cache
def host_chain() -> CredentialSource:
    """The gateway host's default AWS credential chain, one for the process."""
    return CredentialSource(host_session().get_credentials, "the gateway host's credential chain")


@functools.lru_cache(maxsize=256)
def aws_signer(credential: str, upstream_url: str) -> AwsSigner:
    """The signer for a stored Bedrock credential (its JSON text; "" for the host's chain)
    and the upstream it signs for."""
    try:
        found = AwsCredential.from_text(credential) if credential else None
    except (ValueError, TypeError):  # checked when saved: only a damaged one gets here
        unreadable = CredentialSource(lambda: None, "the provider's credential is unreadable")
        return AwsSigner(unreadable, region_of_url(upstream_url) or host_region())
    if found is None:
        return AwsSigner(host_chain(), region_of_url(upstream_url) or host_region())
    region = found.region or region_of_url(upstream_url) or host_region()
    if found.aws_access_key_id:
        keys = Credentials(
            found.aws_access_key_id, found.aws_secret_access_key, found.aws_session_token or None
        )
        source = CredentialSource(lambda: keys, "the provider's access keys", keys)
    else:
        source = None
    if found.role_arn:
        source = assumed_role(found, region, source)
    return AwsSigner(source or host_chain(), region)


def host_region() -> str:
    """The region the gateway host names: ``AWS_REGION`` (as AWS compute sets it), else
    botocore's (``AWS_DEFAULT_REGION``, the shared config)."""
    return os.environ.get("AWS_REGION") or host_session().get_config_variable("region") or ""


def assumed_role(found: AwsCredential, region: str, keys: CredentialSource | None):
    """A role assumed with STS, from the provider's keys or else the host's credentials."""

    def load() -> Credentials:
        if keys is not None:
            base = keys.load()
        else:
            base = host_session().get_credentials()
            if base is None:
                raise CredentialsUnavailable(
                    f"No AWS credentials on the gateway host to assume {found.role_arn} with."
                )
        extra = {"RoleSessionName": ROLE_SESSION}
        if found.external_id:
            extra["ExternalId"] = found.external_id
        fetcher = AssumeRoleCredentialFetcher(
            functools.partial(host_session().create_client, region_name=region or None),
            base,
            found.role_arn,
            extra_args=extra,
        )
        return DeferredRefreshableCredentials(fetcher.fetch_credentials, "assume-role")

    return CredentialSource(load, f"the role {found.role_arn}")
