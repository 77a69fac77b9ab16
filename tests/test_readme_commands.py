"""Every ``spark-recs`` command of README.md's ``bash`` blocks, run in order as written, in-process
(``spark_recs.cli.main``) on the test session, on small files in each loader's real layout.

The commands are parsed from README.md, so README and test cannot drift. What differs from a
user's run: the paths (``--input``, ``--out``, ``--model``, ``--titles``, ``--rated`` name files
in a temporary directory, written here), and the cost of the fits: ``tune`` and ``compare`` get
``--max-iter 2`` and one grid point appended (argparse keeps the last value), synthetic data a
small size. ``demo`` (about 110 s; ``demo --quick`` runs in tests/test_cli.py) and commands on a
Spark Connect server at a ``sc://`` address (tests/test_cli.py starts one) are left out, and the
test names each command it leaves out, so a new README command is never skipped silently. A
command the README shows twice runs once.
"""

import json
import os
import random
import shlex

import pytest

from spark_recs.cli import main

README = os.path.join(os.path.dirname(__file__), os.pardir, "README.md")

#: The options whose values are paths: each names a file of the temporary directory.
PATH_OPTIONS = ("--input", "--out", "--model", "--titles", "--rated", "--history")

#: What the fits cost: appended to tune and compare (later values win).
FEW_FITS = ["--max-iter", "2", "--ranks", "2", "--reg-params", "0.1", "--alphas", "1", "--folds", "2"]

#: Synthetic data's size, appended to a data command without --input.
SMALL_SYNTHETIC = ["--users", "30", "--items", "40", "--ratings", "500"]


def readme_commands():
    """The ``spark-recs`` lines of README.md's ``bash`` blocks, in order, as argument lists
    (shell quoting and comments as bash reads them)."""
    commands, inside, lang = [], False, ""
    with open(README, encoding="utf-8") as fh:
        for line in fh:
            if line.startswith("```"):
                inside, lang = (not inside), line[3:].strip()
                continue
            if inside and lang == "bash" and line.startswith("spark-recs "):
                commands.append(shlex.split(line, comments=True)[1:])
    return commands


def left_out(argv):
    """Why a README command is not run here, or None."""
    if argv[0] == "demo":
        return "demo: tests/test_cli.py runs demo --quick"
    if "--remote" in argv and argv[argv.index("--remote") + 1].startswith("sc://"):
        return "a Connect server at an sc:// address: tests/test_cli.py starts a local one"
    return None


def as_run(argv, root):
    """The command with its paths in ``root`` and few fits."""
    argv = list(argv)
    for i, arg in enumerate(argv[:-1]):
        if arg in PATH_OPTIONS:
            argv[i + 1] = os.path.join(root, argv[i + 1])
    if argv[0] in ("tune", "compare"):
        argv += FEW_FITS
        if "--input" not in argv:
            argv += SMALL_SYNTHETIC
    return argv


# -- the files, in each loader's layout --------------------------------------------------------


def write_files(root):
    """MovieLens ml-latest-small (ratings.csv + movies.csv, and ratings.csv alone), MovieLens
    100K (u.data tab-separated, u.item pipe-separated Latin-1), a HetRec Last.fm-like play-count
    file (user_artists.dat, tab-separated with a header) with artists.dat as titles, and a
    Parquet file of (user, item, rating) play counts."""
    rng = random.Random(5)
    users, items = range(1, 31), range(1, 41)
    # each user likes one of two halves of the catalogue: a taste ALS can find
    pairs = [(u, i) for u in users for i in items if (i % 2 == u % 2) == (rng.random() < 0.85) and rng.random() < 0.4]
    ml = os.path.join(root, "ml-latest-small")
    os.makedirs(ml)
    with open(os.path.join(ml, "ratings.csv"), "w", encoding="utf-8") as fh:
        fh.write("userId,movieId,rating,timestamp\n")
        for u, i in pairs:
            fh.write(f"{u},{i},{rng.choice([0.5, 2.5, 3.0, 4.0, 4.5, 5.0])},{964982703 + u * 100 + i}\n")
    with open(os.path.join(ml, "movies.csv"), "w", encoding="utf-8") as fh:
        fh.write("movieId,title,genres\n")
        for i in items:
            title = f'"Movie {i}, The (199{i % 10})"' if i % 3 == 0 else f"Movie {i} (199{i % 10})"
            fh.write(f"{i},{title},Comedy|Drama\n")
    with open(os.path.join(root, "ratings.csv"), "w", encoding="utf-8") as fh:
        fh.write(open(os.path.join(ml, "ratings.csv"), encoding="utf-8").read())
    k100 = os.path.join(root, "ml-100k")
    os.makedirs(k100)
    with open(os.path.join(k100, "u.data"), "w") as fh:
        for u, i in pairs:
            fh.write(f"{u}\t{i}\t{rng.randint(1, 5)}\t{881250949 + i}\n")
    with open(os.path.join(k100, "u.item"), "wb") as fh:
        for i in items:
            fh.write(f"{i}|Café {i} (1996)|01-Jan-1996||http://us.imdb.com/M/title-exact?{i}{'|0' * 19}\n"
                     .encode("latin-1"))
    with open(os.path.join(root, "new-users.data"), "w") as fh:  # a user who arrived after the fit
        for i in (1, 3, 5, 7):
            fh.write(f"944\t{i}\t{rng.randint(1, 5)}\t{891250949 + i}\n")
    with open(os.path.join(root, "user_artists.dat"), "w", encoding="utf-8") as fh:
        fh.write("userID\tartistID\tweight\n")
        for u, i in pairs:  # HetRec's user ids start at 2; play counts up to thousands
            fh.write(f"{u + 1}\t{i + 50}\t{rng.randint(1, 3000)}\n")
    with open(os.path.join(root, "artists.dat"), "w", encoding="utf-8") as fh:
        fh.write("id\tname\turl\tpictureURL\n")
        for i in items:
            fh.write(f"{i + 50}\tArtist {i}\thttp://www.last.fm/music/Artist+{i}\thttp://userserve-ak.last.fm/{i}.jpg\n")
    return pairs


