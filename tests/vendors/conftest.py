"""Fixtures for driving each vendor's official SDK through a deployed proxy: the gateway
fixtures (fake upstream, gateway processes, committed data), proxies on each provider template
pointed at the fake upstream, a gateway served over TLS for SDKs that insist on HTTPS, the
usage row a call leaves, and the client virtualenv for SDKs that cannot share ``.venv``."""

import ipaddress
import json
import os
import ssl
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from botocore.config import Config
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from gateways.models import UsageRecord
from tests.factories import GatewayFactory, ProviderFactory, ProxyFactory, api_key
from tests.gateway.conftest import (  # noqa: F401  (fixtures these tests use)
    ROOT,
    GatewayServer,
    committed,
    database_url,
    django_db_setup,
    fake_upstream,
    free_port,
    start_gateway,
    upstream,
    wait_until,
)

CLIENTS_PYTHON = ROOT / ".venv-clients" / ("Scripts" if os.name == "nt" else "bin") / "python"
CLIENT_SCRIPTS = Path(__file__).resolve().parent / "clients"


@dataclass
class Deployed:
    """A proxy deployed on a running gateway, a caller's key for it, and the credential the
    gateway holds for its provider."""

    proxy: Any
    key: str
    credential: str | dict
    server: GatewayServer

    @property
    def url(self) -> str:
        return self.server.invoke_url(self.proxy)


def template_copy(slug: str, upstream_url: str):
    """A copy of the built-in template ``slug`` whose upstream URL is the fake upstream's (the
    built-in URLs of OpenAI, Anthropic, Gemini and Mistral are fixed)."""
    from proxies.models import ProviderTemplate

    builtin = ProviderTemplate.objects.get(slug=slug)
    template, _ = ProviderTemplate.objects.get_or_create(
        slug=f"{slug}-local",
        defaults={
            "display_name": f"{builtin.display_name} (local)",
            "adapter": builtin.adapter,
            "upstream_url": upstream_url,
            "upstream_auth_header": builtin.upstream_auth_header,
            "upstream_auth_prefix": builtin.upstream_auth_prefix,
            "inbound_key_header": builtin.inbound_key_header,
            "inbound_key_prefix": builtin.inbound_key_prefix,
            "model_location": builtin.model_location,
            "usage_paths": builtin.usage_paths,
            "resources": builtin.resources,
        },
    )
    return template


def deploy_proxies(
    start, gateway_name: str, env: dict[str, str] | None = None, **providers: dict
) -> dict[str, Deployed]:
    """One proxy per ``name=dict(template=..., upstream_url=..., credential=...)`` (and
    optionally ``guardrails=[(policy, params), ...]`` attached to it), deployed on a new
    gateway; ``start`` starts its process (``start_gateway`` or ``start_tls_gateway``) with
    ``env`` added to its environment."""
    from deployments.services import deploy
    from guardrails.services import attachment_create

    gateway = GatewayFactory(name=gateway_name)
    made = {}
    for name, spec in providers.items():
        spec = dict(spec)
        guardrails = spec.pop("guardrails", ())
        provider = ProviderFactory(name=f"{name} provider", **spec)
        proxy = ProxyFactory(name=name, provider=provider)
        for policy, params in guardrails:
            attachment_create(policy=policy, params=params, proxy=proxy)
        deploy(proxy=proxy, gateway=gateway)
        made[name] = (proxy, api_key(proxy)[1], spec["credential"])
    server = start(gateway.slug, **(env or {}))
    return {name: Deployed(proxy, key, cred, server) for name, (proxy, key, cred) in made.items()}


def the_request(fake) -> dict:
    """The one request the fake upstream (``upstream``) received."""
    (received,) = fake.received()
    return received


def assert_upstream_auth(received: dict, header: str, value: str, caller_key: str) -> None:
    """The upstream saw the gateway's credential in ``header``, and the caller's key nowhere."""
    assert received["headers"].get(header) == value
    assert caller_key not in json.dumps(received)


