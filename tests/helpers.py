"""Checks the test files share: a stage's params as a dict, the same stage after a round trip,
the Spark jobs an action runs, and a factor model with given factors."""

from typing import Any, Callable, Dict

from pyspark.ml import Model
from pyspark.ml.param import Params


def param_values(stage: Params) -> Dict[str, Any]:
    """``{name: value}`` of every param that has a value, set or default."""
    return {p.name: v for p, v in stage.extractParamMap().items()}


def assert_same_stage(got: Params, expected: Params, set_status: bool = True, values: bool = True) -> None:
    """Same type, uid and params: every param with the same value (unless ``values`` is false),
    and set, or left to its default, as in ``expected`` (unless ``set_status`` is false)."""
    assert type(got) is type(expected)
    assert got.uid == expected.uid
    assert [p.name for p in got.params] == [p.name for p in expected.params]
    if not values:
        return
    for param in expected.params:
        name = param.name
        if set_status:
            assert got.isSet(name) == expected.isSet(param), name
            assert got.hasDefault(name) == expected.hasDefault(param), name
        if expected.isDefined(param):
            assert got.getOrDefault(name) == expected.getOrDefault(param), name
    assert param_values(got) == param_values(expected)


def job_count(spark: Any, group: str, action: Callable[[], Any]) -> int:
    """Spark jobs that ``action`` runs (tagged with a job group; a classic session only)."""
    sc = spark.sparkContext
    sc.setJobGroup(group, group)
    try:
        action()
    finally:
        sc.setLocalProperty("spark.jobGroup.id", None)
    return len(sc.statusTracker().getJobIdsForGroup(group))


class FactorModel(Model):
    """A fitted factor model with given factors (what an ALSModel exposes, minus ALS)."""

    def __init__(self, users, items, rank):
        super().__init__()
        self.userFactors, self.itemFactors, self.rank = users, items, rank

    def getUserCol(self):
        return "user"

    def getItemCol(self):
        return "item"

    def _transform(self, dataset):
        raise NotImplementedError


def factor_model(spark: Any, user_factors: Dict[int, Any], item_factors: Dict[int, Any]) -> FactorModel:
    """A FactorModel of ``{id: vector}`` user and item factors (float32 arrays, as ALS's)."""
    schema = "id int, features array<float>"
    return FactorModel(
        spark.createDataFrame([(u, [float(x) for x in v]) for u, v in user_factors.items()], schema),
        spark.createDataFrame([(i, [float(x) for x in v]) for i, v in item_factors.items()], schema),
        len(next(iter(item_factors.values()))),
    )


def song_plays(spark: Any, users: int = 25, per_user: int = 5, songs: int = 13) -> Any:
    """Play counts of string users and songs (user, song, plays), each pair once."""
    return spark.createDataFrame(
        [(f"u{u}", f"s{(u * 7 + k * 3) % songs}", float(1 + (u + k) % 4)) for u in range(users) for k in range(per_user)],
        "user string, song string, plays double",
    ).dropDuplicates(["user", "song"])


def indexed_pipeline(plays: Any, recommender: Any) -> Any:
    """Pipeline(IdIndexer of user and song into u and i, recommender) fitted on ``plays``."""
    from pyspark.ml import Pipeline

    from spark_recs import IdIndexer

    return Pipeline(stages=[IdIndexer(inputCols=["user", "song"], outputCols=["u", "i"]), recommender]).fit(plays)
