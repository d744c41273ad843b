"""LoopBinding: the event loop an asyncio object of batchd.aio belongs to.

grpc.aio channels, futures and tasks work only on the loop they were made on. An AsyncClient or
AsyncWorker binds to the loop running when it is made (or, when made outside a loop, to the
one its first call runs on) and every later call checks it, so a second ``asyncio.run`` or a
loop that was closed gives a RuntimeError saying so instead of a hang or a gRPC internal
error. Not thread-safe: used from its loop's thread.
"""

import asyncio
from typing import Optional


class LoopBinding:
    """`owner` (e.g. "AsyncClient") names the object in the errors."""

    __slots__ = ("_owner", "_loop")

    def __init__(self, owner: str) -> None:
        self._owner = owner
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        try:
            self._loop = asyncio.get_running_loop()
        except RuntimeError:
            pass  # made outside a loop: bound by the first call

    @property
    def loop(self) -> Optional[asyncio.AbstractEventLoop]:
        return self._loop

    def check(self) -> asyncio.AbstractEventLoop:
        """The running loop, after checking it is the bound one (binding it on first use).
        RuntimeError when called outside a loop, on another loop, or after the bound loop
        was closed."""
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            raise RuntimeError(f"{self._owner} is asyncio-only: await its methods inside a "
                               "running event loop") from None
        bound = self._loop
        if bound is None:
            self._loop = running
            return running
        if running is not bound:
            state = "which is closed" if bound.is_closed() else "which is still open"
            raise RuntimeError(
                f"{self._owner} belongs to the event loop it was created on ({state}) and was "
                f"used from another one: make one per event loop (e.g. inside the coroutine "
                f"given to asyncio.run)")
        return running
