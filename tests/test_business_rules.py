"""Candidates, exclusions and the cold-start policy of every top-N (recommend_for_users,
similar_items, the command line), against numpy's full score matrix (tests/reference.py)."""

import json
import os

import numpy as np
import pytest
from pyspark.sql import functions as F

from spark_recs import UnseenItemRankerModel, recommend_for_users, similar_items
from spark_recs.cli import main
from spark_recs.workflow import history_as_fit
from tests import reference
from tests.helpers import factor_model

RNG = np.random.default_rng(11)
USERS = {u: RNG.normal(size=3).astype(np.float32) for u in range(6)}
ITEMS = {i: RNG.normal(size=3).astype(np.float32) for i in range(12)}
SEEN = {0: {0, 1}, 1: {2}, 2: {1, 3, 4}, 3: set(range(9)), 4: {5}, 5: {7, 8}}


@pytest.fixture(scope="module")
def ranker(spark_session):
    spark = spark_session
    pairs = [(u, i) for u, items in SEEN.items() for i in items]
    return UnseenItemRankerModel.fromFitted(
        factor_model(spark, USERS, ITEMS), spark.createDataFrame(pairs, "user int, item int")
    )


def _by_user(df, item="item", score="score"):
    out = {}
    for r in df.collect():
        out.setdefault(r["user"], [])
        if r["rank"] is not None:
            out[r["user"]].append((r["rank"], r[item], r[score]))
    return {u: [(i, s) for _, i, s in sorted(v)] for u, v in out.items()}


def _assert_tops(got, expected):
    assert got.keys() == expected.keys()
    for u in expected:
        assert [i for i, _ in got[u]] == [i for i, _ in expected[u]], u
        assert [s for _, s in got[u]] == pytest.approx([s for _, s in expected[u]], rel=1e-6), u


def test_candidates_and_exclusions_leave_exactly_n_as_numpy(spark, ranker):
    """Candidates restrict the catalogue, global and per-user exclusions join the seen items,
    inside the engine: each user gets its n best allowed unseen items, as numpy's full matrix."""
    candidates = spark.createDataFrame([(i,) for i in (0, 2, 3, 5, 6, 7, 9, 10, 11)], "item int")
    exclude = spark.createDataFrame([(None, 10), (0, 5), (1, 6), (2, 99)], "user int, item int")
    everyone = spark.createDataFrame([(10,)], "item int")
    per_user = exclude.where("user is not null")
    got = recommend_for_users(ranker, list(range(6)), n=3, candidates=candidates, exclude=per_user)
    allowed = {i: v for i, v in ITEMS.items() if i in {0, 2, 3, 5, 6, 7, 9, 10, 11}}
    left_out = {u: SEEN[u] | {i for v, i in [(0, 5), (1, 6)] if v == u} for u in SEEN}
    _assert_tops(_by_user(got), reference.unseen_top_n(USERS, allowed, left_out, range(6), 3))
    assert all(len(v) == 3 for v in _by_user(got).values())  # user 3 saw 9 items, 3 candidates remain

    got = recommend_for_users(ranker, list(range(6)), n=3, candidates=candidates, exclude=everyone)
    allowed.pop(10)
    _assert_tops(_by_user(got), reference.unseen_top_n(USERS, allowed, SEEN, range(6), 3))
    # a rules-less call is the ranker itself
    plain = recommend_for_users(ranker, [0, 3], n=4)
    _assert_tops(_by_user(plain), reference.unseen_top_n(USERS, ITEMS, SEEN, [0, 3], 4))


