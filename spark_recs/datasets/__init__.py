"""Data sets for recommenders: a synthetic generator, readers for public data and any file, a downloader."""

# Public names of the module this package replaced, importable from here as before (not in __all__).
from spark_recs.datasets._reading import PathLike as PathLike
from spark_recs.datasets.download import KNOWN_SHA256 as KNOWN_SHA256
from spark_recs.datasets.download import download_movielens
from spark_recs.datasets.files import load_interactions, load_taste_profile
from spark_recs.datasets.movielens import load_movielens, load_movielens_100k, load_movielens_100k_ratings
from spark_recs.datasets.synthetic import SYNTHETIC_SETTINGS, synthetic_ratings
from spark_recs.interactions import interaction_stats, wide_to_long

__all__ = [
    "SYNTHETIC_SETTINGS",
    "download_movielens",
    "interaction_stats",
    "load_interactions",
    "load_movielens",
    "load_movielens_100k",
    "load_movielens_100k_ratings",
    "load_taste_profile",
    "synthetic_ratings",
    "wide_to_long",
]
