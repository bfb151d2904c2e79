"""The production guide (docs/production.md) holds no command that no test runs, and shows the
nginx configuration the rolling-restart test runs, word for word."""

from tests.operations import guide


def test_every_command_block_of_the_guide_is_named():
    assert guide.untagged_shell_blocks() == 0


def test_every_command_of_the_guide_is_one_a_test_runs():
    assert set(guide.commands()) - guide.tested_command_names() == set()


def test_the_guide_shows_the_nginx_configuration_the_tests_run():
    assert f"```nginx\n{guide.NGINX_TEMPLATE.read_text()}```" in guide.text()
