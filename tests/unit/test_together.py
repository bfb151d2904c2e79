"""Guardrail work handed over in one pass of the event loop runs back to back on the next,
before any of its callers resumes; results and errors reach their own callers."""

import asyncio

import pytest
import uvloop

from gateways.together import together

LOOPS = [pytest.param(asyncio.run, id="asyncio"), pytest.param(uvloop.run, id="uvloop")]


@pytest.mark.parametrize("run", LOOPS)
def test_work_of_one_pass_runs_back_to_back_before_callers_resume(run):
    trace: list[str] = []

    def work(name: str) -> str:
        trace.append(f"work {name}")
        return name.upper()

    async def request(name: str) -> str:
        trace.append(f"hand {name}")
        result = await together(work, name)
        trace.append(f"resume {name}")
        return result

    async def main() -> list[str]:
        return await asyncio.gather(*(request(name) for name in "abc"))

    assert run(main()) == ["A", "B", "C"]
    assert trace == [
        "hand a",
        "hand b",
        "hand c",
        "work a",
        "work b",
        "work c",
        "resume a",
        "resume b",
        "resume c",
    ]


@pytest.mark.parametrize("run", LOOPS)
def test_an_error_reaches_only_its_own_caller(run):
    def work(value: int) -> int:
        if value == 2:
            raise ValueError("two")
        return value * 10

    async def main() -> list:
        return await asyncio.gather(*(together(work, n) for n in (1, 2, 3)), return_exceptions=True)

    first, second, third = run(main())
    assert (first, third) == (10, 30)
    assert isinstance(second, ValueError) and str(second) == "two"


@pytest.mark.parametrize("run", LOOPS)
def test_later_passes_start_batches_of_their_own(run):
    batches: list[list[int]] = [[]]

    def work(value: int) -> int:
        batches[-1].append(value)
        return value

    async def caller(first: int) -> list[int]:
        got = [await together(work, first)]
        batches.append([])
        got.append(await together(work, first + 100))
        return got

    async def main() -> list[list[int]]:
        return await asyncio.gather(caller(1), caller(2))

    assert run(main()) == [[1, 101], [2, 102]]
    # Each caller's second piece was handed over in the pass after the first flush.
    assert [sorted(b) for b in batches if b] == [[1, 2], [101, 102]]


def test_a_loop_that_stopped_with_work_due_does_not_hold_up_the_next():
    def work(value: int) -> int:
        return value

    stalled = asyncio.new_event_loop()
    try:

        async def hand_over_and_stop() -> None:
            together(work, 1)  # its flush is due, and this loop stops before it runs
            stalled.stop()

        handed_over = stalled.create_task(hand_over_and_stop())
        stalled.run_forever()
        assert handed_over.done()
    finally:
        stalled.close()

    async def main() -> int:
        return await asyncio.wait_for(together(work, 2), timeout=5)

    assert asyncio.run(main()) == 2
