import pytest


@pytest.fixture
def spark(spark_session):
    """The one SparkSession of the test run (pytest-spark's ``spark_session``)."""
    return spark_session
