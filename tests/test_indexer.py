"""IdIndexer / IdIndexerModel: expected indices next to the input, bad input, decode, persistence."""

import datetime
import decimal
import os
import random
from collections import Counter

import pytest
from pyspark.ml import Pipeline, PipelineModel
from pyspark.ml.recommendation import ALS
from pyspark.sql import functions as F
from pyspark.sql.types import IntegerType
from pyspark.testing import assertDataFrameEqual

from spark_recs import IdIndexer, IdIndexerModel


@pytest.fixture
def plays(spark):
    # user, song, expected user index, expected song index (frequencyDesc, ties by value)
    rows = [
        ("ann", "s2", 0, 0),
        ("ann", "s1", 0, 1),
        ("bob", "s2", 1, 0),
        ("cy", "s2", 2, 0),
        ("bob", "s3", 1, 2),
        ("ann", "s3", 0, 2),
        ("dee", "s1", 3, 1),
    ]
    return spark.createDataFrame(rows, "user string, song string, exp_user int, exp_song int")


def reference_vocabulary(values, order="frequencyDesc"):
    """Plain-Python reference: value -> index under the documented order."""
    counts = Counter(values)
    key = {
        "frequencyDesc": lambda v: (-counts[v], v),
        "frequencyAsc": lambda v: (counts[v], v),
        "valueAsc": lambda v: v,
    }[order]
    return {v: i for i, v in enumerate(sorted(counts, key=key))}


def test_indices_match_expected_column(plays):
    model = IdIndexer(inputCols=["user", "song"], outputCols=["user_idx", "song_idx"]).fit(plays)
    out = model.transform(plays)
    assert out.columns == ["user", "song", "exp_user", "exp_song", "user_idx", "song_idx"]
    assert out.schema["user_idx"].dataType == IntegerType()
    assert out.schema["song_idx"].dataType == IntegerType()
    assertDataFrameEqual(
        out.select("user", "song", "user_idx", "song_idx"),
        plays.select("user", "song", F.col("exp_user").alias("user_idx"), F.col("exp_song").alias("song_idx")),
    )
    assert model.vocabularySizes == [4, 3]


def test_single_column_and_counts(plays):
    model = IdIndexer(inputCol="song", outputCol="song_idx").fit(plays)
    vocab = model.vocabularies[0]
    assert vocab.columns == ["value", "index", "count"]
    assertDataFrameEqual(vocab, [("s2", 0, 3), ("s1", 1, 2), ("s3", 2, 2)], checkRowOrder=False)


@pytest.mark.parametrize(
    "order, expected",
    [
        ("frequencyDesc", {"b": 0, "a": 1, "c": 2}),
        ("frequencyAsc", {"c": 0, "a": 1, "b": 2}),
        ("valueAsc", {"a": 0, "b": 1, "c": 2}),
        ("valueDesc", {"c": 0, "b": 1, "a": 2}),
    ],
)
def test_order_types(spark, order, expected):
    # counts: b 3, a 2, c 1
    df = spark.createDataFrame([(v,) for v in "bbbaac"], ["id"])
    model = IdIndexer(inputCol="id", outputCol="idx", orderType=order).fit(df)
    got = {r["value"]: r["index"] for r in model.vocabularies[0].collect()}
    assert got == expected


@pytest.mark.parametrize(
    "ddl, values",
    [
        ("bigint", [2**40, 7, 2**40, -3]),
        ("int", [10, 5, 10, 99]),
        ("decimal(20,2)", [decimal.Decimal("1.50"), decimal.Decimal("2.00"), decimal.Decimal("1.50")]),
        ("date", [datetime.date(2024, 1, 1), datetime.date(2023, 5, 2), datetime.date(2024, 1, 1)]),
        ("string", ["ü-ñ", "a" * 5000, "ü-ñ", ""]),
    ],
)
def test_atomic_types_round_trip(spark, ddl, values):
    df = spark.createDataFrame([(v,) for v in values], f"id {ddl}")
    model = IdIndexer(inputCol="id", outputCol="idx").fit(df)
    assert model.vocabularies[0].schema["value"].dataType == df.schema["id"].dataType
    out = model.transform(df)
    expected = reference_vocabulary(values)
    assert {r["id"]: r["idx"] for r in out.collect()} == expected
    back = model.decode(out.drop("id"))
    assert back.schema["id"].dataType == df.schema["id"].dataType
    assertDataFrameEqual(back.select("id"), df)


