"""A rebuild's CPU work spread over processes forked from this one.

The processes inherit what the parent built (the fitted engine, the index of 100k profiles) by forking, copy on
write: only the tasks and their results cross a pipe. They run pure engine code and never touch the parent's
database connection, which stays with the parent's transaction. With one process the same functions run here.
"""

import functools
import gc
import multiprocessing
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import Any, Generic, Self, TypeVar

S = TypeVar("S")
T = TypeVar("T")
R = TypeVar("R")

_inherited: Any = None  # the state of the pool being forked; read by the forked processes


class Forked(Generic[S]):
    """`with Forked(state, processes) as work: work.map(function, tasks)` runs function(state, task) for each task,
    in order, over `processes` forked processes (here, for 1).

    `handed_over`: once the processes are forked, this process lets go of the state (`work.state` is gone), so that
    a state only they read is freed here while they work, provided the caller holds no other reference to it.
    """

    def __init__(self, state: S, processes: int, *, handed_over: bool = False) -> None:
        self.state = state
        self.processes = processes
        self.handed_over = handed_over
        self._pool: Any = None

    def __enter__(self) -> Self:
        global _inherited
        if self.processes > 1:
            _inherited = self.state
            # Objects alive now are left out of the collector's walks, so that collections in the forked processes
            # do not write to (and so copy) every page of the inherited index.
            gc.freeze()
            # The processes collect, whether or not this one paused (collector_paused).
            self._pool = multiprocessing.get_context("fork").Pool(self.processes, initializer=gc.enable)
            if self.handed_over:
                del self.state
                _inherited = None
        return self

    def map(self, function: Callable[[S, T], R], tasks: Iterable[T]) -> Iterator[R]:
        if self._pool is None:
            return (function(self.state, task) for task in tasks)
        return self._in_order(functools.partial(_call, function), tasks)

    def _in_order(self, call: Callable[[T], R], tasks: Iterable[T]) -> Iterator[R]:
        """Results in the order of the tasks, with at most two tasks a process under way: when the caller is
        slower than the processes (writing to a slow database), finished results wait in memory, and a rebuild's
        results are gigabytes in all."""
        pending: deque[Any] = deque()
        for task in tasks:
            pending.append(self._pool.apply_async(call, (task,)))
            if len(pending) >= 2 * self.processes:
                yield pending.popleft().get()
        while pending:
            yield pending.popleft().get()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        global _inherited
        if self._pool is not None:
            self._pool.terminate()
            self._pool.join()
            gc.unfreeze()
            _inherited = None


def _call(function: Callable[[Any, Any], Any], task: Any) -> Any:
    return function(_inherited, task)


@contextmanager
def collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off while a rebuild runs, or while a server process loads its index (rows,
    profiles, the index: millions of objects kept), and back on afterwards if it was on. Each collection walks every
    object allocated since the last one, and the collections triggered while the heap grew this way were ~3 s of a
    rebuild at 100k; what is built here is not garbage."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def processes_for(setting: int) -> int:
    """The number of processes a setting of 0 ("one per core") or N means."""
    return setting or os.cpu_count() or 1
