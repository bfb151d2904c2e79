"""The control plane (admin and API) run as the production guide says: migrations and
collectstatic done, under gunicorn with uvicorn workers, with production settings behind a
load balancer that ends TLS and sets X-Forwarded-Proto."""

import httpx
import pytest
from django.contrib.auth import get_user_model

from tests.operations import guide
from tests.operations.conftest import DEADLINE, free_port, production_env, wait_until

HOST_NAME = "gatehouse.example.com"
# What the load balancer in front adds to every request it passes on.
BEHIND_TLS = {"Host": HOST_NAME, "X-Forwarded-Proto": "https"}


@pytest.fixture(scope="module")
def control_plane(committed, database_url, launch):
    """The control plane under gunicorn, ready; its base URL."""
    port = free_port()
    env = production_env(
        database_url,
        HOST="127.0.0.1",
        PORT=str(port),
        ALLOWED_HOSTS=HOST_NAME,
        CSRF_TRUSTED_ORIGINS=f"https://{HOST_NAME}",
        SECURE_PROXY_SSL_HEADER="HTTP_X_FORWARDED_PROTO,https",
        GATEHOUSE_DEFAULT_GATEWAY="",
    )
    # Production's own defaults, not the test suite's plain-HTTP overrides.
    for name in ("SECURE_SSL_REDIRECT", "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE"):
        env.pop(name, None)
    guide.run("migrate", env)
    guide.run("collectstatic", env)
    service = launch("control-plane", guide.server_argv("run-control-plane"), env, port)

    def login_page():
        if not service.running():
            raise AssertionError(f"gunicorn exited:\n{service.log()}")
        try:
            return httpx.get(f"{service.url}/admin/login/", headers=BEHIND_TLS, timeout=2)
        except httpx.HTTPError:
            return None

    wait_until(login_page, timeout=DEADLINE, interval=0.1)
    yield service
    assert service.stop() == 0, service.log()


def get(control_plane, path: str, **headers: str) -> httpx.Response:
    return httpx.get(f"{control_plane.url}{path}", headers={**BEHIND_TLS, **headers}, timeout=5)


def test_it_serves_no_invoke_traffic(control_plane):
    response = get(control_plane, "/some-proxy/chat/completions")
    assert (response.status_code, response.json()["code"]) == (404, "not_found")
    assert "GatewayNotFound" not in control_plane.log()


def test_the_admin_sign_in_page_answers(control_plane):
    response = get(control_plane, "/admin/login/")
    assert response.status_code == 200
    assert "Gatehouse" in response.text


def test_the_api_answers_a_management_token(control_plane):
    get_user_model().objects.create_superuser("ops", "ops@example.com", "not-used-here")
    env = {**control_plane.env, "USERNAME": "ops", "TOKEN_NAME": "deploy pipeline"}
    token = guide.run("create-api-token", env).stdout.strip()
    response = get(control_plane, "/api/v1/gateways/", Authorization=f"Bearer {token}")
    assert response.status_code == 200
    assert "results" in response.json()


def test_static_files_are_served(control_plane):
    response = get(control_plane, "/static/admin/css/base.css")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/css")


def test_a_request_the_load_balancer_received_over_plain_http_is_redirected_to_https(
    control_plane,
):
    response = get(control_plane, "/admin/login/", **{"X-Forwarded-Proto": "http"})
    assert response.status_code == 301
    assert response.headers["location"] == f"https://{HOST_NAME}/admin/login/"


def test_a_host_not_allowed_is_refused(control_plane):
    response = get(control_plane, "/admin/login/", Host="elsewhere.example.com")
    assert response.status_code == 400