@pytest.fixture
def many_partitions(spark):
    """Sorts spread over several partitions, AQE off so none are coalesced."""
    old = {k: spark.conf.get(k) for k in ("spark.sql.shuffle.partitions", "spark.sql.adaptive.enabled")}
    spark.conf.set("spark.sql.shuffle.partitions", "7")
    spark.conf.set("spark.sql.adaptive.enabled", "false")
    yield
    for k, v in old.items():
        spark.conf.set(k, v)


def test_deterministic_whatever_the_partitioning(spark, many_partitions):
    rng = random.Random(3)
    values = [f"u{rng.randint(0, 300)}" for _ in range(3000)]
    df = spark.createDataFrame([(v,) for v in values], ["id"])
    expected = reference_vocabulary(values)
    vocabularies = []
    for parts in (1, 7):
        model = IdIndexer(inputCol="id", outputCol="idx").fit(df.repartition(parts))
        got = {r["value"]: r["index"] for r in model.vocabularies[0].collect()}
        assert got == expected
        vocabularies.append(model.vocabularies[0])
    assertDataFrameEqual(vocabularies[0], vocabularies[1])


def test_indices_dense_over_many_partitions(spark, many_partitions):
    df = spark.range(0, 20000).select((F.col("id") * 7919 % 10007).alias("id"))
    model = IdIndexer(inputCol="id", outputCol="idx", orderType="valueAsc").fit(df)
    row = model.vocabularies[0].agg(
        F.min("index").alias("lo"), F.max("index").alias("hi"), F.count_distinct("index").alias("n"),
        F.count("*").alias("rows"), F.sum(F.when(F.col("index") == F.col("value"), 1).otherwise(0)).alias("same"),
    ).first()
    # the ids are 0..10006, so in value order each index equals its id
    assert (row.lo, row.hi, row.n, row.rows, row.same) == (0, 10006, 10007, 10007, 10007)


# -- handleInvalid at transform time ---------------------------------------------------------


@pytest.fixture
def fitted(plays):
    return IdIndexer(inputCols=["user", "song"], outputCols=["user_idx", "song_idx"]).fit(plays)


@pytest.fixture
def unseen(spark):
    return spark.createDataFrame(
        [("ann", "s1"), ("zed", "s1"), ("zed", "s2"), ("yan", "s9"), (None, "s2")], "user string, song string"
    )


def test_unseen_error_names_column_counts_examples(fitted, unseen):
    with pytest.raises(
        ValueError,
        match=r"IdIndexerModel: inputCols 'user' has 3 row\(s\) with 2 id\(s\) unseen at fit time "
        r"\(e\.g\. \['yan', 'zed'\]\) and 1 null id\(s\); set handleInvalid='skip'",
    ):
        fitted.transform(unseen)


def test_unseen_skip_drops_exactly_invalid_rows(fitted, unseen):
    out = fitted.setHandleInvalid("skip").transform(unseen)
    assertDataFrameEqual(out, [("ann", "s1", 0, 1)], checkRowOrder=False)


def test_unseen_keep_gives_index_n(fitted, unseen):
    out = fitted.setHandleInvalid("keep").transform(unseen)
    # 4 users and 3 songs were fitted: unseen and null ids get 4 and 3
    expected = [("ann", "s1", 0, 1), ("zed", "s1", 4, 1), ("zed", "s2", 4, 0), ("yan", "s9", 4, 3),
                (None, "s2", 4, 0)]
    assertDataFrameEqual(out, expected, checkRowOrder=False)
    assert out.count() == unseen.count()
    back = fitted.decode(out.drop("user", "song"))
    assertDataFrameEqual(back, [("ann", "s1"), (None, "s1"), (None, "s2"), (None, None), (None, "s2")],
                         checkRowOrder=False)


def test_keep_reaches_als_cold_start(fitted, plays, unseen):
    indexed = fitted.transform(plays).withColumn("rating", F.lit(1.0))
    als = ALS(userCol="user_idx", itemCol="song_idx", rank=2, maxIter=2, seed=1, numUserBlocks=1, numItemBlocks=1,
              coldStartStrategy="drop").fit(indexed)
    scored = als.transform(fitted.setHandleInvalid("keep").transform(unseen))
    assert [(r.user, r.song) for r in scored.collect()] == [("ann", "s1")]


def test_integral_types_may_differ_between_fit_and_transform(spark):
    model = IdIndexer(inputCol="id", outputCol="idx").fit(spark.createDataFrame([(5,), (5,), (9,)], "id int"))
    out = model.transform(spark.createDataFrame([(9,), (5,)], "id bigint"))
    assertDataFrameEqual(out, [(9, 1), (5, 0)], checkRowOrder=False)


