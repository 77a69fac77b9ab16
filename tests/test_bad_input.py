"""Bad input, nothing lost: one table of bad inputs over every public stage, evaluator, loader
and command.

Each row either raises (``Raises``: a ``ValueError`` or ``TypeError`` whose message starts with
the stage and names the param and the column; for a file loader the "param" is the file the
message names and the "column" its field; the command line prints it as one line
``spark-recs: error: ...`` and exits 2, ``Exits``), or is accepted by a documented rule and gives
the documented result (``Works``: the row's action returns what the table expects).
"""

import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pyspark.ml import Pipeline
from pyspark.ml.recommendation import ALS
from pyspark.sql import functions as F

from spark_recs import (
    BinaryRater,
    ConfidenceWeighter,
    IdIndexer,
    ImplicitALS,
    PerUserFolds,
    PopularityRecommender,
    PrecisionAtKEvaluator,
    RankingMetricsEvaluator,
    ROEMEvaluator,
    UnseenItemRanker,
    UnseenItemRankerModel,
    UserFolds,
    ZeroFiller,
    beyond_accuracy_metrics,
    cold_user_split,
    fit_biases,
    interaction_stats,
    last_n_split_per_user,
    load_interactions,
    load_movielens,
    load_movielens_100k,
    load_taste_profile,
    fold_in,
    recommend_for_users,
    similar_items,
    similar_users,
    time_ratio_split_per_user,
    time_split,
    train_test_split_per_user,
    wide_to_long,
)
from spark_recs.cli import main

NAN = float("nan")
RATINGS = "user string, item string, rating double"
PREDICTIONS = "user string, item string, rating double, prediction double"


@dataclass(frozen=True)
class Raises:
    """The action raises ``error``; its message starts with ``stage: `` and names ``param``,
    ``'column'`` and (a regex) ``found``."""

    error: type
    stage: str
    param: str
    column: str
    found: str = ""
    quoted: bool = True  # False where a loader names a file path or a list of fields

    def pattern(self) -> str:
        column = f"'{re.escape(self.column)}'" if self.quoted else re.escape(self.column)
        return (
            rf"^{re.escape(self.stage)}: (?=.*(?<![\w-]){re.escape(self.param)}(?![\w-]))"
            rf"(?=.*{column})(?=.*{self.found})"
        )


@dataclass(frozen=True)
class Exits:
    """The action returns the argv of a ``spark-recs`` command that prints a message as
    ``Raises`` describes it, as one line ``spark-recs: error: ...``, and exits with code 2."""

    stage: str
    param: str
    column: str
    found: str = ""
    quoted: bool = True

    pattern = Raises.pattern


@dataclass(frozen=True)
class RefusesOption:
    """The action returns the argv of a ``spark-recs`` command whose option value is refused
    before any Spark work: one line ``spark-recs: error: OPTION ... FOUND``, exit code 2."""

    option: str
    found: str

    def pattern(self) -> str:
        return rf"^{re.escape(self.option)} (?=.*{re.escape(self.found)})"


@dataclass(frozen=True)
class Works:
    """Accepted by a documented rule: the action returns ``expected``."""

    rule: str
    expected: Any


class Ctx:
    """What the actions share: the session, a scratch folder, a fitted indexer and pipeline."""

    def __init__(self, spark, tmp: Path) -> None:
        self.spark, self.tmp = spark, tmp
        plays = self.df([("jane", "a", 3.0), ("jane", "b", 1.0), ("sam", "b", 4.0), ("sam", "c", 1.0), ("kim", "a", 2.0)])
        self.plays = plays
        self.indexer = IdIndexer(inputCols=["user", "item"], outputCols=["user_idx", "item_idx"]).fit(plays)
        als = ALS(userCol="user_idx", itemCol="item_idx", implicitPrefs=True, rank=2, maxIter=2, seed=1,
                  numUserBlocks=1, numItemBlocks=1)
        self.pipeline = Pipeline(stages=[self.indexer, als]).fit(plays)
        self.pipeline.write().overwrite().save(str(tmp / "model"))

    def indexed(self):
        return self.indexer.transform(self.plays)

    def ranker(self):
        """The context's ALS model as an UnseenItemRankerModel, its fit data the indexed plays."""
        return UnseenItemRankerModel.fromFitted(self.pipeline.stages[1], self.indexed())

    def df(self, rows, ddl=RATINGS):
        return self.spark.createDataFrame(rows, ddl)

    def file(self, name: str, text: str, encoding: str = "utf-8") -> str:
        path = self.tmp / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text.encode(encoding))
        return str(path)


@pytest.fixture(scope="module")
def ctx(spark_session, tmp_path_factory):
    return Ctx(spark_session, tmp_path_factory.mktemp("bad-input"))


#: fold_in's ALS params for the context's bare ALSModel (it does not remember them).
FOLD = dict(regParam=0.1, alpha=1.0, implicitPrefs=True, nonnegative=False)


def rows(df, *cols):
    """Sorted rows as tuples, nulls last."""
    return sorted((tuple(r) for r in (df.select(*cols) if cols else df).collect()),
                  key=lambda r: tuple((v is None, 0 if v is None else v) for v in r))


def short(v):
    return v if not isinstance(v, str) or len(v) < 40 else f"<{len(v)} chars ending {v[-1]!r}>"


# -- actions that need a few lines -------------------------------------------------------------

UNICODE_IDS = ["ü-ñ", "日本語", "🎵🎶", "e\u0301", "", "a" * 100_000, "a" * 99_999 + "b", "ü-ñ"]


