"""rounded: round(x, places), the same double, faster."""

import math
import random

import pytest

from matching.rounding import rounded

ODD = [0.0, -0.0, 5e-05, -5e-05, 4.999e-05, 1.23455, 2.675, 0.125, -1.5e-05, 1e11, 1e12, 0.30000000000000004]


@pytest.mark.parametrize("places", range(5))
def test_rounded_is_round_for_awkward_values(places: int) -> None:
    for x in [*ODD, math.nan, math.inf, -math.inf, 7, True]:
        mine, theirs = rounded(x, places), round(x, places)
        assert type(mine) is type(theirs)
        assert repr(mine) == repr(theirs), (x, places)


@pytest.mark.parametrize("places", range(5))
def test_rounded_is_round_for_many_values_and_halfway_ones(places: int) -> None:
    draw = random.Random(places)
    values = [draw.uniform(-1, 1) * draw.choice([1e-3, 0.15, 1.0, 3.7, 1e3, 1e6]) for _ in range(20_000)]
    halfway = [(draw.randrange(-(10**6), 10**6) + 0.5) / 10**places for _ in range(20_000)]
    mismatched = [x for x in values + halfway if repr(rounded(x, places)) != repr(round(x, places))]
    assert mismatched == []