# -- bad input -------------------------------------------------------------------------------


def test_fit_null_ids(spark):
    df = spark.createDataFrame([("a",), (None,), (None,)], "user string")
    with pytest.raises(ValueError, match=r"IdIndexer: inputCol 'user' has 2 null value\(s\)"):
        IdIndexer(inputCol="user", outputCol="u").fit(df)


def test_fit_empty(spark):
    df = spark.createDataFrame([], "user string")
    with pytest.raises(ValueError, match=r"IdIndexer: inputCol 'user': the input DataFrame is empty"):
        IdIndexer(inputCol="user", outputCol="u").fit(df)


def test_fit_missing_column(plays):
    with pytest.raises(ValueError, match=r"IdIndexer: inputCols 'item' not in \[user, song, exp_user, exp_song\]"):
        IdIndexer(inputCols=["user", "item"], outputCols=["u", "i"]).fit(plays)


@pytest.mark.parametrize("ddl", ["array<string>", "map<string,int>", "struct<a:int>"])
def test_fit_non_atomic_id(spark, ddl):
    df = spark.createDataFrame([], f"user {ddl}")
    with pytest.raises(TypeError, match=r"IdIndexer: inputCol 'user' must be an atomic type .* found "):
        IdIndexer(inputCol="user", outputCol="u").fit(df)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({}, r"IdIndexer: set inputCol \(with outputCol\) or inputCols \(with outputCols\)"),
        ({"inputCol": "user", "inputCols": ["user"]}, r"IdIndexer: set inputCol or inputCols, not both"),
        ({"inputCols": ["user"]}, r"IdIndexer: inputCols is set, so outputCols must be set too"),
        ({"inputCols": ["user", "song"], "outputCols": ["u"]}, r"same, non-zero length, found 2 and 1"),
        ({"inputCols": ["user", "user"], "outputCols": ["u", "v"]}, r"IdIndexer: inputCols repeat \['user'\]"),
        ({"inputCols": ["user", "song"], "outputCols": ["u", "u"]}, r"IdIndexer: outputCols repeat \['u'\]"),
        ({"inputCols": ["user", "song"], "outputCols": ["song", "x"]}, r"outputCols \['song'\] are also inputCols"),
        ({"inputCol": "user", "outputCol": "u", "handleInvalid": "drop"}, r"IdIndexer: handleInvalid must be one of \['error', 'skip', 'keep'\], found 'drop'"),
        ({"inputCol": "user", "outputCol": "u", "orderType": "random"}, r"IdIndexer: orderType must be one of"),
    ],
)
def test_bad_params(plays, kwargs, message):
    with pytest.raises(ValueError, match=message):
        IdIndexer(**kwargs).fit(plays)


def test_transform_output_exists(fitted, plays):
    with pytest.raises(ValueError, match=r"IdIndexerModel: outputCols 'user_idx' already exists in \[user, song, user_idx\]"):
        fitted.transform(plays.select("user", "song", F.lit(1).alias("user_idx")))


def test_transform_wrong_type(fitted, spark):
    df = spark.createDataFrame([(1, "s1")], "user int, song string")
    with pytest.raises(TypeError, match=r"IdIndexerModel: inputCols 'user' has type int but the model was fit on string"):
        fitted.transform(df)


def test_transform_missing_column(fitted, spark):
    with pytest.raises(ValueError, match=r"IdIndexerModel: inputCols 'song' not in \[user\]"):
        fitted.transform(spark.createDataFrame([("ann",)], ["user"]))


def test_unfitted_model():
    with pytest.raises(ValueError, match=r"IdIndexerModel: the model has no vocabulary"):
        IdIndexerModel().setInputCol("a").setOutputCol("b").transform(None)


# -- decode ----------------------------------------------------------------------------------


def test_decode_scalar_round_trip(fitted, plays):
    indexed = fitted.transform(plays).select("user_idx", "exp_song", "song_idx")
    back = fitted.decode(indexed)
    assert back.columns == ["user", "exp_song", "song"]
    assertDataFrameEqual(back, plays.select("user", "exp_song", "song"))


