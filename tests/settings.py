"""The test suite's settings: ``config.settings`` run as production (DEBUG off), with test
values for what production must be given.

The values go into ``os.environ`` (unless already set) before ``config.settings`` is imported,
so the processes the tests start through ``manage.py`` (gateways, commands) inherit them.
"""

import os

TEST_ENVIRONMENT = {
    "SECRET_KEY": "test-suite-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz",
    "GATEHOUSE_ENCRYPTION_KEY": "m5s1dvqQCWW23yWsU45qAnIVmR8ydPuSM-rFrmHS1YQ=",
    # The fake upstreams and the gateways under test listen on loopback.
    "GATEHOUSE_ALLOWED_PRIVATE_NETWORKS": "127.0.0.0/8,::1/128",
    "ALLOWED_HOSTS": "testserver,localhost,127.0.0.1,[::1]",
    # The test client, the live server and the browser speak plain HTTP.
    "SECURE_SSL_REDIRECT": "0",
    "SESSION_COOKIE_SECURE": "0",
    "CSRF_COOKIE_SECURE": "0",
}

for name, value in TEST_ENVIRONMENT.items():
    os.environ.setdefault(name, value)

from config.settings import *  # noqa: E402, F403