@pytest.fixture(scope="module")
def files(tmp_path_factory, spark_session):
    root = str(tmp_path_factory.mktemp("readme"))
    pairs = write_files(root)
    plays = spark_session.createDataFrame(
        [(f"u{u}", f"i{i}", float(1 + (u * i) % 7)) for u, i in pairs], "user string, item string, rating double")
    plays.write.parquet(os.path.join(root, "plays.parquet"))
    return root


def test_the_readme_names_every_loader_layout():
    commands = [" ".join(c) for c in readme_commands()]
    for needed in ("--loader movielens ", "--loader movielens-100k", "user_artists.dat", "--titles artists.dat",
                   "recommend --model tuned/ --users 1,2,3 --n 5", "--all", "similar --model"):
        assert any(needed in c for c in commands), needed


@pytest.mark.end_to_end
def test_every_readme_command_runs_as_written(files, capsys):
    commands = readme_commands()
    skipped = [(" ".join(c), left_out(c)) for c in commands if left_out(c)]
    assert [why for _, why in skipped] == [
        "demo: tests/test_cli.py runs demo --quick",
        "a Connect server at an sc:// address: tests/test_cli.py starts a local one",
    ], skipped
    outputs = {}
    for argv in commands:
        if left_out(argv) or " ".join(argv) in outputs:  # a command shown twice runs once
            continue
        run = as_run(argv, files)
        code = main(run)
        out, err = capsys.readouterr()
        assert code == 0, f"spark-recs {' '.join(argv)}\n{err[-2000:]}"
        assert "Traceback" not in err and "at org.apache" not in err, err
        outputs[" ".join(argv)] = out

    def printed(prefix):
        [found] = [out for command, out in outputs.items() if command.startswith(prefix)]
        return found

    stats = json.loads(printed("stats --input ratings.csv"))
    assert stats["users"] == 30 and stats["items"] == 40 and 0 < stats["sparsity"] < 1
    # MovieLens: the loader's titles, in the user's column names
    table = printed("recommend --model tuned/ ").strip().splitlines()
    assert table[0].split() == ["userId", "rank", "movieId", "score", "title"]
    assert len(table) == 1 + 3 * 5 and {line.split()[0] for line in table[1:]} == {"1", "2", "3"}
    assert all("Movie " in line for line in table[1:])
    # MovieLens 100K: every user's top-N, Latin-1 titles
    from pyspark.sql import SparkSession

    recs = SparkSession.active().read.parquet(os.path.join(files, "recs-100k"))
    assert recs.columns == ["userId", "rank", "movieId", "score", "title"]
    assert recs.select("userId").distinct().count() == 30
    assert recs.where("title like 'Café %'").count() == recs.count()
    # similar items: the neighbours' titles, the item itself left out
    table = printed("similar --model tuned-100k/").strip().splitlines()
    assert table[0].split() == ["movieId", "rank", "similar_movieId", "similarity", "title"]
    assert len(table) == 1 + 2 * 5 and all("Café " in line for line in table[1:])
    assert all(line.split()[0] != line.split()[2] for line in table[1:])
    # a user who arrived after the fit, folded in from a u.data-style file: its items left out
    table = printed("recommend --model tuned-100k/ --users 944,1 --history").strip().splitlines()
    assert table[0].split()[:4] == ["userId", "rank", "movieId", "score"] and table[0].split()[-1] == "source"
    rows = [line.split() for line in table[1:]]
    assert len(rows) == 2 * 5 and {(r[0], r[-1]) for r in rows} == {("944", "fold-in"), ("1", "model")}
    assert not {r[2] for r in rows if r[0] == "944"} & {"1", "3", "5", "7"}
    # Last.fm-like: titles from artists.dat (tab-separated text), the file's own column names
    table = printed("recommend --model tuned-lastfm/").strip().splitlines()
    assert table[0].split() == ["userID", "rank", "artistID", "score", "name"]
    assert len(table) == 1 + 2 * 5 and all(" Artist " in line for line in table[1:])
    metrics = json.load(open(os.path.join(files, "tuned-lastfm", "metrics.json")))
    assert metrics["run"]["data"]["users"] == 30 and metrics["run"]["maxIter"] == 2
    assert "ALS implicit tuned" in printed("compare --loader movielens-100k")