def test_decode_recommendations_keeps_order_types_and_empties(fitted, spark):
    # user index 1 is bob; song indices 0 s2, 1 s1, 2 s3
    recs = spark.createDataFrame(
        [(1, [(2, 0.9), (0, 0.5), (1, 0.1)]), (3, []), (0, None), (None, [(1, 0.3)])],
        "user_idx int, recommendations array<struct<song_idx: int, rating: float>>",
    )
    out = fitted.decode(recs)
    assert out.schema.simpleString() == "struct<user:string,recommendations:array<struct<song:string,rating:float>>>"
    got = {r["user"]: [(x["song"], round(x["rating"], 4)) for x in r["recommendations"]] if r["recommendations"] is not None else None
           for r in out.collect()}
    assert got == {"bob": [("s3", 0.9), ("s2", 0.5), ("s1", 0.1)], "dee": [], "ann": None, None: [("s1", 0.3)]}


def test_decode_als_recommend_for_user_subset(fitted, plays):
    indexed = fitted.transform(plays).withColumn("rating", F.lit(1.0))
    als = ALS(userCol="user_idx", itemCol="song_idx", rank=2, maxIter=2, seed=1, numUserBlocks=1, numItemBlocks=1)
    als_model = als.fit(indexed)
    recs = fitted.decode(als_model.recommendForUserSubset(indexed.where("user = 'ann'"), 3))
    row = recs.first()
    assert row["user"] == "ann"
    assert sorted(x["song"] for x in row["recommendations"]) == ["s1", "s2", "s3"]
    scores = [x["rating"] for x in row["recommendations"]]
    assert scores == sorted(scores, reverse=True)
    items = fitted.decode(als_model.recommendForAllItems(2))
    assert sorted(r["song"] for r in items.collect()) == ["s1", "s2", "s3"]


def test_decode_out_of_range(fitted, spark):
    df = spark.createDataFrame([(0,), (5,)], "user_idx int")
    with pytest.raises(ValueError, match=r"IdIndexerModel.decode: outputCols 'user_idx' has indices outside \[0, 4\]: found min 0, max 5"):
        fitted.decode(df)
    nested = spark.createDataFrame([([(-1, 1.0)],)], "recs array<struct<song_idx: int, rating: float>>")
    with pytest.raises(ValueError, match=r"outputCols 'recs.song_idx' has indices outside \[0, 3\]: found min -1"):
        fitted.decode(nested)


def test_decode_nothing_to_decode(fitted, spark):
    with pytest.raises(ValueError, match=r"IdIndexerModel.decode: no column to decode: expected a column named one of \['user_idx', 'song_idx'\]"):
        fitted.decode(spark.createDataFrame([(1,)], ["x"]))


def test_decode_would_overwrite(fitted, plays):
    with pytest.raises(ValueError, match=r"decoding 'user_idx' would overwrite existing column 'user'"):
        fitted.decode(fitted.transform(plays))


def test_decode_wrong_type(fitted, spark):
    with pytest.raises(TypeError, match=r"IdIndexerModel.decode: outputCols 'user_idx' must be integral to decode, found string"):
        fitted.decode(spark.createDataFrame([("1",)], ["user_idx"]))


# -- columns and vocabularies by output column ----------------------------------------------


def test_columns_and_vocabulary_of_each_output(fitted, plays):
    assert fitted.inputColumns == ["user", "song"]
    assert fitted.outputColumns == ["user_idx", "song_idx"]
    for name, expected_col, exp in [("user_idx", "user", "exp_user"), ("song_idx", "song", "exp_song")]:
        column, vocabulary = fitted.vocabularyOf(name)
        assert column == expected_col
        assert vocabulary.columns == ["value", "index", "count"]
        expected = plays.groupBy(F.col(expected_col).alias("value"), F.col(exp).alias("index")).count()
        assertDataFrameEqual(vocabulary, expected, checkRowOrder=False)


def test_single_column_model_columns(plays):
    model = IdIndexer(inputCol="song", outputCol="song_idx").fit(plays)
    assert (model.inputColumns, model.outputColumns) == (["song"], ["song_idx"])
    assert model.vocabularyOf("song_idx")[0] == "song"
    with pytest.raises(ValueError, match=r"^IdIndexerModel: outputCol 'user_idx' not in \[song_idx\]$"):
        model.vocabularyOf("user_idx")


@pytest.mark.parametrize("name", ["user", "nope", "USER_IDX"])
def test_vocabulary_of_a_column_the_model_does_not_write(fitted, name):
    with pytest.raises(ValueError, match=rf"^IdIndexerModel: outputCols '{name}' not in \[user_idx, song_idx\]$"):
        fitted.vocabularyOf(name)


