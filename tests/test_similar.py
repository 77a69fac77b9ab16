"""similar_items and similar_users: each item's (user's) nearest neighbours by the factors,
equal to the full similarity matrix in numpy, the item itself left out, in original ids."""

import math

import numpy as np
import pytest
from pyspark.ml import Pipeline
from pyspark.ml.recommendation import ALS

from spark_recs import IdIndexer, UnseenItemRankerModel, similar_items, similar_users
from spark_recs.cli import main
from tests import reference
from tests.helpers import factor_model, indexed_pipeline, song_plays


def gaussian(seed, count, rank=4):
    rng = np.random.default_rng(seed)
    return {i: rng.normal(size=rank).astype(np.float32).tolist() for i in range(count)}


def factor_ranker(spark, users, items):
    """The given factors as the engine's model (an UnseenItemRankerModel over a FactorModel)."""
    return UnseenItemRankerModel.fromFitted(
        factor_model(spark, users, items), spark.createDataFrame([(0, 0)], "user int, item int")
    )


def neighbours(df, key):
    """{id: [(neighbour, similarity)]} in rank order; checks that ranks run 1, 2, ... and that
    an id without neighbours has exactly one row, with null rank, neighbour and similarity."""
    by_id = {}
    for r in df.collect():
        by_id.setdefault(r[key], []).append((r["rank"], r[f"similar_{key}"], r["similarity"]))
    out = {}
    for k, found in by_id.items():
        if any(rank is None for rank, _, _ in found):
            assert found == [(None, None, None)], (k, found)
            out[k] = []
            continue
        found.sort()
        assert [rank for rank, _, _ in found] == list(range(1, len(found) + 1)), (k, found)
        out[k] = [(s, v) for _, s, v in found]
    return out


def assert_same(got, expected):
    assert got.keys() == expected.keys()
    for k in expected:
        assert [s for s, _ in got[k]] == [s for s, _ in expected[k]], k
        assert [v for _, v in got[k]] == pytest.approx([v for _, v in expected[k]], abs=1e-6), k


@pytest.mark.parametrize("metric", ["cosine", "dot"])
def test_similar_items_and_users_equal_numpy(spark, metric):
    items, users = gaussian(1, 40), gaussian(2, 12)
    model = factor_ranker(spark, users, items)
    assert_same(neighbours(similar_items(model, n=5, metric=metric), "item"),
                reference.similar_top_n(items, 5, metric))
    assert_same(neighbours(similar_users(model, n=3, metric=metric), "user"),
                reference.similar_top_n(users, 3, metric))


@pytest.mark.parametrize("metric", ["cosine", "dot"])
def test_ties_zero_and_nan_vectors(spark, metric):
    """Coarse-grid factors tie exactly (ties go to the smaller id); a zero vector has no cosine
    and a NaN one no score: they keep a row without neighbours and are nobody's neighbour
    (under 'dot' the zero vector scores 0 with everyone, a real score)."""
    rng = np.random.default_rng(3)
    items = {i: rng.choice([-1.0, 0.0, 1.0], size=3).tolist() for i in range(30)}
    items = {i: v if any(v) else [1.0, 0.0, 0.0] for i, v in items.items()}  # one zero vector: 9's
    items[4] = items[2]
    items[9] = [0.0, 0.0, 0.0]
    items[11] = [math.nan, 1.0, 0.0]
    model = factor_ranker(spark, {0: [1.0, 0.0, 0.0]}, items)
    got = neighbours(similar_items(model, n=6, metric=metric), "item")
    expected = reference.similar_top_n(items, 6, metric)
    assert_same(got, expected)
    no_neighbours = {11} | ({9} if metric == "cosine" else set())
    assert {k for k, v in got.items() if not v} == no_neighbours
    assert all(len(v) == 6 for k, v in got.items() if k not in no_neighbours)
    assert all(not {s for s, _ in v} & (no_neighbours | {k}) for k, v in got.items())  # nor itself


def test_named_items_and_candidates(spark):
    items = gaussian(4, 25)
    model = factor_ranker(spark, gaussian(5, 3), items)
    candidates = [1, 2, 3, 7]
    got = neighbours(similar_items(model, [0, 3], n=10, candidates=spark.createDataFrame(
        [(i,) for i in candidates], "item int")), "item")
    full = reference.similar_top_n(items, 10, candidates=candidates)
    assert_same(got, {0: full[0], 3: full[3]})
    assert len(got[0]) == 4 and len(got[3]) == 3  # the candidates run out; 3 is not its own


def test_through_the_indexer_in_original_ids_with_titles(spark):
    plays = song_plays(spark, users=30, per_user=6, songs=17)
    pipeline = indexed_pipeline(plays, ALS(userCol="u", itemCol="i", ratingCol="plays", implicitPrefs=True, rank=3,
                                           maxIter=3, seed=1, numUserBlocks=1, numItemBlocks=1))
    als = pipeline.stages[1]
    vocab = {r["index"]: r["value"] for r in pipeline.stages[0].vocabularyOf("i")[1].collect()}
    code = {v: k for k, v in vocab.items()}
    factors = {vocab[r.id]: r.features for r in als.itemFactors.collect()}
    # ties by the neighbour's index: the reference numbers items as the indexer does
    by_index = reference.similar_top_n({r.id: r.features for r in als.itemFactors.collect()}, 4)
    titles = spark.createDataFrame([(s, s.upper()) for s in factors], "song string, title string")
    ranker = UnseenItemRankerModel.fromFitted(als, pipeline.stages[0].transform(plays))
    near = similar_items(pipeline, ["s3", "s5"], n=4, titles=titles)
    assert near.columns == ["song", "rank", "similar_song", "similarity", "title"]
    assert all(r.title == r.similar_song.upper() for r in near.collect())
    assert_same(neighbours(near.drop("title"), "song"),
                {s: [(vocab[j], x) for j, x in by_index[code[s]]] for s in ("s3", "s5")})
    # the ranker holds no indexer: its ids are the indices; text ids of integers are read as such
    near = similar_items(ranker, [code["s3"], str(code["s5"])], n=4)
    assert near.columns == ["i", "rank", "similar_i", "similarity"]
    assert_same(neighbours(near, "i"), {code[s]: by_index[code[s]] for s in ("s3", "s5")})


def test_cli_similar_named_and_all(spark, tmp_path, capsys):
    plays = spark.createDataFrame(
        [(u, (u * 5 + k) % 11, 1.0 + k) for u in range(20) for k in range(4)], "user int, item int, plays double"
    )
    model = Pipeline(stages=[
        IdIndexer(inputCols=["user", "item"], outputCols=["u", "i"]),
        ALS(userCol="u", itemCol="i", ratingCol="plays", implicitPrefs=True, rank=2, maxIter=2, seed=1,
            numUserBlocks=1, numItemBlocks=1),
    ]).fit(plays)
    path = str(tmp_path / "model")
    model.write().save(path)
    assert main(["similar", "--model", path, "--items", "3,5", "--n", "2"]) == 0
    table = capsys.readouterr().out
    assert table.splitlines()[0].split() == ["item", "rank", "similar_item", "similarity"]
    assert len(table.strip().splitlines()) == 1 + 4  # the header, 2 items x 2
    out = str(tmp_path / "near")
    assert main(["similar", "--model", path, "--all", "--out", out, "--n", "3", "--metric", "dot"]) == 0
    written = spark.read.parquet(out)
    expected = similar_items(model, n=3, metric="dot")
    assert sorted(map(tuple, written.collect())) == sorted(map(tuple, expected.collect()))
    assert written.select("item").distinct().count() == 11