def unicode_round_trip(c):
    df = c.spark.createDataFrame([(v,) for v in UNICODE_IDS], "id string")
    model = IdIndexer(inputCol="id", outputCol="idx").fit(df)
    out = model.transform(df)
    back = model.decode(out.drop("id"))
    return {short(r.id): r.idx for r in out.collect()}, rows(back) == rows(df)


def long_ids_round_trip(c):
    df = c.spark.createDataFrame([(2**40,), (-(2**62),), (2**40,), (7,)], "id bigint")
    model = IdIndexer(inputCol="id", outputCol="idx", orderType="valueAsc").fit(df)
    out = model.transform(df)
    return out.schema["idx"].dataType.simpleString(), rows(out), rows(model.decode(out.drop("id"))) == rows(df)


def negative_plays_keep_their_user(c):
    df = c.df([(0, 0, -2.0), (1, 1, 3.0), (2, 0, 1.0), (2, 1, 0.0)], "user int, item int, rating double")
    model = ImplicitALS(rank=2, maxIter=1, seed=1, numUserBlocks=1, numItemBlocks=1).fit(df)
    return rows(model.userFactors, "id")


CASES = [
    # -- IdIndexer / IdIndexerModel -----------------------------------------------------------
    pytest.param(lambda c: IdIndexer(inputCol="user", outputCol="u").fit(c.df([("a", "x", 1.0)]).drop("user")),
                 Raises(ValueError, "IdIndexer", "inputCol", "user", r"not in \[item, rating\]"), id="indexer-missing-column"),
    pytest.param(lambda c: IdIndexer(inputCol="user", outputCol="u").fit(c.df([(["a"], "x")], "user array<string>, item string")),
                 Raises(TypeError, "IdIndexer", "inputCol", "user", "found array<string>"), id="indexer-array-id"),
    pytest.param(lambda c: IdIndexer(inputCols=["user", "item"], outputCols=["u", "i"]).fit(c.df([("a", None, 1.0), ("b", "x", 2.0)])),
                 Raises(ValueError, "IdIndexer", "inputCols", "item", r"1 null value"), id="indexer-null-id"),
    pytest.param(lambda c: IdIndexer(inputCol="user", outputCol="u").fit(c.df([])),
                 Raises(ValueError, "IdIndexer", "inputCol", "user", "empty"), id="indexer-empty"),
    pytest.param(lambda c: c.indexer.transform(c.df([("zed", "a", 1.0), (None, "a", 1.0)])),
                 Raises(ValueError, "IdIndexerModel", "inputCols", "user", r"unseen at fit time .*1 null id"), id="indexer-model-unseen-and-null"),
    pytest.param(lambda c: c.indexer.transform(c.df([(1, "a")], "user bigint, item string")),
                 Raises(TypeError, "IdIndexerModel", "inputCols", "user", "type bigint but the model was fit on string"),
                 id="indexer-model-wrong-type"),
    pytest.param(lambda c: c.indexer.transform(c.df([("jane", "a", 1)], "user string, item string, user_idx int")),
                 Raises(ValueError, "IdIndexerModel", "outputCols", "user_idx", "already exists"), id="indexer-model-output-exists"),
    pytest.param(lambda c: c.indexer.decode(c.df([("0",)], "user_idx string")),
                 Raises(TypeError, "IdIndexerModel.decode", "outputCols", "user_idx", "must be integral"), id="decode-string-index"),
    pytest.param(lambda c: c.indexer.decode(c.df([(2**31 - 1,)], "user_idx int")),
                 Raises(ValueError, "IdIndexerModel.decode", "outputCols", "user_idx", r"outside \[0, 3\]"), id="decode-out-of-range"),
    pytest.param(unicode_round_trip,
                 Works("any atomic id; strings ordered by UTF-8 bytes after frequency; decode gives them back",
                       ({"ü-ñ": 0, "": 1, short("a" * 100_000): 2, short("a" * 99_999 + "b"): 3, "e\u0301": 4, "日本語": 5, "🎵🎶": 6}, True)),
                 id="indexer-unicode-and-very-long-ids"),
    pytest.param(long_ids_round_trip,
                 Works("ids beyond Int range get dense int indices", ("int", [(-(2**62), 0), (7, 1), (2**40, 2), (2**40, 2)], True)),
                 id="indexer-ids-beyond-int-range"),
    pytest.param(lambda c: rows(c.indexer.transform(c.df([("jane", "a", 1.0), ("jane", "a", 2.0)])), "rating", "user_idx", "item_idx"),
                 Works("every row is indexed, duplicates too", [(1.0, 0, 0), (2.0, 0, 0)]), id="indexer-duplicate-pairs"),
    # -- ZeroFiller -----------------------------------------------------------------------------
    pytest.param(lambda c: ZeroFiller(ratingCol="plays").transform(c.df([("u", "a", 1.0)])),
                 Raises(ValueError, "ZeroFiller", "ratingCol", "plays", r"not in \[user, item, rating\]"), id="zeros-missing-rating"),
    pytest.param(lambda c: ZeroFiller().transform(c.df([("u", "a", "3")], "user string, item string, rating string")),
                 Raises(TypeError, "ZeroFiller", "ratingCol", "rating", "must be numeric, found string"), id="zeros-string-rating"),
    pytest.param(lambda c: ZeroFiller().transform(c.df([("u", ["a"], 1.0)], "user string, item array<string>, rating double")),
                 Raises(TypeError, "ZeroFiller", "itemCol", "item", "found array<string>"), id="zeros-array-item"),
    pytest.param(lambda c: ZeroFiller().transform(c.df([(None, "a", 1.0), ("u", "b", 1.0)])),
                 Raises(ValueError, "ZeroFiller", "userCol", "user", "1 null values"), id="zeros-null-user"),
    pytest.param(lambda c: ZeroFiller().transform(c.df([("u", "a", NAN), ("u", "b", 1.0)])),
                 Raises(ValueError, "ZeroFiller", "ratingCol", "rating", "1 NaN values"), id="zeros-nan-rating"),
    pytest.param(lambda c: ZeroFiller().transform(c.df([])),
                 Raises(ValueError, "ZeroFiller", "ratingCol", "rating", "the input DataFrame is empty"), id="zeros-empty"),
    pytest.param(lambda c: ZeroFiller().transform(c.df([("u", "a", 1.0), ("u", "a", 2.0)])),
                 Raises(ValueError, "ZeroFiller", "handleDuplicates", "item", "1 extra rows repeat"), id="zeros-duplicates-error"),
    pytest.param(lambda c: ZeroFiller(strategy="sample", numZeros=NAN).transform(c.df([("u", "a", 1.0)])),
                 Raises(ValueError, "ZeroFiller", "numZeros", "user", "found nan"), id="zeros-num-zeros-nan"),
    pytest.param(lambda c: rows(ZeroFiller(handleDuplicates="sum").transform(c.df([("u", "a", 2.0), ("u", "a", 3.0), ("v", "b", 1.0)]))),
                 Works("handleDuplicates='sum' adds a pair's ratings", [("u", "a", 5.0), ("u", "b", 0.0), ("v", "a", 0.0), ("v", "b", 1.0)]),
                 id="zeros-duplicates-sum"),
    pytest.param(lambda c: rows(ZeroFiller(handleDuplicates="max").transform(c.df([("u", "a", 2.0), ("u", "a", 3.0), ("v", "b", 1.0)]))),
                 Works("handleDuplicates='max' keeps a pair's largest rating", [("u", "a", 3.0), ("u", "b", 0.0), ("v", "a", 0.0), ("v", "b", 1.0)]),
                 id="zeros-duplicates-max"),
    pytest.param(lambda c: rows(ZeroFiller().transform(c.df([("u", "a", -2.0), ("v", "b", 3.0)]))),
                 Works("ratings are kept as they are, negative ones too", [("u", "a", -2.0), ("u", "b", 0.0), ("v", "a", 0.0), ("v", "b", 3.0)]),
                 id="zeros-negative-plays"),
    pytest.param(lambda c: rows(ZeroFiller().transform(c.df([(2**40, 2**35, 1), (1, 5, 2)], "user bigint, item bigint, rating int"))),
                 Works("ids of any atomic type", [(1, 5, 2), (1, 2**35, 0), (2**40, 5, 0), (2**40, 2**35, 1)]),
                 id="zeros-ids-beyond-int-range"),
    # -- BinaryRater ----------------------------------------------------------------------------
    pytest.param(lambda c: BinaryRater(inputCol="plays").transform(c.df([("u", "a", 1.0)])),
                 Raises(ValueError, "BinaryRater", "inputCol", "plays", "not in"), id="binary-missing-column"),
    pytest.param(lambda c: BinaryRater().transform(c.df([("u", "a", "5")], "user string, item string, rating string")),
                 Raises(TypeError, "BinaryRater", "inputCol", "rating", "must be numeric, found string"), id="binary-string-rating"),
    pytest.param(lambda c: BinaryRater().transform(c.df([("u", "a", None), ("u", "b", NAN)])),
                 Raises(ValueError, "BinaryRater", "inputCol", "rating", "1 null and 1 NaN"), id="binary-null-and-nan"),
    pytest.param(lambda c: BinaryRater(threshold=NAN).transform(c.df([("u", "a", 1.0)])),
                 Raises(ValueError, "BinaryRater", "threshold", "rating", "must not be NaN"), id="binary-threshold-nan"),
    pytest.param(lambda c: ConfidenceWeighter().transform(c.df([("u", "a", 3.0), ("u", "b", -1.0)])),
                 Raises(ValueError, "ConfidenceWeighter", "inputCol", "rating", "1 negative values"), id="weighter-negative-count"),
    pytest.param(lambda c: ConfidenceWeighter(method="bm25").transform(c.df([("u", "a", None), ("u", "b", NAN)])),
                 Raises(ValueError, "ConfidenceWeighter", "inputCol", "rating", "1 null and 1 NaN"), id="weighter-null-and-nan"),
    pytest.param(lambda c: ConfidenceWeighter(alpha=0.0).transform(c.df([("u", "a", 3.0)])),
                 Raises(ValueError, "ConfidenceWeighter", "alpha", "rating", "finite number > 0, found 0.0"), id="weighter-alpha-zero"),
    pytest.param(lambda c: ConfidenceWeighter(method="bm25", userCol="listener").transform(c.df([("u", "a", 3.0)])),
                 Raises(ValueError, "ConfidenceWeighter", "userCol", "listener", "not in"), id="weighter-bm25-missing-user-col"),
    pytest.param(lambda c: ConfidenceWeighter(inputCol="user").transform(c.df([("u", "a", 3.0)])),
                 Raises(TypeError, "ConfidenceWeighter", "inputCol", "user", "must be numeric"), id="weighter-text-counts"),
    pytest.param(lambda c: rows(ConfidenceWeighter(outputCol="rating").transform(c.df([("u", "a", 0.0), ("u", "b", 3.0)])), "rating"),
                 Works("a count of 0 stays 0 (an unobserved pair); outputCol may replace inputCol", [(0.0,), (math.log1p(3.0),)]), id="weighter-zero-stays-zero"),
    pytest.param(lambda c: BinaryRater(outputCol="item").transform(c.df([("u", "a", 1.0)])),
                 Raises(ValueError, "BinaryRater", "outputCol", "item", "already exists"), id="binary-output-exists"),
    pytest.param(lambda c: rows(BinaryRater().transform(c.df([("u", "a", -3.0), ("u", "b", 0.0), ("u", "c", 2.0)])), "item", "binary"),
                 Works("1 where rating > threshold (0.0), else 0", [("a", 0), ("b", 0), ("c", 1)]), id="binary-negative-plays"),
    pytest.param(lambda c: (lambda out: (out.columns, out.count()))(BinaryRater().transform(c.df([]))),
                 Works("an empty input gives an empty output with the new column", (["user", "item", "rating", "binary"], 0)),
                 id="binary-empty"),
    # -- evaluators -----------------------------------------------------------------------------
    pytest.param(lambda c: ROEMEvaluator().evaluate(c.df([("u", "a", 1.0, 0.5)], PREDICTIONS).drop("prediction")),
                 Raises(ValueError, "ROEMEvaluator", "predictionCol", "prediction", "not in"), id="roem-missing-prediction"),
    pytest.param(lambda c: ROEMEvaluator().evaluate(c.df([("u", "a", "1", 0.5)], "user string, item string, rating string, prediction double")),
                 Raises(TypeError, "ROEMEvaluator", "ratingCol", "rating", "must be numeric, found string"), id="roem-string-rating"),
    pytest.param(lambda c: ROEMEvaluator().evaluate(c.df([(None, "a", 1.0, 0.5), ("u", "b", 1.0, 0.2)], PREDICTIONS)),
                 Raises(ValueError, "ROEMEvaluator", "userCol", "user", "1 null value"), id="roem-null-user"),
    pytest.param(lambda c: ROEMEvaluator().evaluate(c.df([("u", "a", NAN, 0.5), ("u", "b", 1.0, 0.2)], PREDICTIONS)),
                 Raises(ValueError, "ROEMEvaluator", "ratingCol", "rating", "1 null or NaN value"), id="roem-nan-rating"),
    pytest.param(lambda c: ROEMEvaluator().evaluate(c.df([("u", "a", -1.0, 0.5), ("u", "b", 1.0, 0.2)], PREDICTIONS)),
                 Raises(ValueError, "ROEMEvaluator", "ratingCol", "rating", "1 negative value"), id="roem-negative-plays"),
    pytest.param(lambda c: ROEMEvaluator().evaluate(c.df([], PREDICTIONS)),
                 Raises(ValueError, "ROEMEvaluator", "predictionCol", "prediction", "no rows to evaluate"), id="roem-empty"),
    pytest.param(lambda c: ROEMEvaluator(nanPredictions="drop").evaluate(
                     c.df([("u", "x", 0.0, 0.9), ("u", "y", 1.0, NAN), ("u", "z", 1.0, 0.1)], PREDICTIONS)),
                 Works("nanPredictions='drop' leaves NaN predictions out", 1.0), id="roem-nan-prediction-dropped"),
    pytest.param(lambda c: ROEMEvaluator().evaluate(c.df([("u", "x", 0.0, 0.9), ("u", "y", 1.0, NAN), ("u", "z", 1.0, 0.1)], PREDICTIONS)),
                 Works("nanPredictions='last' (default) ranks NaN predictions last: (2/2 + 1/2) / 2", 0.75),
                 id="roem-nan-prediction-last"),
    pytest.param(lambda c: RankingMetricsEvaluator(k=0).evaluate(c.df([("u", "a", 1.0, 0.5)], PREDICTIONS)),
                 Raises(ValueError, "RankingMetricsEvaluator", "k", "user", "must be >= 1, found 0"), id="ranking-k-0"),
    pytest.param(lambda c: PrecisionAtKEvaluator(threshold=NAN).evaluate(c.df([("u", "a", 1.0, 0.5)], PREDICTIONS)),
                 Raises(ValueError, "PrecisionAtKEvaluator", "threshold", "rating", "must not be NaN"), id="precision-threshold-nan"),
    pytest.param(lambda c: PrecisionAtKEvaluator().evaluate(c.df([("u", ["a"], 1.0, 0.5)], "user string, item array<string>, rating double, prediction double")),
                 Raises(TypeError, "PrecisionAtKEvaluator", "itemCol", "item", "found array<string>"), id="precision-array-item"),
    pytest.param(lambda c: PrecisionAtKEvaluator().evaluate(c.df([("u", "a", NAN, 0.5)], PREDICTIONS)),
                 Raises(ValueError, "PrecisionAtKEvaluator", "ratingCol", "rating", "1 null or NaN value"), id="precision-nan-rating"),
    pytest.param(lambda c: PrecisionAtKEvaluator(nanPredictions="drop").evaluate(c.df([("u", "a", 1.0, NAN)], PREDICTIONS)),
                 Raises(ValueError, "PrecisionAtKEvaluator", "predictionCol", "prediction", "after dropping NaN"), id="precision-all-nan-predictions"),
    pytest.param(lambda c: PrecisionAtKEvaluator(k=2).evaluate(c.df([("u", "x", 1.0, 0.9), ("u", "x", 1.0, 0.8), ("u", "y", 0.0, 0.1)], PREDICTIONS)),
                 Works("rows are taken as they come: a pair with two rows is ranked twice", 1.0), id="precision-duplicate-pairs"),
    # -- PerUserFolds, train_test_split_per_user ------------------------------------------------
    pytest.param(lambda c: PerUserFolds(itemCol="song").transform(c.df([("u", "a", 1.0)])),
                 Raises(ValueError, "PerUserFolds", "itemCol", "song", "not in"), id="folds-missing-item"),
    pytest.param(lambda c: PerUserFolds().transform(c.df([(["u"], "a")], "user array<string>, item string")),
                 Raises(TypeError, "PerUserFolds", "userCol", "user", "found array<string>"), id="folds-array-user"),
    pytest.param(lambda c: PerUserFolds(numFolds=1).transform(c.df([("u", "a", 1.0)])),
                 Raises(ValueError, "PerUserFolds", "numFolds", "user", "must be >= 2, found 1"), id="folds-one-fold"),
    pytest.param(lambda c: rows(PerUserFolds(numFolds=2).transform(c.df([("u", "a", 1.0), ("u", "a", 2.0), (None, "b", 3.0)])), "user", "item", "rating"),
                 Works("every row gets one fold: duplicates and null users too", [("u", "a", 1.0), ("u", "a", 2.0), (None, "b", 3.0)]),
                 id="folds-duplicates-and-null-user"),
    pytest.param(lambda c: train_test_split_per_user(c.df([("u", "a", 1.0)]), testFraction=NAN),
                 Raises(ValueError, "train_test_split_per_user", "testFraction", "user", r"must be in \[0, 1\), found nan"), id="split-fraction-nan"),
    pytest.param(lambda c: train_test_split_per_user(c.df([("u", "a", 1.0)]), userCol="listener"),
                 Raises(ValueError, "train_test_split_per_user", "userCol", "listener", "not in"), id="split-missing-user"),
    pytest.param(lambda c: sorted(rows(part) for part in train_test_split_per_user(c.df([("u", "a", 1.0), ("u", "a", 2.0), ("u", "b", 3.0)]), testFraction=0.5)),
                 Works("every row lands in train or test once, a pair's rows on one side",
                       [[("u", "a", 1.0), ("u", "a", 2.0)], [("u", "b", 3.0)]]),
                 id="split-duplicates"),
    # -- ImplicitALS ----------------------------------------------------------------------------
    pytest.param(lambda c: ImplicitALS(maxIter=1).fit(c.df([(2**40, 1, 1.0), (1, 2, 1.0)], "user bigint, item bigint, rating double")),
                 Raises(ValueError, "ImplicitALS", "userCol", "user", r"not integers in Int range .*IdIndexer"), id="als-ids-beyond-int-range"),
    pytest.param(lambda c: ImplicitALS(maxIter=1).fit(c.df([(1, 1.5, 1.0)], "user int, item double, rating double")),
                 Raises(ValueError, "ImplicitALS", "itemCol", "item", r"not integers .*from 1\.5"), id="als-fractional-ids"),
    pytest.param(lambda c: ImplicitALS(maxIter=1).fit(c.df([("u", 1, 1.0)], "user string, item int, rating double")),
                 Raises(TypeError, "ImplicitALS", "userCol", "user", "must be numeric .*found string"), id="als-string-ids"),
    pytest.param(lambda c: ImplicitALS(maxIter=1).fit(c.df([(None, 1, 1.0), (1, 1, 1.0)], "user int, item int, rating double")),
                 Raises(ValueError, "ImplicitALS", "userCol", "user", "1 null id"), id="als-null-id"),
    pytest.param(lambda c: ImplicitALS(maxIter=1).fit(c.df([(0, 1, None), (1, 1, 1.0)], "user int, item int, rating double")),
                 Raises(ValueError, "ImplicitALS", "ratingCol", "rating", "1 null or NaN"), id="als-null-rating"),
    pytest.param(lambda c: ImplicitALS(maxIter=1).fit(c.df([(0, 1, "2")], "user int, item int, rating string")),
                 Raises(TypeError, "ImplicitALS", "ratingCol", "rating", "must be numeric, found string"), id="als-string-rating"),
    pytest.param(lambda c: ImplicitALS(maxIter=1).fit(c.df([], "user int, item int, rating double")),
                 Raises(ValueError, "ImplicitALS", "itemCol", "item", "the input DataFrame is empty"), id="als-empty"),
    pytest.param(negative_plays_keep_their_user,
                 Works("negative ratings are kept (confidence alpha * |r|)", [(0,), (1,), (2,)]), id="als-negative-plays"),
    # -- UnseenItemRanker / UnseenItemRankerModel -----------------------------------------------
    pytest.param(lambda c: UnseenItemRanker(maxIter=1).fit(c.df([("u", 1, 1.0)], "user string, item int, rating double")),
                 Raises(TypeError, "UnseenItemRanker", "userCol", "user", "must be numeric .*IdIndexer.*found string"), id="ranker-string-ids"),
    pytest.param(lambda c: UnseenItemRanker(maxIter=1).fit(c.df([(2**40, 1, 1.0), (1, 2, 1.0)], "user bigint, item bigint, rating double")),
                 Raises(ValueError, "UnseenItemRanker", "userCol", "user", r"not integers in Int range"), id="ranker-ids-beyond-int-range"),
    pytest.param(lambda c: UnseenItemRanker(maxIter=1).fit(c.df([(0, 1, None), (1, 1, 1.0)], "user int, item int, rating double")),
                 Raises(ValueError, "UnseenItemRanker", "ratingCol", "rating", "1 null or NaN"), id="ranker-null-rating"),
    pytest.param(lambda c: c.ranker().transform(c.indexed().withColumn("rank", F.lit(1))),
                 Raises(ValueError, "UnseenItemRankerModel", "rankCol", "rank", "already exists"), id="ranker-model-output-exists"),
    pytest.param(lambda c: c.ranker().transform(c.plays.withColumnRenamed("user", "user_idx").withColumnRenamed("item", "item_idx")),
                 Raises(TypeError, "UnseenItemRankerModel", "userCol", "user_idx", "must be numeric"), id="ranker-model-string-ids"),
    pytest.param(lambda c: UnseenItemRankerModel.fromFitted(c.pipeline.stages[1], c.indexed().drop("item_idx")),
                 Raises(ValueError, "UnseenItemRankerModel", "itemCol", "item_idx", "not in"), id="ranker-from-fitted-missing-item"),
    # -- PopularityRecommender / PopularityModel ------------------------------------------------
    pytest.param(lambda c: PopularityRecommender().fit(c.df([("u", 1, 1.0)], "user string, item int, rating double")),
                 Raises(TypeError, "PopularityRecommender", "userCol", "user", "must be numeric .*found string"), id="popularity-string-ids"),
    pytest.param(lambda c: PopularityRecommender(weighting="sum").fit(c.df([(0, 1, 1.0)], "user int, item int, rating string")),
                 Raises(TypeError, "PopularityRecommender", "ratingCol", "rating", "must be numeric, found string"), id="popularity-string-rating"),
    pytest.param(lambda c: PopularityRecommender().fit(c.df([(0, 1, 1.0)], "user int, item int, rating double")).transform(
                     c.df([(0, 1, 1.0)], "user int, item int, prediction double")),
                 Raises(ValueError, "PopularityModel", "predictionCol", "prediction", "already exists"), id="popularity-model-output-exists"),
    pytest.param(lambda c: PopularityRecommender().fit(c.df([(0, 1, 1.0)], "user int, item int, rating double")).transform(
                     c.df([(0, "a", 1.0)], "user int, item string, rating double")),
                 Raises(TypeError, "PopularityModel", "itemCol", "item", "must be numeric, found string"), id="popularity-model-string-item"),
    # -- time-aware splits and cold users -------------------------------------------------------
    pytest.param(lambda c: time_split(c.df([("u", "a", 1.0, 3)], RATINGS + ", t long"), "t", cutoff="noon"),
                 Raises(ValueError, "time_split", "cutoff", "t", "must be a number"), id="time-split-bad-cutoff"),
    pytest.param(lambda c: last_n_split_per_user(c.df([("u", "a", 1.0, None)], RATINGS + ", t long"), timestampCol="t"),
                 Raises(ValueError, "last_n_split_per_user", "timestampCol", "t", r"1 null time"), id="last-n-null-time"),
    pytest.param(lambda c: time_ratio_split_per_user(c.df([("u", "a", 1.0)]), timestampCol="ts"),
                 Raises(ValueError, "time_ratio_split_per_user", "timestampCol", "ts", "not in"), id="time-ratio-missing-time"),
    pytest.param(lambda c: cold_user_split(c.df([("u", "a", 1.0)]), testFraction=1.0),
                 Raises(ValueError, "cold_user_split", "testFraction", "user", r"must be in \[0, 1\)"), id="cold-user-fraction"),
    pytest.param(lambda c: UserFolds(numFolds=1).transform(c.df([("u", "a", 1.0)])),
                 Raises(ValueError, "UserFolds", "numFolds", "user", "must be >= 2"), id="user-folds-one-fold"),
    # -- beyond-accuracy metrics ----------------------------------------------------------------
    pytest.param(lambda c: beyond_accuracy_metrics(c.df([("u", "a", 1.0)]).withColumn("rank", F.lit(1)),
                                                   c.df([("u", "b", 1.0)]), k=3),
                 Raises(ValueError, "beyond_accuracy_metrics", "itemCol", "item", r"\['a'\] .*not in train"),
                 id="beyond-accuracy-item-not-in-train"),
    # -- the bias baseline ----------------------------------------------------------------------
    pytest.param(lambda c: fit_biases(c.df([("u", "a", 1.0), ("v", "a", NAN)])),
                 Raises(ValueError, "fit_biases", "ratingCol", "rating", "1 null or NaN"), id="biases-nan-rating"),
    pytest.param(lambda c: fit_biases(c.df([("u", "a", 1.0)]), userCol="who"),
                 Raises(ValueError, "fit_biases", "userCol", "who", "not in"), id="biases-missing-user"),
    # -- recommend_for_users --------------------------------------------------------------------
    pytest.param(lambda c: recommend_for_users(c.pipeline, ["jane"], n=0, rated=c.plays),
                 Raises(ValueError, "recommend_for_users", "n", "user", "must be >= 1, found 0"), id="recommend-n-0"),
    pytest.param(lambda c: recommend_for_users(c.pipeline, ["zed", "jane"], n=1, rated=c.plays),
                 Raises(ValueError, "recommend_for_users", "userCol", "user", r"users \['zed'\] are not known"), id="recommend-unknown-user"),
    pytest.param(lambda c: recommend_for_users(c.pipeline, ["jane"], n=1, rated=c.plays.drop("item")),
                 Raises(ValueError, "recommend_for_users", "rated", "item", "not in"), id="recommend-rated-missing-item"),
    pytest.param(lambda c: recommend_for_users(c.pipeline, c.df([(1,)], "user bigint"), n=1, rated=c.plays),
                 Raises(TypeError, "recommend_for_users", "userCol", "user", "has type bigint, but .* ids are string"), id="recommend-users-wrong-type"),
    # -- similar_items / similar_users -----------------------------------------------------------
    pytest.param(lambda c: similar_items(c.pipeline, ["a"], n=0),
                 Raises(ValueError, "similar_items", "n", "item", "must be >= 1, found 0"), id="similar-n-0"),
    pytest.param(lambda c: similar_items(c.pipeline, ["a", "zz"]),
                 Raises(ValueError, "similar_items", "itemCol", "item", r"items \['zz'\] are not known"), id="similar-unknown-item"),
    pytest.param(lambda c: similar_items(c.pipeline, ["a"], metric="euclidean"),
                 Raises(ValueError, "similar_items", "metric", "euclidean", r"cosine.*dot"), id="similar-unknown-metric"),
    pytest.param(lambda c: similar_items(c.pipeline, ["a"], candidates=c.df([("b", "x", 1.0)]).drop("item")),
                 Raises(ValueError, "similar_items", "candidates", "item", "not in"), id="similar-candidates-missing-column"),
    pytest.param(lambda c: similar_items(c.pipeline, ["a"], candidates=c.df([("u", "b", 1.0), ("u", "q", 1.0)]).select("item")),
                 Raises(ValueError, "similar_items", "itemCol", "item", r"candidates \['q'\] are not in the catalogue"), id="similar-unknown-candidate"),
    pytest.param(lambda c: similar_items(c.pipeline, c.df([(1,)], "item bigint")),
                 Raises(TypeError, "similar_items", "itemCol", "item", "has type bigint, but .* ids are string"), id="similar-items-wrong-type"),
    pytest.param(lambda c: similar_users(c.pipeline, ["jane"], n=1, metric="dot").count(),
                 Works("a user's neighbours: every other user, itself left out", 1), id="similar-users-works"),
    pytest.param(lambda c: similar_users(PopularityRecommender().fit(c.df([(0, 1, 1.0)], "user int, item int, rating double"))),
                 Raises(ValueError, "similar_users", "PopularityModel", "user", "no similarity", quoted=False), id="similar-popularity"),
    # -- fold_in --------------------------------------------------------------------------------
    pytest.param(lambda c: fold_in(c.pipeline, c.df([("new", "a", 1.0)])),
                 Raises(ValueError, "fold_in", "regParam", "ALSModel", "does not remember", quoted=False), id="fold-in-params-unknown"),
    pytest.param(lambda c: fold_in(c.pipeline, c.df([("new", "a", 1.0), ("new", "zz", 1.0)]), **FOLD),
                 Raises(ValueError, "fold_in", "itemCol", "item", r"1 row.*no factors for, e.g. \['zz'\]"), id="fold-in-unknown-item"),
    pytest.param(lambda c: fold_in(c.pipeline, c.df([("new", "a", float("nan"))]), **FOLD),
                 Raises(ValueError, "fold_in", "ratingCol", "rating", "1 null or NaN"), id="fold-in-nan-rating"),
    pytest.param(lambda c: fold_in(c.pipeline, c.df([("new", "a", 1.0)]), **{**FOLD, "alpha": -1.0}),
                 Raises(ValueError, "fold_in", "alpha", "alpha", "must be >= 0", quoted=False), id="fold-in-negative-alpha"),
    pytest.param(lambda c: [r.user for r in fold_in(c.pipeline, c.df([("new", "a", 1.0), ("new", "zz", 1.0)]),
                                                    unknownItems="skip", **FOLD).collect()],
                 Works("unknownItems='skip' leaves the unknown item's row out, as asked", ["new"]), id="fold-in-skip"),
    # -- loaders and helpers --------------------------------------------------------------------
    pytest.param(lambda c: load_movielens(c.spark, os.path.dirname(c.file("ml-header/ratings.csv", "u1\ts1\t3\n"))),
                 Raises(ValueError, "load_movielens", "ratings.csv", "userId,movieId,rating,timestamp", "must start with the header"),
                 id="movielens-not-a-ratings-file"),
    pytest.param(lambda c: load_movielens(c.spark, os.path.dirname(c.file("ml-text/ratings.csv", "userId,movieId,rating,timestamp\n1,2,good,3\n"))),
                 Raises(ValueError, "load_movielens", "ratings.csv", "fields userId,movieId,rating,timestamp", "do not parse", quoted=False), id="movielens-text-rating"),
    pytest.param(lambda c: load_movielens_100k(c.spark, os.path.dirname(c.file("ml-100k-commas/u.data", "1,2,3,4\n"))),
                 Raises(ValueError, "load_movielens_100k", "u.data", "1,2,3,4", "do not parse"), id="movielens-100k-commas"),
    pytest.param(lambda c: load_taste_profile(c.spark, c.file("neg.txt", "u1\ts1\t3\nu1\ts2\t-4\n")),
                 Raises(ValueError, "load_taste_profile", "triplets file", "plays", "negative in 1 of 2 lines"), id="taste-negative-plays"),
    pytest.param(lambda c: load_taste_profile(c.spark, c.file("plays.csv", "user,song,plays\nu1,s1,3\n")),
                 Raises(ValueError, "load_taste_profile", "triplets file", "fields user,song,plays", "do not parse", quoted=False), id="taste-given-a-csv"),
    pytest.param(lambda c: load_interactions(c.spark, c.file("a.csv", "user,item,plays\nu,a,1\n")),
                 Raises(ValueError, "load_interactions", "rating", "rating", r"not in \[user, item, plays\]"), id="interactions-missing-rating"),
    pytest.param(lambda c: load_interactions(c.spark, c.file("b.csv", "user,item,rating\nu,a,lots\n")),
                 Raises(ValueError, "load_interactions", "rating", "rating", "is not numeric in 1 of 1 rows"), id="interactions-text-rating"),
    pytest.param(lambda c: load_interactions(c.spark, c.file("c.csv", "user,item,rating\n")),
                 Raises(ValueError, "load_interactions", "sep", "c.csv'", "has no rows", quoted=False), id="interactions-empty"),
    pytest.param(lambda c: load_interactions(c.spark, c.file("csv-inside.parquet", "user,item,rating\nu,a,1\n")),
                 Raises(ValueError, "load_interactions", "format", "csv-inside.parquet'", "does not read as Parquet", quoted=False), id="interactions-parquet-that-is-csv"),
    pytest.param(lambda c: wide_to_long(c.df([("u", "5")], "user string, Jaws string"), userCol="user"),
                 Raises(TypeError, "wide_to_long", "itemCols", "Jaws", "must be numeric, found string"), id="wide-to-long-text-rating"),
    pytest.param(lambda c: interaction_stats(c.df([(None, "a", 1.0)])),
                 Raises(ValueError, "interaction_stats", "userCol", "user", "null in 1 of 1 rows"), id="stats-null-user"),
    pytest.param(lambda c: interaction_stats(c.df([])),
                 Raises(ValueError, "interaction_stats", "itemCol", "item", "the input DataFrame is empty"), id="stats-empty"),
    pytest.param(lambda c: (lambda s: (s["rows"], s["users"], s["items"]))(interaction_stats(c.df([("u", "a", 1.0), ("u", "a", 2.0)]))),
                 Works("rows are counted as they are: a repeated pair counts twice", (2, 1, 1)), id="stats-duplicates"),
    # -- the spark-recs command -----------------------------------------------------------------
    pytest.param(lambda c: ["stats", "--input", c.file("cli1.csv", "user,item,rating\nu,a,1\n"), "--user-col", "listener"],
                 Exits(stage="load_interactions", param="user", column="listener", found="not in"), id="cli-stats-missing-user-col"),
    pytest.param(lambda c: ["stats", "--input", c.file("cli2.csv", "user,item,rating\nu,a,many\n")],
                 Exits(stage="load_interactions", param="rating", column="rating", found="not numeric"), id="cli-stats-text-rating"),
    pytest.param(lambda c: ["tune", "--input", c.file("cli3.csv", "user,item,rating\n,a,1\nu,b,2\n"), "--out", str(c.tmp / "out3")],
                 Exits(stage="load_interactions", param="user", column="user", found=r"empty \(null\) in 1 of 2"), id="cli-tune-null-user"),
    pytest.param(lambda c: ["stats", "--loader", "taste-profile", "--input", c.file("cli4.txt", "u\ts\t-1\n")],
                 Exits(stage="load_taste_profile", param="triplets file", column="plays", found="negative"), id="cli-stats-negative-plays"),
    pytest.param(lambda c: ["tune", "--input", c.file("cli5.csv", "user,item,rating\nu,a,1\n"), "--feedback", "binary",
                            "--threshold", "nan", "--out", str(c.tmp / "out5")],
                 RefusesOption("--threshold", "must be a finite number, found nan"), id="cli-tune-threshold-nan"),
    pytest.param(lambda c: ["tune", "--input", c.file("cli6.csv", "user,item,rating\nu,a,1\n"), "--k", "0", "--out", str(c.tmp / "out6")],
                 RefusesOption("--k", "found 0"), id="cli-tune-k-zero"),
    pytest.param(lambda c: ["similar", "--model", str(c.tmp / "model"), "--items", "zz"],
                 Exits(stage="similar_items", param="itemCol", column="item", found=r"\['zz'\] are not known"), id="cli-similar-unknown-item"),
    pytest.param(lambda c: ["recommend", "--model", str(c.tmp / "model"), "--users", "zed", "--keep-rated"],
                 Exits(stage="recommend_for_users", param="userCol", column="user", found=r"\['zed'\] are not known"), id="cli-recommend-unknown-user"),
]