def test_fewer_candidates_than_n_and_none_left(spark, ranker):
    few = spark.createDataFrame([(0,), (1,), (11,)], "item int")
    got = _by_user(recommend_for_users(ranker, [0, 1, 3], n=5, candidates=few))
    assert [i for i, _ in got[0]] == [11]  # 0 and 1 seen: one candidate left
    assert sorted(i for i, _ in got[1]) == [0, 1, 11]
    assert sorted(i for i, _ in got[3]) == [11]
    seen_only = spark.createDataFrame([(0,), (1,)], "item int")
    rows = recommend_for_users(ranker, [0], n=2, candidates=seen_only).collect()
    assert [(r.user, r.rank, r.item, r.score) for r in rows] == [(0, None, None, None)]  # the user keeps a row


def test_rules_refuse_what_they_cannot_honour(spark, ranker):
    with pytest.raises(ValueError, match=r"^recommend_for_users: candidates \[42\] are not in the catalogue "
                                         r"\(ids with factors; itemCol 'item'\)$"):
        recommend_for_users(ranker, [0], n=2, candidates=spark.createDataFrame([(42,), (1,)], "item int"))
    with pytest.raises(ValueError, match=r"^recommend_for_users: candidates has a user column \('user'\): per-user "
                                         r"candidate sets are not supported"):
        recommend_for_users(ranker, [0], n=2, candidates=spark.createDataFrame([(0, 1)], "user int, item int"))
    with pytest.raises(ValueError, match=r"^recommend_for_users: exclude 'item' not in \[song\]"):
        recommend_for_users(ranker, [0], n=2, exclude=spark.createDataFrame([(1,)], "song int"))
    with pytest.raises(ValueError, match=r"^recommend_for_users: coldStart must be one of \['error', 'popular', "
                                         r"'skip'\], found 'guess'"):
        recommend_for_users(ranker, [0], n=2, coldStart="guess")
    # an excluded item the model does not know needs no leaving out
    got = _by_user(recommend_for_users(ranker, [4], n=2, exclude=spark.createDataFrame([(77,)], "item int")))
    _assert_tops(got, reference.unseen_top_n(USERS, ITEMS, SEEN, [4], 2))


def test_cold_start_policies(spark, ranker):
    """Users without factors and history: 'error' names them, 'skip' leaves them out, 'popular'
    gives the items with the most users in the fit data (ties by item id), the rules applied,
    marked in a source column."""
    with pytest.raises(ValueError, match=r"^recommend_for_users: users \[77\] are not known to the model "
                                         r"\(userCol 'user'\)"):
        recommend_for_users(ranker, [0, 77], n=2)
    skipped = recommend_for_users(ranker, [0, 77], n=2, coldStart="skip")
    assert {r.user for r in skipped.collect()} == {0} and skipped.columns == ["user", "rank", "item", "score"]

    popular = recommend_for_users(ranker, [0, 77, 78], n=3, coldStart="popular",
                                  exclude=spark.createDataFrame([(78, 1)], "user int, item int"))
    assert popular.columns == ["user", "rank", "item", "score", "source"]
    counts = {}
    for items in SEEN.values():
        for i in items:
            counts[i] = counts.get(i, 0) + 1
    order = sorted(counts, key=lambda i: (-counts[i], i))  # 1 (3 users), 2, 3, 4, 5, 7, 8 (2 each) ...
    rows = popular.collect()
    mine = {u: [(r.item, r.score) for r in rows if r.user == u] for u in (77, 78)}
    assert mine[77] == [(i, float(counts[i])) for i in order[:3]]
    assert mine[78] == [(i, float(counts[i])) for i in [i for i in order if i != 1][:3]]
    assert {r.source for r in rows if r.user == 0} == {"model"} and {r.source for r in rows if r.user != 0} == {"popular"}
    _assert_tops(_by_user(popular.where("user = 0")), reference.unseen_top_n(USERS, ITEMS, SEEN, [0], 3))

    from pyspark.ml.recommendation import ALS

    pairs = [(u, i, 1.0) for u, items in SEEN.items() for i in items]
    bare = ALS(rank=2, maxIter=1, implicitPrefs=True, seed=1).fit(
        spark.createDataFrame(pairs, "user int, item int, rating double"))
    with pytest.raises(ValueError, match=r"^recommend_for_users: coldStart='popular' counts the training "
                                         r"interactions: pass them as rated="):
        recommend_for_users(bare, [77], n=2, excludeRated=False, coldStart="popular")


