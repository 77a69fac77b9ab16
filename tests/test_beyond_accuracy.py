"""Beyond-accuracy metrics against plain numpy on random lists, the bounds at their extremes,
and bad input."""

import random

import numpy as np
import pytest

from spark_recs.beyond_accuracy import BEYOND_ACCURACY_METRICS, beyond_accuracy_metrics


def random_case(seed, users=20, items=25, k=5):
    rng = random.Random(seed)
    train = [(f"u{u}", f"i{i}") for u in range(users) for i in rng.sample(range(items), rng.randint(1, 8))]
    train += train[:5]  # repeated pairs count once
    recs = []
    for u in range(users):
        picks = rng.sample(range(min(items, 12)), rng.randint(1, k + 2))  # some lists longer than k
        recs += [(f"u{u}", r + 1, f"i{i}") for r, i in enumerate(picks)]
    return train, recs


def reference(train, recs, k):
    """numpy, by the docstring's formulas."""
    catalogue = sorted({i for _, i in train})
    users = {u for u, _ in train}
    pop = {i: len({u for u, j in set(train) if j == i}) for i in catalogue}
    top = [(u, i) for u, r, i in recs if r <= k]
    x = np.array([sum(1 for _, j in top if j == i) for i in catalogue], dtype=float)
    n = len(catalogue)
    xs = np.sort(x)
    gini = np.sum((2 * np.arange(1, n + 1) - n - 1) * xs) / (n * xs.sum())
    novelty = np.mean([-np.log2(pop[i] / len(users)) for _, i in top])
    per_user = {}
    for u, i in top:
        per_user.setdefault(u, []).append(pop[i])
    arp = np.mean([np.mean(v) for v in per_user.values()])
    return {"coverageAtK": np.count_nonzero(x) / n, "giniIndex": gini, "novelty": novelty,
            "averageRecommendedPopularity": arp}


@pytest.mark.parametrize("seed, k", [(0, 5), (1, 3), (2, 1)])
def test_metrics_match_numpy(spark, seed, k):
    train, recs = random_case(seed)
    got = beyond_accuracy_metrics(spark.createDataFrame(recs, "user string, rank int, item string"),
                                  spark.createDataFrame(train, "user string, item string"), k=k)
    assert list(got) == BEYOND_ACCURACY_METRICS
    want = reference(train, recs, k)
    for name in BEYOND_ACCURACY_METRICS:
        assert got[name] == pytest.approx(want[name], rel=1e-12), name


def test_extremes(spark):
    """Everyone gets the same single item: coverage 1/n, Gini at its maximum 1 - 1/n; every
    item once: Gini 0, coverage 1."""
    train = spark.createDataFrame([(f"u{u}", f"i{i}") for u in range(4) for i in range(4)], "user string, item string")
    same = spark.createDataFrame([(f"u{u}", 1, "i0") for u in range(4)], "user string, rank int, item string")
    m = beyond_accuracy_metrics(same, train, k=1)
    assert m["coverageAtK"] == 0.25 and m["giniIndex"] == pytest.approx(0.75)
    assert m["novelty"] == 0.0 and m["averageRecommendedPopularity"] == 4.0  # every user has i0
    spread = spark.createDataFrame([(f"u{u}", 1, f"i{u}") for u in range(4)], "user string, rank int, item string")
    m = beyond_accuracy_metrics(spread, train, k=1)
    assert m["coverageAtK"] == 1.0 and m["giniIndex"] == 0.0


def test_bad_input(spark):
    train = spark.createDataFrame([("a", "x"), ("b", "y")], "user string, item string")
    recs = spark.createDataFrame([("a", 1, "y"), ("a", 2, "zed")], "user string, rank int, item string")
    with pytest.raises(ValueError, match=r"^beyond_accuracy_metrics: recommended items \['zed'\] of itemCol 'item' are not in train"):
        beyond_accuracy_metrics(recs, train, k=2)
    with pytest.raises(ValueError, match=r"^beyond_accuracy_metrics: k must be >= 1"):
        beyond_accuracy_metrics(recs, train, k=0)
    with pytest.raises(ValueError, match=r"^beyond_accuracy_metrics: no recommendation with rankCol 'rank' <= 1"):
        beyond_accuracy_metrics(recs.where("rank > 1").where("item = 'y'"), train, k=1)
    with pytest.raises(ValueError, match=r"^beyond_accuracy_metrics: rankCol 'position' not in"):
        beyond_accuracy_metrics(recs, train, rankCol="position")
