import pytest

from spark_recs._session import conf_scope


@pytest.fixture
def spark(spark_session):
    """The one SparkSession of the test run (pytest-spark's ``spark_session``)."""
    return spark_session


@pytest.fixture(params=["broadcast", "gaps"])
def full_plan(request, spark):
    """Both plans of ZeroFiller's strategy='full': the broadcast grid (test inputs are far
    below the default 10MB threshold) and, with broadcasting disabled, the gaps between
    observed items."""
    conf = {"spark.sql.autoBroadcastJoinThreshold": "-1"} if request.param == "gaps" else {}
    with conf_scope(spark, conf):
        yield request.param
