"""Commands as the lean Redis client writes them: byte for byte what hiredis encodes."""

import hiredis

from guardrails.limits import resp


def test_commands_are_encoded_as_hiredis_encodes_them_first_time_and_again():
    commands = [
        (
            "EVALSHA",
            "a" * 40,
            2,
            "p:ns|requests|1h||key|1796016000",
            "p:k2",
            "r",
            10**9,
            1,
            3601000,
        ),
        ("SET", "ключ", "значение ✓", b"\x00\xffraw", -42, 0, 2**70),
        ("GET", ""),
        ("EVAL", "return redis.call('GET', KEYS[1])\r\n-- a line", 1, "k"),
    ]
    for _ in range(2):  # the second time from the kept encodings
        for command in commands:
            assert resp._pack(command) == hiredis.pack_command(command)


def test_kept_encodings_are_bounded_and_stay_right_after_a_fresh_start():
    for n in range(resp._CHUNKS_KEPT + 10):
        assert resp._pack(("SET", f"key:{n}", n)) == hiredis.pack_command(("SET", f"key:{n}", n))
    assert len(resp._CHUNKS) <= resp._CHUNKS_KEPT
    assert resp._pack(("GET", "key:1")) == b"*2\r\n$3\r\nGET\r\n$5\r\nkey:1\r\n"
