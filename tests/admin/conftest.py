"""Fixtures for driving the admin through the test client."""

import pytest
from django.test import Client


@pytest.fixture
def admin_client(admin_user) -> Client:
    client = Client()
    client.force_login(admin_user)
    return client


@pytest.fixture
def viewer_client(viewer_user) -> Client:
    client = Client()
    client.force_login(viewer_user)
    return client
