"""Guardrail work of the requests in flight, done together.

A request's guardrail work is short but broad: several policies, a regex engine, a JSON path,
placeholder bookkeeping. Done once per request, between the server's and the HTTP client's
work for other requests, it finds its code and data evicted from the CPU caches and runs at a
fraction of its speed; under load, that is most of what guardrails cost. Work handed to
``together`` during one pass of the event loop is done in one go at the start of the next
pass, one piece after another with the caches warm, and each caller resumes after it, in the
order it came (``bench/RESULTS.md``, fourteenth round).

The caller's task yields once, as ``asyncio.sleep(0)`` does: a piece costs one more turn of
its task and nothing else (no future, no callback). The flush is scheduled before the first
piece of a batch is awaited, so it always runs before any of its callers resumes.
"""

import asyncio
import threading
from collections.abc import Awaitable, Callable, Generator
from typing import Any, TypeVar

T = TypeVar("T")

_local = threading.local()  # the batch of the thread's event loop


class _Piece:
    """One call waiting for the flush; awaited by its caller."""

    __slots__ = ("args", "error", "fn", "result")

    def __init__(self, fn: Callable[..., Any], args: tuple) -> None:
        self.fn, self.args = fn, args
        self.result: Any = None
        self.error: BaseException | None = None

    def __await__(self) -> Generator[None, None, Any]:
        yield  # a bare yield: the task comes back on the next pass, after the flush
        error = self.error
        if error is not None:
            self.error = None
            raise error
        return self.result


class _Batch:
    __slots__ = ("loop", "pieces")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.pieces: list[_Piece] = []

    def flush(self) -> None:
        pieces, self.pieces = self.pieces, []
        for piece in pieces:
            try:
                piece.result = piece.fn(*piece.args)
            except BaseException as exc:  # raised where the piece is awaited, as a future does
                piece.error = exc
            piece.fn = piece.args = None


def together(fn: Callable[..., T], *args: Any) -> Awaitable[T]:
    """``fn(*args)``, awaited: run at the start of the event loop's next pass, together with
    the other guardrail work handed over in this one. ``fn`` must not wait on anything (it
    may return an awaitable for the caller to await); what it raises is raised where this is
    awaited."""
    loop = asyncio.get_running_loop()
    batch = getattr(_local, "batch", None)
    if batch is None or batch.loop is not loop:
        # (A new loop in this thread: a loop that stopped with a flush due keeps its own.)
        batch = _local.batch = _Batch(loop)
    pieces = batch.pieces
    if not pieces:
        loop.call_soon(batch.flush)
    piece = _Piece(fn, args)
    pieces.append(piece)
    return piece
