"""The engine's kernels (spark_recs/_blocks.py) called directly, without Spark, against the
full-matrix references in tests/reference.py: random blocks with exact ties, NaN and infinite
factors, users without factors or held-out rows, users who saw every item, heavy users (more
held-out rows than the light kernel takes) and item chunks of every size."""

import random

import numpy as np
import pytest

from spark_recs import _blocks as B
from tests import reference


def case(seed, users=30, items=40, rank=3, nan=True, heavy=True):
    """Factors on a coarse grid (many exact ties), a user without factors (3), a user with a NaN
    factor (4), an item with a NaN factor (11) and one with an infinite one (12); a user who
    saw every item (5), one with no held-out rows, a heavy user (6), held-out items without
    factors (40, 41)."""
    rng = random.Random(seed)
    grid = [-1.0, -0.5, 0.0, 0.5, 1.0]

    def vec():
        return [rng.choice(grid) for _ in range(rank)]

    user_factors = {u: vec() for u in range(users) if u != 3}
    item_factors = {i: vec() for i in range(items)}
    item_factors[7] = item_factors[5]
    item_factors[9] = [0.0] * rank
    if nan:
        user_factors[4] = [float("nan")] + vec()[1:]
        item_factors[11] = [0.5, float("nan"), 0.0][:rank]
        item_factors[12] = [float("inf"), 0.0, 0.0][:rank]
    seen = {u: set(rng.sample(range(items), rng.randint(0, 8))) for u in range(users)}
    seen[5] = set(range(items))
    held = []
    for u in range(users):
        unseen = [i for i in range(items + 2) if i not in seen[u]]
        count = len(unseen) - 2 if (u == 6 and heavy) else rng.randint(0, 6)
        held.extend((u, i) for i in rng.sample(unseen, min(count, len(unseen))))
    return user_factors, item_factors, seen, held


def block_of(user_factors, item_factors, seen, users, held=()):
    """A user block as pack_users makes it, and the catalogue as pack_catalogue does."""
    rank = len(next(iter(item_factors.values())))
    items = np.array(sorted(item_factors), np.int32)
    h = [sorted({i for v, i in held if v == u}) for u in users]
    s = [sorted(seen.get(u, ())) for u in users]

    def ptr(lists):
        return np.concatenate([[0], np.cumsum([len(x) for x in lists])]).astype(np.int64)

    def flat(lists):
        return np.array([x for part in lists for x in part], np.int64)

    return {
        "users": np.array(users, np.int32),
        "U": np.array([user_factors.get(u, [np.nan] * rank) for u in users], np.float32).reshape(-1, rank),
        "items": items, "V": np.array([item_factors[i] for i in items], np.float32).reshape(-1, rank),
        "h_ptr": ptr(h), "h_item": flat(h), "s_ptr": ptr(s), "s_item": flat(s),
    }


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("item_block", [4096, 7, 1])
@pytest.mark.parametrize("cold", ["nan", "drop"])
def test_ranks_equal_the_full_matrix(seed, item_block, cold):
    user_factors, item_factors, seen, held = case(seed)
    users = sorted({u for u, _ in held})
    with np.errstate(invalid="ignore", over="ignore"):
        out = B.rank_block(block_of(user_factors, item_factors, seen, users, held), item_block, cold == "nan")
    expected = reference.unseen_item_ranks(user_factors, item_factors, seen, held, cold=cold)
    got = {}
    for k in range(len(out["user"])):
        key = (int(out["user"][k]), int(out["item"][k]))
        score = float(out["prediction"][k])
        if cold == "drop" and score != score:
            continue  # the plan drops rows without a score
        got[key] = (score, int(out["rank"][k]), int(out["numAbove"][k]), int(out["numTied"][k]),
                    int(out["numCandidates"][k]))
    assert set(got) == set(expected)
    for key, (score, *counts) in expected.items():
        assert got[key][1:] == tuple(counts), key
        assert got[key][0] == score or (got[key][0] != got[key][0] and score != score), key
    assert not out["inFit"].any()
    # the case exercises what it is for
    assert max(sum(u == 6 for u, _ in held), 0) > B.LIGHT_TARGETS
    assert any(t > 1 for _, _, _, t, _ in expected.values())


