"""Readers for MovieLens directories as GroupLens ships them: ml-latest(-small), ml-20m to ml-32m, ml-100k."""

import os
from typing import Tuple

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.types import FloatType, IntegerType, LongType, StringType, StructField, StructType

from spark_recs.datasets._reading import PathLike, local_path, not_found, path_text, read_checked_csv

__all__ = ["load_movielens", "load_movielens_100k"]

_ML_RATINGS = StructType(
    [
        StructField("userId", IntegerType()),
        StructField("movieId", IntegerType()),
        StructField("rating", FloatType()),
        StructField("timestamp", LongType()),
    ]
)
_ML_MOVIES = StructType(
    [
        StructField("movieId", IntegerType()),
        StructField("title", StringType()),
        StructField("genres", StringType()),
    ]
)
_ML100K_ITEM = StructType(
    [
        StructField("movieId", IntegerType()),
        StructField("title", StringType()),
        StructField("releaseDate", StringType()),
        StructField("videoReleaseDate", StringType()),
        StructField("imdbUrl", StringType()),
    ]
    + [StructField(f"genre{k}", IntegerType()) for k in range(19)]
)


def _join(path: str, name: str) -> str:
    return path.rstrip("/") + "/" + name


def load_movielens(spark: SparkSession, path: PathLike) -> Tuple[DataFrame, DataFrame]:
    """Read a MovieLens ``ml-latest`` or ``ml-latest-small`` directory (also ml-20m, ml-25m, ml-32m).

    Parameters
    ----------
    spark : :py:class:`pyspark.sql.SparkSession`
    path : str or path
        The directory holding ``ratings.csv`` and ``movies.csv``, as unpacked from the GroupLens
        zip (see :func:`download_movielens`); any path Spark reads.

    Returns
    -------
    (ratings, movies) : tuple of :py:class:`pyspark.sql.DataFrame`
        ``ratings``: ``userId`` int, ``movieId`` int, ``rating`` float (0.5 - 5 stars),
        ``timestamp`` long (seconds since 1970-01-01 UTC).
        ``movies``: ``movieId`` int, ``title`` string (with the year, "Toy Story (1995)"),
        ``genres`` string ("Adventure|Animation|Children", or "(no genres listed)").

    Raises
    ------
    FileNotFoundError
        When ``path``, ``ratings.csv`` or ``movies.csv`` is missing.
    ValueError
        When a file does not start with its header line (``userId,movieId,rating,timestamp``
        and ``movieId,title,genres``), a line does not split into those fields, a field does
        not parse as its type, or a field is empty.

    Notes
    -----
    Both files are comma-separated with a header line, UTF-8; fields holding commas are
    quoted, and a quote inside a quoted field is doubled (``""``). They are
    read with explicit schemas, after a check of each file: one job reads its first line, one
    aggregation job parses every line. The DataFrames returned read the files again when used
    (``mode='FAILFAST'``): cache them if you use them more than once.

    Examples
    --------
    >>> import os
    >>> from spark_recs import load_movielens
    >>> path = os.path.join(temp_path, "ml-latest-small")
    >>> os.makedirs(path)
    >>> with open(os.path.join(path, "ratings.csv"), "w") as f:
    ...     _ = f.write("userId,movieId,rating,timestamp\\n1,1,4.0,964982703\\n1,3,4.5,964981247\\n")
    >>> with open(os.path.join(path, "movies.csv"), "w") as f:
    ...     _ = f.write('movieId,title,genres\\n1,Toy Story (1995),Adventure|Animation\\n'
    ...                 '3,"American President, The (1995)",Comedy|Drama|Romance\\n')
    >>> ratings, movies = load_movielens(spark, path)
    >>> ratings.schema.simpleString()
    'struct<userId:int,movieId:int,rating:float,timestamp:bigint>'
    >>> movies.orderBy("movieId").show(truncate=False)
    +-------+------------------------------+--------------------+
    |movieId|title                         |genres              |
    +-------+------------------------------+--------------------+
    |1      |Toy Story (1995)              |Adventure|Animation |
    |3      |American President, The (1995)|Comedy|Drama|Romance|
    +-------+------------------------------+--------------------+
    <BLANKLINE>
    """
    func = "load_movielens"
    path = path_text(path, func)
    local = local_path(path)
    if local and not os.path.isdir(local):
        raise not_found(func, "directory", path)
    ratings = read_checked_csv(
        spark, func, "ratings.csv", _join(path, "ratings.csv"), _ML_RATINGS, sep=",",
        header="userId,movieId,rating,timestamp",
    )
    movies = read_checked_csv(
        spark, func, "movies.csv", _join(path, "movies.csv"), _ML_MOVIES, sep=",",
        header="movieId,title,genres",
    )
    return ratings, movies


