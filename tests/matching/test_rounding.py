"""rounded: round(x, places), the same double, faster."""

import math
import random

import numpy as np
import pytest

from matching.rounding import rounded, rounded_array

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


def test_rounded_array_gives_what_rounded_gives() -> None:
    rng = random.Random(3)
    values = [rng.uniform(-1000, 1000) for _ in range(50_000)]
    values += [k / 10**places + 5 / 10 ** (places + 1) for k in range(-500, 500) for places in range(5)]  # halfway
    values += [0.0, -0.0, -0.00001, 0.47025, 1e12, -1e13, math.nan, math.inf, -math.inf]
    for places in range(5):
        found = rounded_array(np.array(values), places).tolist()
        expected = [rounded(value, places) for value in values]
        assert [(x, math.copysign(1.0, x)) for x in found if x == x] == [
            (x, math.copysign(1.0, x)) for x in expected if x == x
        ], places
        assert [x != x for x in found] == [x != x for x in expected]  # NaN where rounded gives NaN
