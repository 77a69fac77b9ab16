"""Every stage saved over an earlier save: ``write().overwrite()``, on classic and Connect sessions."""

import re

import pytest

from spark_recs import (
    BinaryRater,
    IdIndexer,
    ImplicitALS,
    PerUserFolds,
    PrecisionAtKEvaluator,
    RankingMetricsEvaluator,
    ROEMEvaluator,
    ZeroFiller,
)


@pytest.mark.parametrize(
    "cls",
    [BinaryRater, IdIndexer, ImplicitALS, PerUserFolds, PrecisionAtKEvaluator, RankingMetricsEvaluator,
     ROEMEvaluator, ZeroFiller],
)
def test_overwrite_replaces_an_earlier_save(spark, tmp_path, cls):
    path = str(tmp_path / cls.__name__)
    first, second = cls(), cls()
    first.save(path)
    with pytest.raises(FileExistsError, match=rf"^{cls.__name__}: cannot save to '{re.escape(path)}': it already exists"):
        second.save(path)
    second.write().overwrite().save(path)
    assert cls.load(path).uid == second.uid != first.uid
