"""spark-recs compare: most-popular, the explicit ALS recipe and tuned implicit ALS on one
holdout, full-catalogue protocol (spark_recs/comparison.py, the compare command)."""

import io
import json
import math
import os

import numpy as np
import pytest
from pyspark.sql import functions as F

from spark_recs.cli import main
from spark_recs.comparison import COMPARE_COLUMNS, compare
from spark_recs.datasets import SYNTHETIC_SETTINGS, synthetic_ratings
from spark_recs.workflow import evaluate_holdout, most_popular, positives, split_holdout_and_folds

#: The ml-100k settings, scaled down so that a test runs in seconds.
SMALL = dict(SYNTHETIC_SETTINGS["ml-100k"], numUsers=60, numItems=120, numRatings=2_000)
GRID = dict(ranks=[4], regParams=[0.1], alphas=[1.0], maxIter=3, folds=2, blocks=1)
ACCURACY = ["precisionAtK@10", "recallAtK@10", "ndcgAtK@10", "meanAveragePrecision", "mrrAtK@10"]


@pytest.fixture(scope="module")
def ratings(spark_session):
    df, _ = synthetic_ratings(spark_session, **SMALL, seed=5)
    return df.localCheckpoint()


@pytest.fixture(scope="module")
def result(ratings):
    """compare() on the generated ratings taken as play counts: no explicit recipe (the command
    test on the MovieLens 100K layout runs it with one)."""
    return compare(ratings, explicit=False, seed=7, progressStream=io.StringIO(), **GRID)


def assert_every_column_scored(rows):
    """Each model's row has every column, the accuracy metrics, ROEM and coverage in [0, 1]."""
    for name, values in rows.items():
        assert list(values) == COMPARE_COLUMNS, name
        for metric in ACCURACY + ["roem", "coverageAtK@10"]:
            assert 0.0 <= values[metric] <= 1.0, (name, metric, values[metric])


def test_every_model_is_scored_on_every_column(result):
    assert list(result.rows) == ["most-popular", "als-implicit-tuned"]
    assert_every_column_scored(result.rows)
    assert all(values["novelty@10"] > 0.0 for values in result.rows.values())
    assert result.best == {"rank": 4, "regParam": 0.1, "alpha": 1.0}
    assert len(result.grid) == 1 and 0.0 <= result.grid[0]["precisionAtK@10"] <= 1.0
    # beating most-popular: a strictly higher held-out P@10 (the selection metric)
    tuned, popular = (result.rows[name]["precisionAtK@10"] for name in ("als-implicit-tuned", "most-popular"))
    assert result.versus.figures == {"precisionAtK@10": {"model": tuned, "baseline": popular, "largerIsBetter": True}}
    assert result.versus.beats is (tuned > popular)


def test_most_popular_row_is_the_holdout_evaluation_of_most_popular(ratings, result):
    # the same split (same seed) made again, most-popular fitted and scored on its own
    split = split_holdout_and_folds(positives(ratings, "implicit"), holdout=0.25, folds=2, seed=7)
    train = split.train.drop("fold")
    expected = evaluate_holdout(most_popular(train), split.test)
    for metric in ACCURACY + ["roem"]:
        assert result.rows["most-popular"][metric] == pytest.approx(expected[metric], abs=1e-12), metric
    assert result.holdout["rows"] == split.test.count()
    assert result.holdout["users"] == split.test.select("user_idx").distinct().count()


def test_most_popular_coverage_and_novelty_match_numpy(ratings, result):
    # most-popular recommends each user the 10 most popular training items it has not seen:
    # count them with numpy from the same split, as beyond_accuracy_metrics defines coverage
    # (distinct recommended items / catalogue items in train) and novelty (mean -log2(pop / users))
    split = split_holdout_and_folds(positives(ratings, "implicit"), holdout=0.25, folds=2, seed=7)
    train = np.array([(r["user_idx"], r["item_idx"]) for r in split.train.select("user_idx", "item_idx").collect()])
    test_users = sorted({r[0] for r in split.test.select("user_idx").collect()})
    items, counts = np.unique(train[:, 1], return_counts=True)
    order = np.lexsort((items, -counts))  # most interactions first, ties by item id
    seen = {u: set(train[train[:, 0] == u, 1]) for u in test_users}
    lists = {u: [items[j] for j in order if items[j] not in seen[u]][:10] for u in test_users}
    recommended = {i for top in lists.values() for i in top}
    popularity = dict(zip(items, counts))
    n_users = len(np.unique(train[:, 0]))
    novelty = np.mean([-math.log2(popularity[i] / n_users) for top in lists.values() for i in top])
    row = result.rows["most-popular"]
    assert row["coverageAtK@10"] == pytest.approx(len(recommended) / len(items))
    assert row["novelty@10"] == pytest.approx(novelty)


def test_compare_rejects_bad_arguments(ratings):
    with pytest.raises(ValueError, match=r"compare: holdout must be in \(0, 1\), found 1.5"):
        compare(ratings, explicit=True, holdout=1.5, **GRID)
    with pytest.raises(ValueError, match="compare: the grid is empty"):
        compare(ratings, explicit=True, **{**GRID, "alphas": []})
    with pytest.raises(ValueError, match="compare: folds must be >= 2, found 1"):
        compare(ratings, explicit=True, **{**GRID, "folds": 1})


