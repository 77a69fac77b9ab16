"""spark-recs: Spark ML pipeline stages for building recommendation engines with ALS.

Public classes are re-exported here. Their module paths are stored in saved models, so they
stay where they are: ``spark_recs.indexer``, ``spark_recs.zeros``, ``spark_recs.binary``,
``spark_recs.evaluation``, ``spark_recs.tuning``, ``spark_recs.recommendation``,
``spark_recs.ranking``, ``spark_recs.popularity``, ``spark_recs.time_splits``,
``spark_recs.weighting``.
"""

from spark_recs._version import __version__
from spark_recs._workers import WorkerEnvironmentError
from spark_recs.baselines import fit_biases
from spark_recs.beyond_accuracy import beyond_accuracy_metrics
from spark_recs.binary import BinaryRater
from spark_recs.datasets import (
    download_movielens,
    load_interactions,
    load_movielens,
    load_movielens_100k,
    load_taste_profile,
    synthetic_ratings,
)
from spark_recs.evaluation import (
    AllRowsRelevantWarning,
    PrecisionAtKEvaluator,
    RankingMetricsEvaluator,
    ROEMEvaluator,
)
from spark_recs.fold_in import fold_in
from spark_recs.indexer import IdIndexer, IdIndexerModel
from spark_recs.interactions import interaction_stats, wide_to_long
from spark_recs.popularity import PopularityModel, PopularityRecommender
from spark_recs.ranking import UnseenItemRanker, UnseenItemRankerModel
from spark_recs.recommendation import ImplicitALS
from spark_recs.similar import similar_items, similar_users
from spark_recs.time_splits import (
    UserFolds,
    cold_user_split,
    last_n_split_per_user,
    time_ratio_split_per_user,
    time_split,
)
from spark_recs.top_n import recommend_for_users
from spark_recs.tuning import PerUserFolds, train_test_split_per_user
from spark_recs.weighting import ConfidenceWeighter
from spark_recs.zeros import ZeroFiller

__all__ = [
    "__version__",
    "AllRowsRelevantWarning",
    "BinaryRater",
    "ConfidenceWeighter",
    "IdIndexer",
    "IdIndexerModel",
    "ImplicitALS",
    "PerUserFolds",
    "PopularityModel",
    "PopularityRecommender",
    "PrecisionAtKEvaluator",
    "RankingMetricsEvaluator",
    "ROEMEvaluator",
    "UnseenItemRanker",
    "UnseenItemRankerModel",
    "UserFolds",
    "WorkerEnvironmentError",
    "ZeroFiller",
    "beyond_accuracy_metrics",
    "cold_user_split",
    "download_movielens",
    "fit_biases",
    "fold_in",
    "interaction_stats",
    "last_n_split_per_user",
    "load_interactions",
    "load_movielens",
    "load_movielens_100k",
    "load_taste_profile",
    "recommend_for_users",
    "similar_items",
    "similar_users",
    "synthetic_ratings",
    "time_ratio_split_per_user",
    "time_split",
    "train_test_split_per_user",
    "wide_to_long",
]
