"""Backups as the production guide takes them: pg_dump of the database to a file, restored
with pg_restore into an empty database that then holds the same rows. PostgreSQL only."""

import uuid

import psycopg
import pytest
from django.db import connection

from proxies.models import Provider
from tests.factories import ProviderFactory
from tests.operations import guide
from tests.operations.conftest import production_env

pytestmark = pytest.mark.postgres


@pytest.fixture
def scratch_database(committed, database_url):
    """An empty database beside the test database (dropped afterwards); its URL."""
    if connection.vendor != "postgresql":
        pytest.skip("backups are of PostgreSQL (set DATABASE_URL, as CI does)")
    name = f"gatehouse_restore_{uuid.uuid4().hex[:8]}"
    server = database_url.rsplit("/", 1)[0]
    with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    yield f"{server}/{name}"
    with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def test_a_backup_restored_into_an_empty_database_holds_the_same_providers(
    scratch_database, database_url, tmp_path
):
    ProviderFactory(name="Backed up")
    backup = tmp_path / "gatehouse.dump"
    guide.run("backup", production_env(database_url, BACKUP=str(backup)))
    guide.run("restore", production_env(scratch_database, BACKUP=str(backup)))
    table = Provider._meta.db_table
    with psycopg.connect(scratch_database) as restored:
        names = {row[0] for row in restored.execute(f'SELECT name FROM "{table}"')}
    assert names == set(Provider.objects.values_list("name", flat=True))
    assert "Backed up" in names
