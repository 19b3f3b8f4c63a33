"""Forked: a rebuild's work over forked processes gives what the same work gives in this process."""

from collections.abc import Iterator

import pytest

from app.matches.forked import Forked


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