def _write_movielens_100k(ratings, directory):
    """ratings in the MovieLens 100K layout: u.data (user, item, rating, timestamp; tabs,
    1-based integer ids) and u.item (id|title|date|video date|URL|19 genre flags; Latin-1)."""
    os.makedirs(directory)
    ids = ratings.select(
        (F.substring_index("user", "_", -1).cast("int") + 1).alias("u"),
        (F.substring_index("item", "_", -1).cast("int") + 1).alias("i"),
        F.col("rating").cast("int").alias("r"),
    ).collect()
    with open(os.path.join(directory, "u.data"), "w") as fh:
        for n, row in enumerate(ids):
            fh.write(f"{row.u}\t{row.i}\t{row.r}\t{881250949 + n}\n")
    with open(os.path.join(directory, "u.item"), "w", encoding="latin-1") as fh:
        for i in range(1, SMALL["numItems"] + 1):
            fh.write(f"{i}|Film {i} (1995)|01-Jan-1995||" + "|0" * 19 + "\n")


def test_compare_command_on_the_movielens_100k_layout(capsys, ratings, tmp_path):
    data, out = str(tmp_path / "ml-100k"), str(tmp_path / "out")
    _write_movielens_100k(ratings, data)
    # regParam 1e30: every ALS factor rounds to 0 in the first iteration, so the tuned model ties
    # every item (random ranking) and must lose to most-popular: the warning line
    code = main(["compare", "--loader", "movielens-100k", "--input", data, "--ranks", "4", "--reg-params", "1e30",
                 "--alphas", "1", "--max-iter", "3", "--blocks", "1", "--out", out])
    printed, err = capsys.readouterr()
    assert code == 0, err
    lines = printed.strip().splitlines()
    assert lines[0].split() == ["model"] + COMPARE_COLUMNS
    assert [line.split()[0] for line in lines[1:-1]] == ["most-popular", "ALS", "ALS"]
    assert "ALS explicit (rank 10, regParam 0.05)" in lines[2] and lines[3].startswith("ALS implicit tuned (rank 4,")
    assert "[compare] fit 1/5 (most-popular)" in err and "[compare] fit 5/5" in err  # 1 point x 2 folds + 3
    report = json.load(open(os.path.join(out, "compare.json")))
    assert report["protocol"] == "full-catalogue" and report["columns"] == COMPARE_COLUMNS
    assert list(report["rows"]) == ["most-popular", "als-explicit-recipe", "als-implicit-tuned"]
    assert_every_column_scored(report["rows"])
    assert len(report["grid"]) == 1 and report["best"] == {"rank": 4, "regParam": 1e30, "alpha": 1.0}
    assert report["holdout"]["fraction"] == 0.25 and 0 < report["holdout"]["users"] <= SMALL["numUsers"]
    assert os.path.getsize(os.path.join(out, "compare.png")) > 10_000
    # the last line says that the tuned model does not beat most-popular, as compare.json does
    tuned, popular = (report["rows"][name]["precisionAtK@10"] for name in ("als-implicit-tuned", "most-popular"))
    assert tuned < popular and report["beatsBaseline"] is False
    assert report["baselineComparison"]["metrics"] == {
        "precisionAtK@10": {"model": tuned, "baseline": popular, "largerIsBetter": True}}
    assert lines[-1] == (f"warning: the tuned model does not beat most-popular on the holdout (precisionAtK@10 "
                         f"{tuned:.4f} vs {popular:.4f}); try another grid before using it")


def test_compare_command_on_play_counts_has_no_explicit_recipe(capsys, monkeypatch, result):
    # the command passes explicit=False for play counts and prints the rows it gets (the fits
    # themselves: the `result` fixture, the same call)
    import spark_recs.comparison

    calls = []
    monkeypatch.setattr(spark_recs.comparison, "compare", lambda df, **kw: (calls.append((df.columns, kw)), result)[1])
    code = main(["compare", "--feedback", "implicit", "--users", "40", "--items", "100", "--ratings", "300",
                 "--ranks", "4", "--reg-params", "0.1", "--alphas", "1", "--max-iter", "3", "--blocks", "1",
                 "--weighting", "bm25"])
    printed, err = capsys.readouterr()
    assert code == 0, err
    (columns, kw), = calls
    assert columns == ["user", "item", "rating"] and kw["explicit"] is False
    settings = kw["settings"]
    assert (settings.ranks, settings.regParams, settings.alphas, settings.maxIter, kw["blocks"]) == ((4,), (0.1,),
                                                                                                  (1.0,), 3, 1)
    assert (settings.weighting, settings.folds, settings.holdout, settings.seed) == ("bm25", 2, 0.25, 42)
    assert [line.split()[0] for line in printed.strip().splitlines()[1:-1]] == ["most-popular", "ALS"]
    assert "most-popular on the holdout" in printed.strip().splitlines()[-1]
    assert "explicit" not in printed


@pytest.mark.parametrize(
    "argv, message",
    [
        (["compare", "--feedback", "binary"], "compare takes ratings (--feedback explicit) or play counts"),
        (["compare", "--holdout", "1"], "--holdout must be between 0 and 1, found 1.0"),
        (["compare", "--ranks", "0"], "expected comma-separated whole numbers >= 1"),
    ],
)
def test_compare_command_bad_arguments_one_line_exit_2(capsys, argv, message):
    assert main(argv) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and message in lines[0]
