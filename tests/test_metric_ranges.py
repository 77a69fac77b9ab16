"""Every metric stays in its mathematical range on any input, and no Spark arithmetic error
(division by zero, overflow) reaches a user (issue 24's "whole kind"): random factors with NaN
and infinite entries, exact ties, users with no relevant row, users who saw every item, users
with no candidate but their own items outside the catalogue, held-out items outside the
catalogue; rank mode and rows mode, every tie rule, NaN rule and noRelevantUsers rule."""

import random

import pytest

from spark_recs import RankingMetricsEvaluator, ROEMEvaluator
from tests.test_ranking import METRICS, ranker_of

INF, NAN = float("inf"), float("nan")


def wild_case(seed, users=16, items=12, rank=2):
    rng = random.Random(seed)
    values = [-1.0, 0.0, 0.5, 1.0, 1.0, INF, -INF, NAN]

    def vec():
        return [rng.choice(values) if rng.random() < 0.3 else rng.choice([-1.0, 0.0, 1.0]) for _ in range(rank)]

    user_factors = {u: vec() for u in range(users) if u % 7 != 3}  # users 3, 10: no factors
    item_factors = {i: vec() for i in range(items)}
    seen = {u: set(rng.sample(range(items), rng.randint(0, items // 2))) for u in range(users)}
    seen[5] = set(range(items))  # saw everything: its held-out items are outside the catalogue
    held = []
    for u in range(users):
        unseen = [i for i in range(items + 3) if i not in seen[u]]  # items 12..14: no factors
        for i in rng.sample(unseen, min(len(unseen), rng.randint(1, 5))):
            held.append((u, i, float(rng.choice([0.0, 0.0, 1.0, 3.0]))))
    held.append((6, items + 1, 0.0))  # user 6 has a non-relevant cold row at least
    return user_factors, item_factors, seen, sorted(set(held))


def in_range(value):
    return value == value and 0.0 <= value <= 1.0


@pytest.mark.parametrize("seed", [0, 1])
def test_every_metric_stays_in_range(spark, seed):
    user_factors, item_factors, seen, held = wild_case(seed)
    ranker = ranker_of(spark, user_factors, item_factors, seen)
    held_df = spark.createDataFrame(held, "user int, item int, rating double")
    specs = {f"{m}@{k}": (m, k) for m in METRICS for k in (1, 20)}
    # rank mode under every rule (one job each); rows mode on the same rows, which share
    # per-user statistics under tieRule='average' (one job; 'itemId' costs a job per metric)
    configs = [({"tieRule": "average", "nanPredictions": "last", "noRelevantUsers": "zero"}, ({"rankCol": "rank"}, {})),
               ({"tieRule": "itemId", "nanPredictions": "drop", "noRelevantUsers": "exclude"}, ({"rankCol": "rank"},)),
               ({"tieRule": "average", "nanPredictions": "drop", "noRelevantUsers": "exclude"}, ({},))]
    checked = 0
    for cold in ("nan", "drop"):
        ranked = ranker.setColdStartStrategy(cold).transform(held_df).cache()
        assert ranked.where("numTied < 1 or numAbove < 0 or rank < 1 or rank > numCandidates").count() == 0
        for rules, modes in configs:
            for mode in modes:
                values = RankingMetricsEvaluator(**rules, **mode).evaluateMetrics(ranked, specs)
                bad = {name: v for name, v in values.items() if not in_range(v)}
                assert not bad, (cold, rules, mode, bad)
                checked += len(values)
        for args in ({"tieRule": "average", "rankCol": "rank"}, {"tieRule": "min"}):
            assert in_range(ROEMEvaluator(**args).evaluate(ranked)), (cold, args)
        ranked.unpersist()
    assert checked == 2 * 4 * len(specs)


def test_top_n_gives_every_user_a_row_and_no_nan(spark):
    user_factors, item_factors, seen, _ = wild_case(2)
    ranker = ranker_of(spark, user_factors, item_factors, seen)
    asked = spark.createDataFrame([(u,) for u in range(20)], "user int")  # 16..19: unknown
    recs = {r.user: [x.rating for x in r.recommendations] for r in ranker.recommendForUserSubset(asked, 4).collect()}
    assert set(recs) == set(range(20))
    assert recs[5] == [] and recs[3] == [] and recs[19] == []
    assert all(s == s for ratings in recs.values() for s in ratings)  # never a NaN score
    assert all(ratings == sorted(ratings, reverse=True) for ratings in recs.values())
