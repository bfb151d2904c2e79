"""Admin sign-in throttling: too many failures for a username, or from an address, lock them
out for a cool-down. Every test uses its own usernames and addresses, because the counts live
in the cache (Redis when the suite runs on it), which outlasts a test."""

import uuid

import pytest
from django.test import Client
from django.urls import reverse

from tests.admin.form_data import text_of
from tests.factories import UserFactory
from tests.gateway.conftest import wait_until

pytestmark = pytest.mark.django_db

LOGIN_URL = reverse("admin:login")
PASSWORD = "correct-horse-battery"
THROTTLED = "Too many failed sign-in attempts. Try again in 15 minutes."


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def new_address() -> str:
    return f"2001:db8::{uuid.uuid4().hex[:4]}:{uuid.uuid4().hex[:4]}"


def new_user():
    user = UserFactory(username=f"staff-{uuid.uuid4().hex[:10]}", is_staff=True)
    user.set_password(PASSWORD)
    user.save()
    return user


def sign_in(username: str, password: str, address: str, **headers: str):
    client = Client(REMOTE_ADDR=address, **headers)
    return client.post(LOGIN_URL, {"username": username, "password": password, "next": "/admin/"})


def signed_in(response) -> bool:
    return response.status_code == 302


def fail(username: str, address: str, times: int = 5) -> None:
    for _ in range(times):
        assert not signed_in(sign_in(username, "wrong-password", address))


def test_a_few_failures_do_not_lock_anyone_out():
    user, address = new_user(), new_address()
    fail(user.username, address, times=4)
    assert signed_in(sign_in(user.username, PASSWORD, address))


def test_after_five_failures_for_a_username_the_right_password_is_refused():
    user, address = new_user(), new_address()
    fail(user.username, address)
    assert not signed_in(sign_in(user.username, PASSWORD, new_address()))


def test_the_refusal_says_why_and_for_how_long():
    user, address = new_user(), new_address()
    fail(user.username, address)
    assert THROTTLED in text_of(sign_in(user.username, PASSWORD, address))


def test_an_unknown_username_is_refused_with_the_same_message():
    username, address = f"nobody-{uuid.uuid4().hex[:10]}", new_address()
    fail(username, address)
    assert THROTTLED in text_of(sign_in(username, PASSWORD, new_address()))


def test_failures_from_one_address_lock_it_for_every_username():
    address = new_address()
    for _ in range(5):
        fail(f"guess-{uuid.uuid4().hex[:10]}", address, times=1)
    assert THROTTLED in text_of(sign_in(new_user().username, PASSWORD, address))


def test_a_locked_address_does_not_lock_other_addresses():
    address = new_address()
    for _ in range(5):
        fail(f"guess-{uuid.uuid4().hex[:10]}", address, times=1)
    assert signed_in(sign_in(new_user().username, PASSWORD, new_address()))


def test_a_success_resets_the_usernames_count():
    user = new_user()
    for _ in range(4):
        fail(user.username, new_address(), times=1)
    assert signed_in(sign_in(user.username, PASSWORD, new_address()))
    for _ in range(4):
        fail(user.username, new_address(), times=1)
    assert signed_in(sign_in(user.username, PASSWORD, new_address()))


def test_the_lockout_ends_after_the_cool_down(settings):
    settings.GATEHOUSE_LOGIN_LOCKOUT = 1
    user, address = new_user(), new_address()
    fail(user.username, address)
    wait_until(lambda: signed_in(sign_in(user.username, PASSWORD, new_address())), timeout=5)


def test_the_number_of_failures_allowed_is_a_setting(settings):
    settings.GATEHOUSE_LOGIN_MAX_FAILURES = 2
    user, address = new_user(), new_address()
    fail(user.username, address, times=2)
    assert THROTTLED in text_of(sign_in(user.username, PASSWORD, new_address()))


def test_behind_a_load_balancer_the_address_comes_from_the_configured_header(settings):
    settings.GATEHOUSE_CLIENT_ADDRESS_HEADER = "X-Forwarded-For"
    client_address = new_address()
    for _ in range(5):
        response = sign_in(
            f"guess-{uuid.uuid4().hex[:10]}",
            "wrong-password",
            new_address(),  # the balancer's own addresses vary
            HTTP_X_FORWARDED_FOR=f"203.0.113.7, {client_address}",
        )
        assert not signed_in(response)
    response = sign_in(
        new_user().username, PASSWORD, new_address(), HTTP_X_FORWARDED_FOR=client_address
    )
    assert THROTTLED in text_of(response)