def test_similar_items_excludes_inside_the_engine(spark, ranker):
    model = ranker
    exclude = spark.createDataFrame([(2,), (5,), (99,)], "item int")
    got = similar_items(model, [0, 1, 2], n=4, exclude=exclude)
    out = {}
    for r in got.collect():
        out.setdefault(r.item, []).append((r.rank, r.similar_item, r.similarity))
    expected = reference.similar_top_n(ITEMS, 4, candidates=[i for i in ITEMS if i not in (2, 5)])
    for i in (0, 1, 2):
        assert [j for _, j, _ in sorted(out[i])] == [j for j, _ in expected[i]], i
        assert [s for _, _, s in sorted(out[i])] == pytest.approx([s for _, s in expected[i]], rel=1e-6)
    with pytest.raises(ValueError, match=r"^similar_items: candidates \[99\] are not in the catalogue"):
        similar_items(model, [0], n=2, candidates=spark.createDataFrame([(99,)], "item int"))


@pytest.mark.parametrize(
    "metrics, expected",
    [
        ({"feedback": "explicit", "best": {"rank": 4, "regParam": 0.3, "rmse": 1.0}, "settings": {}},
         ([2.0, 5.0], {"regParam": 0.3, "alpha": 1.0, "implicitPrefs": False, "nonnegative": False})),
        ({"feedback": "implicit", "best": {"rank": 4, "regParam": 0.1, "alpha": 5.0}, "settings": {"weighting": "log"}},
         (list(np.log1p([2.0, 5.0])), {"regParam": 0.1, "alpha": 5.0, "implicitPrefs": True, "nonnegative": False})),
        ({"feedback": "binary", "best": {"regParam": 0.2, "alpha": 1.0}, "settings": {"threshold": 3.0}},
         ([0.0, 1.0], {"regParam": 0.2, "alpha": 1.0, "implicitPrefs": True, "nonnegative": False})),
    ],
    ids=["explicit", "implicit-log", "binary"],
)
def test_history_as_fit_reads_the_run(spark, tmp_path, metrics, expected):
    from pyspark.ml.recommendation import ALSModel

    path = str(tmp_path / "metrics.json")
    with open(path, "w") as fh:
        json.dump(metrics, fh)
    history = spark.createDataFrame([("a", "x", 2.0), ("a", "y", 5.0)], ["user", "item", "rating"])
    rows, params = history_as_fit(history, path, ALSModel.__new__(ALSModel))
    assert [r.rating for r in rows.orderBy("item").collect()] == pytest.approx(expected[0])
    assert params == expected[1]


def test_history_as_fit_refuses_bm25_and_a_missing_metrics_file(spark, tmp_path):
    from pyspark.ml.recommendation import ALSModel

    path = str(tmp_path / "metrics.json")
    with open(path, "w") as fh:
        json.dump({"feedback": "implicit", "settings": {"weighting": "bm25"}}, fh)
    history = spark.createDataFrame([("a", "x", 2.0)], ["user", "item", "rating"])
    with pytest.raises(ValueError, match=r"^history_as_fit: the model was fit on bm25 weights"):
        history_as_fit(history, path, ALSModel.__new__(ALSModel))
    with pytest.raises(ValueError, match=r"^history_as_fit: the model has no metrics.json beside it"):
        history_as_fit(history, None, ALSModel.__new__(ALSModel))