def test_vocabulary_of_an_unfitted_model():
    with pytest.raises(ValueError, match=r"IdIndexerModel: the model has no vocabulary"):
        IdIndexerModel().setInputCol("a").setOutputCol("b").vocabularyOf("b")


def test_vocabulary_of_after_save_load(fitted, tmp_path):
    fitted.save(str(tmp_path / "model"))
    loaded = IdIndexerModel.load(str(tmp_path / "model"))
    assert (loaded.inputColumns, loaded.outputColumns) == (fitted.inputColumns, fitted.outputColumns)
    assertDataFrameEqual(loaded.vocabularyOf("song_idx")[1], fitted.vocabularyOf("song_idx")[1], checkRowOrder=False)


# -- persistence -----------------------------------------------------------------------------


# uid, type, params and output after save/load, alone and in a Pipeline: tests/test_common.py


def test_model_save_load_json_and_parquet(fitted, unseen, tmp_path):
    path = str(tmp_path / "model")
    fitted.write().save(path)
    loaded = IdIndexerModel.load(path)
    assert loaded.vocabularySizes == fitted.vocabularySizes
    keep = loaded.copy({loaded.handleInvalid: "keep"})
    assertDataFrameEqual(keep.transform(unseen), fitted.setHandleInvalid("keep").transform(unseen))
    files = [os.path.join(d, f) for d, _, fs in os.walk(path) for f in fs]
    assert not [f for f in files if f.endswith((".pkl", ".pickle"))]
    assert any("/data/vocabulary_1/" in f and f.endswith(".parquet") for f in files)
    with pytest.raises(FileExistsError, match=r"IdIndexerModel: cannot save to '.*model': it already exists"):
        fitted.write().save(path)  # exists; overwrite() is needed
    fitted.write().overwrite().save(path)
    assert IdIndexerModel.load(path).uid == fitted.uid


def test_model_load_wrong_class(tmp_path):
    path = str(tmp_path / "indexer")
    IdIndexer(inputCol="a", outputCol="b").save(path)
    with pytest.raises(ValueError, match=r"IdIndexerModel: '.*indexer' holds a saved 'spark_recs.indexer.IdIndexer', not 'spark_recs.indexer.IdIndexerModel'"):
        IdIndexerModel.load(path)


def test_pipeline_with_als_save_load_same_predictions(spark, tmp_path):
    rng = random.Random(0)
    rows = [(f"user_{u:03d}", f"item_{i:03d}", float(rng.randint(1, 5))) for u in range(20) for i in range(15) if rng.random() < 0.5]
    df = spark.createDataFrame(rows, ["user", "item", "rating"])
    pipeline = Pipeline(stages=[
        IdIndexer(inputCols=["user", "item"], outputCols=["user_idx", "item_idx"]),
        ALS(userCol="user_idx", itemCol="item_idx", ratingCol="rating", rank=3, maxIter=3, seed=7,
            numUserBlocks=1, numItemBlocks=1, coldStartStrategy="drop"),
    ])
    model = pipeline.fit(df)
    path = str(tmp_path / "pipeline")
    model.save(path)
    loaded = PipelineModel.load(path)
    assert [type(s) for s in loaded.stages] == [type(s) for s in model.stages]
    before = model.transform(df).select("user", "item", "prediction")
    after = loaded.transform(df).select("user", "item", "prediction")
    assert before.count() == df.count()
    assertDataFrameEqual(before, after)


# -- Spark jobs --------------------------------------------------------------------------------


def jobs_of(spark, group, action):
    """The Spark jobs that ``action`` runs, counted by a job group of its own."""
    sc = spark.sparkContext
    sc.setJobGroup(group, group)
    try:
        action()
    finally:
        sc.setJobGroup("", "")
    return len(sc.statusTracker().getJobIdsForGroup(group))


@pytest.mark.classic_only("counts jobs with SparkContext.statusTracker, which Spark Connect has not")
def test_fit_transform_job_count(spark, plays):
    # fit: one aggregation job (AQE is off in the test session: its shuffles run in that job);
    # transform: one job per broadcast vocabulary and one lookup job; reading the output: one.
    # Before 0.2.0 it was 9: range sampling, an eager checkpoint, a count collect, a separate
    # handleInvalid check with both broadcasts, then the transform building them again.
    def fit_transform():
        model = IdIndexer(inputCols=["user", "song"], outputCols=["u", "s"]).fit(plays)
        model.transform(plays).write.format("noop").mode("overwrite").save()

    assert jobs_of(spark, "indexer-fit-transform", fit_transform) == 5
