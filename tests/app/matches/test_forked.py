"""Forked: a rebuild's work over forked processes gives what the same work gives in this process."""

import gc
import weakref
from collections.abc import Iterator

import pytest

from app.matches.forked import Forked, collector_paused


def _scaled(factor: int, task: int) -> int:
    if task < 0:
        raise ValueError(f"task {task}")
    return factor * task


@pytest.mark.parametrize("processes", [1, 2])
def test_results_come_in_the_order_of_the_tasks_from_the_inherited_state(processes: int) -> None:
    with Forked(3, processes) as work:
        assert list(work.map(_scaled, range(50))) == [3 * task for task in range(50)]


def test_a_failing_task_fails_the_caller() -> None:
    with Forked(3, 2) as work, pytest.raises(ValueError, match="task -1"):
        list(work.map(_scaled, [1, 2, -1, 4]))


def test_at_most_two_tasks_a_process_are_handed_out_ahead_of_the_caller() -> None:
    drawn = 0

    def tasks() -> Iterator[int]:
        nonlocal drawn
        for task in range(100):
            drawn += 1
            yield task

    with Forked(1, 2) as work:
        results = work.map(_scaled, tasks())
        assert next(results) == 0
        assert drawn <= 4
        assert sum(results) == sum(range(1, 100))


class _Factor:
    def __init__(self, value: int) -> None:
        self.value = value


def _scaled_by(factor: _Factor, task: int) -> int:
    return factor.value * task


def test_a_state_handed_over_is_let_go_here_once_the_processes_have_it() -> None:
    state = _Factor(3)
    alive = weakref.ref(state)
    with Forked(state, 2, handed_over=True) as work:
        del state
        assert alive() is None
        assert not hasattr(work, "state")
        assert list(work.map(_scaled_by, range(20))) == [3 * task for task in range(20)]


def test_a_state_handed_over_stays_when_the_work_is_done_here() -> None:
    with Forked(_Factor(3), 1, handed_over=True) as work:
        assert list(work.map(_scaled_by, range(20))) == [3 * task for task in range(20)]


def _collecting(_: object, task: int) -> bool:
    return gc.isenabled()


def test_the_collector_pauses_here_and_not_in_the_processes_and_comes_back() -> None:
    assert gc.isenabled()
    with collector_paused():
        assert not gc.isenabled()
        with Forked(None, 2) as work:
            assert list(work.map(_collecting, range(4))) == [True] * 4
    assert gc.isenabled()
    with pytest.raises(ValueError), collector_paused():
        raise ValueError("a failing rebuild")
    assert gc.isenabled()


def test_a_collector_off_before_stays_off() -> None:
    gc.disable()
    try:
        with collector_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()