def test_a_pair_of_the_fit_data_is_flagged():
    user_factors, item_factors, seen, held = case(0, nan=False)
    seen[0] = {1, 2}
    out = B.rank_block(block_of(user_factors, item_factors, seen, [0], [(0, 2), (0, 3)]), 4096, True)
    flags = {int(i): bool(f) for i, f in zip(out["item"], out["inFit"])}
    assert flags == {2: True, 3: False}


def test_the_issues_nan_example():
    """Issue 24: a NaN item factor and a user with NaN factors. NaN scores rank after every
    finite candidate and tie among themselves (by item id for the rank)."""
    users = {0: [1.0, 0.0], 1: [float("nan"), float("nan")]}
    items = {0: [1.0, 0.0], 1: [0.5, 0.5], 2: [float("nan"), 0.0], 3: [0.25, 0.75], 4: [0.0, 1.0]}
    seen = {0: {0}, 1: {0}}
    held = [(0, 2), (0, 4), (1, 3), (1, 4)]
    with np.errstate(invalid="ignore"):
        out = B.rank_block(block_of(users, items, seen, [0, 1], held), 4096, True)
    got = {(int(u), int(i)): (int(r), int(a), int(t), int(c))
           for u, i, r, a, t, c in zip(out["user"], out["item"], out["rank"], out["numAbove"],
                                       out["numTied"], out["numCandidates"])}
    assert got == {
        (0, 2): (4, 3, 1, 4),  # NaN: after the three finite candidates
        (0, 4): (3, 2, 1, 4),  # 0.0: below items 1 (.5) and 3 (.25); item 2's NaN is not above it
        (1, 3): (3, 0, 4, 4),  # every candidate NaN: all tie, rank by id among items 1..4
        (1, 4): (4, 0, 4, 4),
    }


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("item_block", [4096, 5, 1])
@pytest.mark.parametrize("n", [1, 3, 50])
def test_top_n_equals_the_full_matrix(seed, item_block, n):
    user_factors, item_factors, seen, _ = case(seed)
    users = sorted(set(user_factors) | {3, 5})
    with np.errstate(invalid="ignore", over="ignore"):
        offsets, items, scores = B.top_block(block_of(user_factors, item_factors, seen, users), n, item_block)
    expected = reference.unseen_top_n(user_factors, item_factors, seen, users, n)
    assert len(offsets) == len(users) + 1
    for k, u in enumerate(users):
        got = [(int(i), float(s)) for i, s in zip(items[offsets[k]:offsets[k + 1]], scores[offsets[k]:offsets[k + 1]])]
        assert got == expected[u], u
    assert expected[3] == [] and expected[5] == []  # no factors; saw everything
    assert expected[4] == []  # a NaN factor scores every item NaN


def test_empty_blocks():
    user_factors, item_factors, seen, _ = case(0, nan=False)
    block = block_of(user_factors, item_factors, seen, [0, 1])
    out = B.rank_block(block, 4096, True)
    assert len(out["user"]) == 0
    empty = block_of(user_factors, {0: [1.0, 0.0, 0.0]}, seen, [0, 1], [(0, 5)])
    empty["items"], empty["V"] = np.zeros(0, np.int32), np.zeros((0, 3), np.float32)
    out = B.rank_block(empty, 4096, True)
    assert (out["rank"].tolist(), out["numCandidates"].tolist()) == ([1], [1])  # its own cold row
    offsets, items, _ = B.top_block(empty, 3, 4096)
    assert offsets.tolist() == [0, 0, 0] and len(items) == 0