@pytest.mark.end_to_end
def test_command_line_history_cold_start_and_rules(capsys, spark, tmp_path):
    """tune, then recommend --history (read as tune reads --input, log-weighted as the fit
    was), --cold-start popular, --candidates and --exclude; similar --exclude."""
    from spark_recs import recommend_for_users as api
    from spark_recs.datasets import synthetic_ratings
    from spark_recs.weighting import ConfidenceWeighter

    ratings, _ = synthetic_ratings(spark, numUsers=30, numItems=40, numRatings=500, kind="implicit", seed=4)
    data = str(tmp_path / "plays.csv")
    ratings.toPandas().rename(columns={"user": "listener", "item": "track", "rating": "count"}).to_csv(data, index=False)
    out_dir = str(tmp_path / "tuned")
    cols = ["--user-col", "listener", "--item-col", "track", "--rating-col", "count"]
    assert main(["tune", "--input", data, *cols, "--feedback", "implicit", "--ranks", "3", "--reg-params", "0.1",
                 "--alphas", "2", "--max-iter", "3", "--folds", "2", "--out", out_dir]) == 0
    capsys.readouterr()
    plays = ratings.where("user = 'user_03'")
    history = str(tmp_path / "new.csv")
    plays.withColumn("user", F.lit("newcomer")).toPandas().rename(
        columns={"user": "listener", "item": "track", "rating": "count"}).to_csv(history, index=False)
    exclude = str(tmp_path / "exclude.csv")
    with open(exclude, "w") as fh:
        fh.write("listener,track\nuser_05,item_01\n,item_02\n")

    code = main(["recommend", "--model", out_dir, "--users", "newcomer,user_05,ghost", "--n", "3",
                 "--history", history, *cols, "--cold-start", "popular", "--exclude", exclude])
    out, err = capsys.readouterr()
    assert code == 0, err
    lines = out.strip().splitlines()
    assert lines[0].split() == ["listener", "rank", "track", "score", "source"]
    rows = [line.split() for line in lines[1:]]
    assert {(r[0], r[-1]) for r in rows} == {("newcomer", "fold-in"), ("user_05", "model"), ("ghost", "popular")}
    assert len(rows) == 9 and not {r[2] for r in rows if r[0] == "newcomer"} & {r.item for r in plays.collect()}
    assert ("user_05", "item_01") not in {(r[0], r[2]) for r in rows} and "item_02" not in {r[2] for r in rows}

    # the same as the Python API with the history weighted as the fit's ConfidenceWeighter did
    from pyspark.ml import PipelineModel

    model = PipelineModel.load(os.path.join(out_dir, "model"))
    weighted = ConfidenceWeighter(method="log", inputCol="rating", outputCol="w").transform(
        plays.withColumn("user", F.lit("newcomer"))).select(
        F.col("user").alias("listener"), F.col("item").alias("track"), F.col("w").alias("rating"))
    expected = api(model, ["newcomer"], n=3, history=weighted,
                   exclude=spark.createDataFrame([("item_02",)], ["track"]))
    assert [r[2] for r in rows if r[0] == "newcomer"] == [r.track for r in expected.collect()]

    candidates = str(tmp_path / "candidates.csv")
    with open(candidates, "w") as fh:
        fh.write("track\n" + "".join(f"item_{i:02d}\n" for i in range(10)))
    code = main(["similar", "--model", out_dir, "--items", "item_00", "--n", "2", "--candidates", candidates,
                 "--exclude", exclude])
    out, err = capsys.readouterr()
    assert code == 0, err
    near = [line.split()[2] for line in out.strip().splitlines()[1:]]
    assert len(near) == 2 and set(near) <= {f"item_{i:02d}" for i in range(10)} - {"item_00", "item_01", "item_02"}

    code = main(["recommend", "--model", out_dir, "--users", "ghost", "--n", "3"])
    _, err = capsys.readouterr()
    assert code == 2 and "coldStart='popular'" in err
    code = main(["recommend", "--model", out_dir, "--users", "user_05", "--candidates", exclude.replace("exclude", "nope")])
    _, err = capsys.readouterr()
    assert code == 2 and "--candidates" in err and "no such file" in err