def load_movielens_100k(spark: SparkSession, path: PathLike) -> Tuple[DataFrame, DataFrame]:
    """Read the MovieLens 100K directory ``ml-100k`` (``u.data`` and ``u.item``).

    Parameters
    ----------
    spark : :py:class:`pyspark.sql.SparkSession`
    path : str or path
        The directory holding ``u.data`` and ``u.item``.

    Returns
    -------
    (ratings, movies) : tuple of :py:class:`pyspark.sql.DataFrame`
        ``ratings``: ``userId`` int, ``movieId`` int, ``rating`` float (1 - 5 stars),
        ``timestamp`` long (seconds since 1970-01-01 UTC).
        ``movies``: ``movieId`` int, ``title`` string.

    Raises
    ------
    FileNotFoundError
        When ``path``, ``u.data`` or ``u.item`` is missing.
    ValueError
        When a line of ``u.data`` is not 4 tab-separated numbers, or a line of ``u.item`` is
        not 24 ``|``-separated fields (id, title, release date, video release date, IMDb URL,
        19 genre flags 0/1) with an integer id, a title and integer flags.

    Notes
    -----
    ``u.data`` has no header: user id, item id, rating, timestamp separated by tabs.
    ``u.item`` is Latin-1 encoded ("Café au lait (1994)" is stored as one byte per letter)
    and has no quoting. Each file is checked by one aggregation job before it is returned
    (see :func:`load_movielens`).

    Examples
    --------
    >>> import os
    >>> from spark_recs import load_movielens_100k
    >>> path = os.path.join(temp_path, "ml-100k")
    >>> os.makedirs(path)
    >>> with open(os.path.join(path, "u.data"), "w") as f:
    ...     _ = f.write("196\\t242\\t3\\t881250949\\n186\\t302\\t3\\t891717742\\n")
    >>> flags = "|0" * 19
    >>> with open(os.path.join(path, "u.item"), "wb") as f:
    ...     _ = f.write(("242|Kolya (1996)|24-Jan-1997||http://imdb" + flags + "\\n"
    ...                  "302|Café (1997)|01-Jan-1997||http://imdb" + flags + "\\n").encode("latin-1"))
    >>> ratings, movies = load_movielens_100k(spark, path)
    >>> ratings.orderBy("userId").collect()[0]
    Row(userId=186, movieId=302, rating=3.0, timestamp=891717742)
    >>> sorted(movies.collect())
    [Row(movieId=242, title='Kolya (1996)'), Row(movieId=302, title='Café (1997)')]
    """
    func = "load_movielens_100k"
    path = path_text(path, func)
    local = local_path(path)
    if local and not os.path.isdir(local):
        raise not_found(func, "directory", path)
    ratings = read_checked_csv(
        spark, func, "u.data", _join(path, "u.data"), _ML_RATINGS, sep="\t", quoted=False
    )
    items = read_checked_csv(
        spark, func, "u.item", _join(path, "u.item"), _ML100K_ITEM, sep="|", encoding="ISO-8859-1",
        quoted=False, required=["movieId", "title"],
    )
    return ratings, items.select("movieId", "title")


def load_movielens_100k_ratings(spark: SparkSession, path: PathLike) -> DataFrame:
    """Read one file in MovieLens 100K's ``u.data`` layout (``u.data`` itself, ``u1.base``, or
    the interactions of users who arrived later, written the same way), without titles.

    Parameters
    ----------
    spark : :py:class:`pyspark.sql.SparkSession`
    path : str or path
        The file: no header, user id, item id, rating, timestamp separated by tabs.

    Returns
    -------
    :py:class:`pyspark.sql.DataFrame`
        ``userId`` int, ``movieId`` int, ``rating`` float, ``timestamp`` long, as
        :py:func:`load_movielens_100k` gives them.

    Raises
    ------
    FileNotFoundError
        When ``path`` is missing.
    ValueError
        When a line is not 4 tab-separated numbers.

    Notes
    -----
    One aggregation job checks the file before it is returned.
    """
    func = "load_movielens_100k_ratings"
    path = path_text(path, func)
    return read_checked_csv(spark, func, os.path.basename(path.rstrip("/")), path, _ML_RATINGS, sep="\t",
                            quoted=False)
