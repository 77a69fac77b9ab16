"""Download a MovieLens archive from GroupLens into a local cache, checksum verified, and extract it."""

import hashlib
import os
import re
import shutil
import tempfile
import urllib.request
import zipfile
from typing import Optional

from spark_recs.datasets._reading import PathLike

__all__ = ["download_movielens"]

_GROUPLENS_URL = "https://files.grouplens.org/datasets/movielens/{name}.zip"

#: SHA-256 of the GroupLens archives that do not change. (``ml-latest`` is updated from time to
#: time, so it has none: its checksum is recorded on first download, see download_movielens.)
KNOWN_SHA256 = {
    "ml-latest-small": "696d65a3dfceac7c45750ad32df2c259311949efec81f0f144fdfb91ebc9e436",
    "ml-100k": "50d2a982c66986937beb9ffb3aa76efe955bf3d5c6b761f4e3a7cd717c6a3229",
}

_MARKER = ".spark-recs-sha256"


def _sha256_file(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _read_digest(path: str) -> Optional[str]:
    try:
        with open(path) as f:
            text = f.read().split()
    except FileNotFoundError:
        return None
    return text[0].lower() if text else None


def download_movielens(
    name: str = "ml-latest-small",
    cache_dir: Optional[PathLike] = None,
    url: Optional[str] = None,
    sha256: Optional[str] = None,
) -> str:
    """Download a MovieLens zip from GroupLens into a local cache, verify it, extract it.

    Parameters
    ----------
    name : str, default 'ml-latest-small'
        The archive's name on https://files.grouplens.org/datasets/movielens/ without
        ``.zip``: ``ml-latest-small``, ``ml-latest``, ``ml-100k``, ``ml-1m``, ``ml-25m``, ...
    cache_dir : str or path, optional
        Where the zip and its extracted directory are kept; default ``~/.cache/spark-recs``.
    url : str, optional
        Where to download from instead of GroupLens (a mirror, or a ``file://`` URL).
    sha256 : str, optional
        The archive's expected SHA-256 (64 hex digits). Default: the known checksum of
        ``name`` in ``KNOWN_SHA256`` (ml-latest-small, ml-100k), if any.

    Returns
    -------
    str
        The extracted directory ``<cache_dir>/<name>``, ready for :func:`load_movielens`
        (or :func:`load_movielens_100k` for ml-100k).

    Raises
    ------
    ValueError
        When the checksum does not match (a fresh download is then deleted), the name or
        checksum is malformed, or the file is not a zip archive.
    urllib.error.URLError
        When the download fails.

    Notes
    -----
    The zip is saved as ``<cache_dir>/<name>.zip`` and its SHA-256 written beside it in
    ``<name>.zip.sha256``. Later calls download nothing: they verify the cached zip against
    the expected checksum, or, when none is known, against the recorded one (trust on first
    use), and reuse the extracted directory when it was extracted from that same zip. An
    archive with one top-level folder (as GroupLens zips have) is extracted to
    ``<cache_dir>/<name>`` without that extra level. Uses :mod:`urllib` only. The MovieLens
    data sets have their own terms of use (see their README): no redistribution without
    permission, cite Harper and Konstan (2015), *The MovieLens Datasets: History and Context*,
    ACM TiiS 5(4).

    Examples
    --------
    A tiny archive made here stands in for the GroupLens one:

    >>> import os, pathlib, zipfile
    >>> from spark_recs import download_movielens, load_movielens
    >>> archive = os.path.join(temp_path, "tiny.zip")
    >>> with zipfile.ZipFile(archive, "w") as z:
    ...     z.writestr("ml-tiny/ratings.csv", "userId,movieId,rating,timestamp\\n1,1,4.0,964982703\\n")
    ...     z.writestr("ml-tiny/movies.csv", "movieId,title,genres\\n1,Toy Story (1995),Comedy\\n")
    >>> cache = os.path.join(temp_path, "cache")
    >>> path = download_movielens("ml-tiny", cache_dir=cache, url=pathlib.Path(archive).as_uri())
    >>> sorted(os.listdir(path))
    ['.spark-recs-sha256', 'movies.csv', 'ratings.csv']
    >>> ratings, movies = load_movielens(spark, path)
    >>> ratings.count(), movies.first().title
    (1, 'Toy Story (1995)')
    >>> download_movielens("ml-tiny", cache_dir=cache, url="file:///gone.zip") == path
    True
    """
    func = "download_movielens"
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", name):
        raise ValueError(
            f"{func}: name must be a plain archive name such as 'ml-latest-small', found {name!r}"
        )
    if sha256 is not None and (not isinstance(sha256, str) or not re.fullmatch(r"[0-9a-fA-F]{64}", sha256)):
        raise ValueError(f"{func}: sha256 must be 64 hexadecimal digits, found {sha256!r}")
    expected = (sha256 or KNOWN_SHA256.get(name) or "").lower() or None
    source = url or _GROUPLENS_URL.format(name=name)
    cache = os.path.expanduser(os.fspath(cache_dir) if cache_dir is not None else "~/.cache/spark-recs")
    os.makedirs(cache, exist_ok=True)
    zip_path = os.path.join(cache, name + ".zip")
    record = zip_path + ".sha256"
    target = os.path.join(cache, name)

    if os.path.exists(zip_path):
        digest = _sha256_file(zip_path)
        wanted = expected or _read_digest(record)
        if wanted is not None and digest != wanted:
            why = "expected" if expected else f"recorded in '{record}'"
            raise ValueError(
                f"{func}: SHA-256 of the cached '{zip_path}' is {digest}, {why} {wanted}; "
                f"delete it to download it again"
            )
    else:
        digest = _download(func, source, zip_path, expected)
    with open(record, "w") as f:
        f.write(f"{digest}  {name}.zip\n")

    if _read_digest(os.path.join(target, _MARKER)) != digest:
        _extract(func, zip_path, cache, target)
        with open(os.path.join(target, _MARKER), "w") as f:
            f.write(f"{digest}  {name}.zip\n")
    return target


def _download(func: str, source: str, zip_path: str, expected: Optional[str]) -> str:
    fd, part = tempfile.mkstemp(
        prefix=os.path.basename(zip_path) + ".", suffix=".part", dir=os.path.dirname(zip_path)
    )
    h = hashlib.sha256()
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(source, timeout=60) as response:
            for chunk in iter(lambda: response.read(1 << 20), b""):
                h.update(chunk)
                out.write(chunk)
        digest = h.hexdigest()
        if expected is not None and digest != expected:
            raise ValueError(
                f"{func}: SHA-256 of {source} is {digest}, expected {expected}; the download was deleted"
            )
        os.replace(part, zip_path)
    finally:
        if os.path.exists(part):
            os.remove(part)
    return digest


def _extract(func: str, zip_path: str, cache: str, target: str) -> None:
    scratch = tempfile.mkdtemp(prefix=os.path.basename(target) + ".", suffix=".extracting", dir=cache)
    try:
        try:
            with zipfile.ZipFile(zip_path) as z:
                z.extractall(scratch)  # zipfile drops absolute paths and '..' parts
        except zipfile.BadZipFile:
            raise ValueError(
                f"{func}: '{zip_path}' is not a zip archive; delete it to download it again"
            ) from None
        entries = [e for e in os.listdir(scratch) if e != "__MACOSX"]
        inner = os.path.join(scratch, entries[0]) if len(entries) == 1 else None
        src = inner if inner is not None and os.path.isdir(inner) else scratch
        if os.path.exists(target):
            shutil.rmtree(target)
        os.replace(src, target)
    finally:
        if os.path.exists(scratch):
            shutil.rmtree(scratch)