@pytest.fixture
def usage_row():
    """``usage_row(proxy)``: the one usage record the proxy got since the test started (the
    gateway writes records in batches, off the request path, so every test that calls the
    gateway waits for its record: none lands in the next test's window)."""
    last = UsageRecord.objects.order_by("-id").values_list("id", flat=True).first() or 0

    def one(proxy) -> UsageRecord:
        rows = UsageRecord.objects.filter(id__gt=last, proxy=proxy.slug)
        return wait_until(lambda: rows.first() if rows.count() == 1 else None, timeout=5)

    return one


def run_client(script: str, **args: Any) -> dict:
    """Run ``tests/vendors/clients/{script}`` with the client virtualenv's Python (made by
    ``python3 dev.py test``) and return the JSON it prints."""
    if not CLIENTS_PYTHON.exists():
        pytest.skip("no .venv-clients: `python3 dev.py test` creates it")
    result = subprocess.run(
        [str(CLIENTS_PYTHON), str(CLIENT_SCRIPTS / script), json.dumps(args)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout)


# --- a gateway over TLS ----------------------------------------------------------------------


@dataclass
class Certificate:
    cert: Path
    key: Path


@pytest.fixture(scope="session")
def tls_certificate(tmp_path_factory) -> Certificate:
    """A self-signed certificate for 127.0.0.1, its own authority."""
    directory = tmp_path_factory.mktemp("tls")
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    public = key.public_key()
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )
    found = Certificate(directory / "cert.pem", directory / "key.pem")
    found.cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    found.key.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return found


@dataclass
class TlsGatewayServer(GatewayServer):
    """A gateway process serving HTTPS with the test certificate."""

    certificate: Certificate | None = None

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def health(self) -> dict | None:
        try:
            trust = ssl.create_default_context(cafile=str(self.certificate.cert))
            response = httpx.get(f"{self.url}/_gatehouse/health", timeout=1, verify=trust)
        except httpx.HTTPError:
            return None
        return response.json() if response.status_code == 200 else None


@pytest.fixture(scope="module")
def start_tls_gateway(database_url, tls_certificate):  # noqa: F811  (the fixture)
    """Start ``gateways.asgi:application`` under uvicorn with TLS for a gateway (as
    production runs behind HTTPS), with ``env`` added to its environment; all are stopped
    when the module ends."""
    started: list[TlsGatewayServer] = []

    def start(slug: str, **env: str) -> TlsGatewayServer:
        port = free_port()
        env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "GATEHOUSE_GATEWAY": slug,
            "GATEHOUSE_HEARTBEAT_INTERVAL": "0.2",
            "GATEHOUSE_HEARTBEAT_TTL": "2",
            "PYTHONUNBUFFERED": "1",
            **env,
        }
        env.pop("REDIS_URL", None)
        log_path = Path(tempfile.mkstemp(prefix=f"gateway-tls-{slug}-", suffix=".log")[1])
        with open(log_path, "wb") as log:
            process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "uvicorn",
                    "gateways.asgi:application",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(port),
                    "--ssl-certfile",
                    str(tls_certificate.cert),
                    "--ssl-keyfile",
                    str(tls_certificate.key),
                    "--log-level",
                    "warning",
                    "--timeout-graceful-shutdown",
                    "2",
                ],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        server = TlsGatewayServer(slug, port, process, log_path, env, tls_certificate)
        started.append(server)
        server.wait_ready()
        return server

    yield start
    for server in started:
        server.stop()
        server.log_path.unlink(missing_ok=True)


@pytest.fixture
def bedrock_client(monkeypatch):
    """``bedrock_client(deployed, **headers)``: a bedrock-runtime client calling it with its
    key as a Bedrock API key (boto3 reads it from the environment), without retries, sending
    ``headers`` (the fake upstream's controls) with each call."""
    made = []

    def make(deployed, **headers):
        monkeypatch.setenv("AWS_BEARER_TOKEN_BEDROCK", deployed.key)
        sdk = boto3.client(
            "bedrock-runtime",
            endpoint_url=deployed.url,
            region_name="us-east-1",
            verify=str(deployed.server.certificate.cert),
            config=Config(retries={"total_max_attempts": 1, "mode": "standard"}),
        )

        def add_headers(request, **kwargs):
            for name, value in headers.items():
                request.headers[name] = value

        if headers:
            sdk.meta.events.register("before-sign.bedrock-runtime.*", add_headers)
        made.append(sdk)
        return sdk

    yield make
    for sdk in made:
        sdk.close()
