"""A gateway serving HTTPS itself, as the production guide says for a gateway with no load
balancer ending TLS in front (SDKs send bearer keys over HTTPS only)."""

import ssl

import httpx
import pytest
from django.core.management import CommandError, call_command

from deployments.services import deploy
from tests.factories import GatewayFactory, api_key
from tests.gateway.conftest import make_openai_proxy
from tests.operations import guide
from tests.operations.conftest import free_port, production_env, wait_until

CHAT = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}


@pytest.fixture(scope="module")
def tls_gateway(committed, fake_upstream, database_url, tls_certificate, launch):
    gateway = GatewayFactory(name="edge tls")
    proxy = make_openai_proxy(fake_upstream.url, "tls chat")
    deploy(proxy=proxy, gateway=gateway)
    _, key = api_key(proxy)
    port = free_port()
    env = production_env(
        database_url,
        GATEWAY=gateway.slug,
        HOST="127.0.0.1",
        PORT=str(port),
        CERTIFICATE=str(tls_certificate.cert),
        CERTIFICATE_KEY=str(tls_certificate.key),
    )
    service = launch("gateway-tls", guide.server_argv("run-gateway-tls"), env, port)
    trust = ssl.create_default_context(cafile=str(tls_certificate.cert))
    client = httpx.Client(base_url=f"https://127.0.0.1:{port}", verify=trust, timeout=5)

    def ready():
        if not service.running():
            raise AssertionError(service.log())
        try:
            return client.get("/_gatehouse/readyz").status_code == 200
        except httpx.HTTPError:
            return False

    wait_until(ready, timeout=30, interval=0.1)
    yield client, proxy, key
    client.close()


def test_a_gateway_with_its_own_certificate_answers_calls_over_https(tls_gateway):
    client, proxy, key = tls_gateway
    response = client.post(
        f"/{proxy.slug}/chat/completions", headers={"Authorization": f"Bearer {key}"}, json=CHAT
    )
    assert response.status_code == 200
    assert response.json()["choices"][0]["message"]["content"]


def test_a_gateway_with_its_own_certificate_speaks_no_plain_http(tls_gateway):
    client = tls_gateway[0]
    with pytest.raises(httpx.HTTPError):
        httpx.get(str(client.base_url).replace("https", "http") + "/_gatehouse/healthz")


def test_a_certificate_without_its_key_is_a_one_line_error(tls_certificate):
    with pytest.raises(CommandError, match="go together"):
        call_command("run_gateway", "any", "--ssl-certfile", str(tls_certificate.cert))


def test_a_certificate_file_that_is_not_there_is_a_one_line_error(tmp_path):
    missing = str(tmp_path / "missing.pem")
    with pytest.raises(CommandError, match="there is no file"):
        call_command("run_gateway", "any", "--ssl-certfile", missing, "--ssl-keyfile", missing)
