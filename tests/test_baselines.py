"""The bias baseline of explicit ratings (spark_recs.baselines) against a numpy reference of
Surprise's BaselineOnly."""

import random

import pytest

from spark_recs.baselines import fit_biases
from tests import reference


@pytest.fixture(scope="module")
def stars(spark_session):
    """Random 1-5 stars of 30 users on 20 items (uneven counts), a user with one rating, and
    an item rated by one user."""
    rng = random.Random(4)
    rows = [(f"u{u}", f"i{i}", float(rng.randint(1, 5))) for u in range(30) for i in range(20) if rng.random() < 0.3]
    rows += [("lone", "i0", 5.0), ("u0", "rare", 1.0)]
    return rows, spark_session.createDataFrame(rows, "user string, item string, rating double")


@pytest.mark.parametrize("reg_u, reg_i, iterations", [(15.0, 10.0, 10), (0.0, 0.0, 1), (25.0, 10.0, 3)])
def test_biases_equal_numpy_reference(stars, reg_u, reg_i, iterations):
    rows, df = stars
    users, items, ratings = map(list, zip(*rows))
    mu, bu, bi = reference.bias_baseline(users, items, ratings, reg_u=reg_u, reg_i=reg_i, n_epochs=iterations)
    biases = fit_biases(df, regUser=reg_u, regItem=reg_i, maxIter=iterations)
    assert biases.globalMean == pytest.approx(mu)
    assert {r.user: r.userBias for r in biases.userBiases.collect()} == pytest.approx(bu)
    assert {r.item: r.itemBias for r in biases.itemBiases.collect()} == pytest.approx(bi)
    predicted = {(r.user, r.item): r.prediction for r in biases.transform(df).collect()}
    assert predicted == pytest.approx({(u, i): mu + bu[u] + bi[i] for u, i, _ in rows})


def test_unknown_users_and_items_get_no_bias(spark, stars):
    _, df = stars
    biases = fit_biases(df, maxIter=2)
    new = spark.createDataFrame([("nobody", "i0"), ("u0", "unknown"), ("nobody", "unknown")], ["user", "item"])
    predicted = {(r.user, r.item): r.prediction for r in biases.transform(new).collect()}
    item0 = [r.itemBias for r in biases.itemBiases.where("item = 'i0'").collect()][0]
    user0 = [r.userBias for r in biases.userBiases.where("user = 'u0'").collect()][0]
    mu = biases.globalMean
    assert predicted == pytest.approx({("nobody", "i0"): mu + item0, ("u0", "unknown"): mu + user0,
                                       ("nobody", "unknown"): mu})


def test_fit_biases_checks(spark, stars):
    _, df = stars
    with pytest.raises(ValueError, match=r"^fit_biases: ratingCol 'stars' not in \[user, item, rating\]"):
        fit_biases(df, ratingCol="stars")
    with pytest.raises(TypeError, match=r"^fit_biases: ratingCol 'item' must be numeric, found string$"):
        fit_biases(df, ratingCol="item")
    with pytest.raises(ValueError, match=r"^fit_biases: regUser must be >= 0, found -1.0"):
        fit_biases(df, regUser=-1.0)
    with pytest.raises(ValueError, match=r"^fit_biases: maxIter must be >= 1, found 0"):
        fit_biases(df, maxIter=0)
    bad = spark.createDataFrame([("a", "x", 1.0), ("b", None, 2.0), ("c", "y", float("nan"))],
                                "user string, item string, rating double")
    with pytest.raises(ValueError, match=r"^fit_biases: itemCol 'item' has 1 null value\(s\)$"):
        fit_biases(bad)
    with pytest.raises(ValueError, match=r"^fit_biases: ratingCol 'rating' has 1 null or NaN value\(s\)$"):
        fit_biases(bad.where("item is not null"))
    with pytest.raises(ValueError, match=r"^fit_biases: no rows to fit in ratingCol 'rating'$"):
        fit_biases(df.limit(0))
    with pytest.raises(ValueError, match=r"^fit_biases: userCol 'user' not in \[item\]"):
        fit_biases(df).transform(df.select("item"))