@pytest.mark.parametrize("action, expect", CASES)
def test_bad_input(ctx, capsys, action, expect):
    if isinstance(expect, Works):
        assert action(ctx) == expect.expected, expect.rule
    elif isinstance(expect, (Exits, RefusesOption)):
        argv = action(ctx)
        capsys.readouterr()
        assert main(argv) == 2
        lines = capsys.readouterr().err.strip().splitlines()
        assert len(lines) == 1, lines
        assert lines[0].startswith("spark-recs: error: "), lines
        assert re.search(expect.pattern(), lines[0][len("spark-recs: error: "):]), lines[0]
    else:
        with pytest.raises(expect.error, match=expect.pattern()):
            action(ctx)


def test_the_table_covers_every_public_name_and_command():
    """Every public stage, evaluator, loader and helper that reads a DataFrame or a file has
    error rows in the table, and so has every command that reads input (demo reads none;
    synthetic_ratings and download_movielens read neither: see test_datasets; the exception
    WorkerEnvironmentError: see test_workers; the warning class AllRowsRelevantWarning: see
    test_evaluation)."""
    import spark_recs

    expects = [case.values[1] for case in CASES]
    stages = {e.stage for e in expects if isinstance(e, Raises)}
    names = set(spark_recs.__all__) - {
        "__version__", "synthetic_ratings", "download_movielens", "WorkerEnvironmentError", "AllRowsRelevantWarning"
    }
    assert names <= stages | {"IdIndexerModel"} and "IdIndexerModel" in stages
    commands = {case.values[0].__code__.co_consts for case in CASES
                if isinstance(case.values[1], (Exits, RefusesOption))}
    assert {"stats", "tune", "recommend", "similar"} <= {c for consts in commands for c in consts}
    assert len(CASES) >= 40 and sum(isinstance(e, Works) for e in expects) >= 10
