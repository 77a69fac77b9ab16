"""The spark-recs command, run in-process on the test session (and once as a subprocess)."""

import argparse
import importlib.util
import json
import os
import subprocess
import sys

import pytest
from pyspark.sql import SparkSession

from spark_recs._compat import spark_version
from spark_recs.cli import main


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def plays_csv(tmp_path_factory, spark_session):
    from spark_recs.datasets import synthetic_ratings

    ratings, _ = synthetic_ratings(spark_session, numUsers=40, numItems=60, numRatings=800, kind="implicit", seed=3)
    path = str(tmp_path_factory.mktemp("data") / "plays.csv")
    ratings.toPandas().rename(columns={"user": "listener", "item": "track", "rating": "count"}).to_csv(path, index=False)
    return path


def test_stats_on_a_csv_with_column_mapping(capsys, plays_csv):
    code, out, _ = run(capsys, "stats", "--input", plays_csv, "--user-col", "listener", "--item-col", "track",
                       "--rating-col", "count")
    assert code == 0
    stats = json.loads(out)
    assert stats["users"] == 40 and stats["rows"] > 700 and 0 < stats["sparsity"] < 1


@pytest.mark.end_to_end
def test_tune_then_recommend(capsys, plays_csv, tmp_path):
    out_dir = str(tmp_path / "tuned")
    code, out, err = run(capsys, "tune", "--input", plays_csv, "--user-col", "listener", "--item-col", "track",
                         "--rating-col", "count", "--feedback", "implicit", "--ranks", "2,4", "--reg-params", "0.1",
                         "--alphas", "5", "--max-iter", "3", "--folds", "2", "--metric", "precision", "--k", "5",
                         "--weighting", "bm25", "--out", out_dir)
    assert code == 0, err
    assert json.loads(out)["metric"] == "precisionAtK@5"
    assert "fit 6/6" in err and "left" in err  # 2 grid points x 2 folds, the refit on train, on all
    assert "fit 1/6 (rank=" in err  # the ranker's fits name their rank
    metrics = json.load(open(os.path.join(out_dir, "metrics.json")))
    assert len(metrics["grid"]) == 2 and metrics["larger_is_better"] is True
    # what reproduces the run: every setting, the options given and the defaults of the others
    assert metrics["settings"] == {"ranks": [2, 4], "regParams": [0.1], "alphas": [5.0], "weighting": "bm25",
                                   "maxIter": 3, "folds": 2, "holdout": 0.25, "k": 5, "seed": 42,
                                   "threshold": 0.0, "parallelism": 2}
    # implicit feedback: the full-catalogue protocol, the holdout against most-popular
    assert metrics["protocol"] == "full-catalogue"
    for name in ("precisionAtK@10", "recallAtK@10", "ndcgAtK@10", "meanAveragePrecision", "roem"):
        assert 0 <= metrics["holdout"][name] <= 1 and 0 <= metrics["baseline"][name] <= 1, name
    # against most-popular: the selection metric (held out at its own k) and P@10, in the JSON and one line
    compared = metrics["baselineComparison"]["metrics"]
    assert list(compared) == ["precisionAtK@5", "precisionAtK@10"] and metrics["baselineComparison"]["baseline"] == "most-popular"
    assert compared["precisionAtK@5"]["model"] == metrics["holdout"]["precisionAtK@5"]
    beats = all(c["model"] > c["baseline"] for c in compared.values())
    assert metrics["beatsBaseline"] is beats and json.loads(out)["beatsBaseline"] is beats
    verdict = [line for line in err.splitlines() if "most-popular on the holdout" in line]
    assert len(verdict) == 1 and verdict[0].startswith("the tuned model beats" if beats else "warning: the tuned model does not")
    lines = open(os.path.join(out_dir, "grid.csv")).read().splitlines()
    assert lines[0].split(",")[0] in ("rank", "regParam", "alpha") and len(lines) == 3
    assert os.path.isdir(os.path.join(out_dir, "model")) and os.path.isdir(os.path.join(out_dir, "rated"))
    with open(os.path.join(out_dir, "grid.png"), "rb") as fh:
        assert fh.read(8) == b"\x89PNG\r\n\x1a\n"

    run_info = metrics["run"]  # what reproduces the run
    assert {k: run_info[k] for k in ("maxIter", "folds", "holdout", "seed", "k", "threshold", "ranks", "alphas")} == {
        "maxIter": 3, "folds": 2, "holdout": 0.25, "seed": 42, "k": 5, "threshold": 0.0, "ranks": [2, 4], "alphas": [5.0]}
    assert run_info["data"]["users"] == 40 and run_info["data"]["rows"] > 700
    assert set(run_info["versions"]) == {"spark-recs", "pyspark", "spark", "python"}

    # the output keeps the input's column names (the saved model reads them)
    code, out, err = run(capsys, "recommend", "--model", out_dir, "--users", "user_00,user_07", "--n", "3")
    assert code == 0, err
    rows = out.strip().splitlines()
    assert rows[0].split() == ["listener", "rank", "track", "score"]
    assert len(rows) == 1 + 2 * 3 and {r.split()[0] for r in rows[1:]} == {"user_00", "user_07"}

    # titles from a tab-separated text file, read as text by its ending
    titles = tmp_path / "tracks.dat"
    titles.write_text("id\tname\turl\n" + "".join(f"item_{i:02d}\tSong {i}\thttp://x/{i}\n" for i in range(60)))
    code, out, err = run(capsys, "recommend", "--model", out_dir, "--users", "user_00", "--n", "2", "--titles",
                         str(titles), "--titles-sep", "\\t", "--title-item-col", "id", "--title-col", "name")
    assert code == 0, err
    rows = out.strip().splitlines()
    assert rows[0].split() == ["listener", "rank", "track", "score", "name"] and "Song" in rows[1]
    code, out, err = run(capsys, "recommend", "--model", out_dir, "--users", "user_00", "--titles", str(titles))
    assert code == 2 and len(err.strip().splitlines()) == 1 and "at org.apache" not in err
    assert err.startswith(f"spark-recs: error: --titles {titles} (read as text with --titles-sep ',') needs the "
                          "item column track (the model's, or --title-item-col) and the title column title")

    # every user's top-2 to Parquet, in original ids, rated items left out
    all_dir = str(tmp_path / "all")
    code, out, err = run(capsys, "recommend", "--model", out_dir, "--all", "--out", all_dir, "--n", "2")
    assert code == 0, err
    spark = SparkSession.active()
    recs = spark.read.parquet(all_dir)
    assert recs.columns == ["listener", "rank", "track", "score"]
    assert recs.count() == 2 * 40 and recs.select("listener").distinct().count() == 40
    rated = spark.read.parquet(os.path.join(out_dir, "rated"))
    assert rated.columns == ["listener", "track"]
    assert recs.join(rated, ["listener", "track"]).count() == 0

    code, _, err = run(capsys, "recommend", "--model", out_dir, "--users", "nobody")
    assert code == 2 and err.strip().startswith("spark-recs: error: recommend_for_users: users ['nobody']")
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    "argv, message",
    [
        (["frobnicate"], "spark-recs: argument command: invalid choice"),
        (["tune", "--out", "x", "--folds", "1"], "--folds must be >= 2"),
        (["tune", "--out", "x", "--ranks", "a,b"], "expected comma-separated numbers"),
        (["stats", "--input", "/no/such/file.csv"], "spark-recs: error: "),
        (["stats", "--loader", "movielens"], "--loader movielens needs --input PATH"),
        (["recommend", "--model", "/no/such/dir", "--users", "a"], "--model /no/such/dir: no such directory"),
        (["recommend", "--model", "m"], "recommend needs --users ID,ID,... or --all"),
        (["recommend", "--model", "m", "--all"], "--all writes every user's top-N to a directory: pass --out DIR"),
        (["tune", "--out", "x", "--protocol", "full-catalogue"], "--protocol full-catalogue is for implicit or binary"),
        (["tune", "--out", "x", "--feedback", "implicit", "--protocol", "held-out-ratings"],
         "--protocol held-out-ratings is for explicit feedback"),
        (["tune", "--out", "x", "--metric", "precision"],
         "spark-recs: error: --metric precision ranks items: explicit feedback is tuned by held-out rating error "
         "(--metric rmse or mae); for ranking use --feedback binary --threshold T or --feedback implicit"),
        (["stats", "--conf", "novalue"], "--conf takes KEY=VALUE"),
        (["stats", "--master", "local[1]", "--remote", "local[1]"], "--master and --remote exclude each other"),
        # every numeric option is checked before any Spark work, naming the option
        (["tune", "--out", "x", "--feedback", "implicit", "--metric", "precision", "--k", "0"],
         "spark-recs: error: --k must be >= 1, found 0"),
        (["tune", "--out", "x", "--max-iter", "0"], "--max-iter must be >= 1, found 0"),
        (["tune", "--out", "x", "--threshold", "nan"], "--threshold must be a finite number, found nan"),
        (["tune", "--out", "x", "--alphas", "1,-2"], "--alphas expected comma-separated finite numbers >= 0"),
        (["tune", "--out", "x", "--ranks", "2,0"], "--ranks expected comma-separated whole numbers >= 1"),
        (["compare", "--holdout", "1.5"], "--holdout must be between 0 and 1, found 1.5"),
        (["compare", "--parallelism", "0"], "--parallelism must be >= 1, found 0"),
        (["compare", "--blocks", "0"], "--blocks must be >= 1, found 0"),
        (["stats", "--ratings", "0"], "--ratings must be >= 1, found 0"),
        (["recommend", "--model", "m", "--users", "a", "--n", "0"], "--n must be >= 1, found 0"),
    ],
)
def test_bad_arguments_one_line_exit_2(capsys, argv, message):
    code, _, err = run(capsys, *argv)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], err
    assert "at org.apache" not in err and "Traceback" not in err


def test_module_entry_point_help():
    done = subprocess.run([sys.executable, "-m", "spark_recs", "--help"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0
    for command in ("demo", "stats", "tune", "compare", "recommend"):
        assert command in done.stdout
    assert "demo, stats, tune, compare, recommend" in done.stdout


def test_help_gives_every_option_its_text_and_default():
    from spark_recs.cli import _parser

    parser = _parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices
    assert sorted(commands) == ["compare", "demo", "recommend", "similar", "stats", "tune"]
    for name, command in commands.items():
        formatter = command._get_formatter()
        for action in command._actions:
            if action.help == argparse.SUPPRESS or "-h" in action.option_strings:
                continue
            text = formatter._expand_help(action)
            assert "default" in text or "required" in text, f"{name} {action.option_strings}: {text!r}"
    tune_help = commands["tune"].format_help()
    for expected in ("--seed SEED", "(default: 42)", "--ranks RANKS", "(default: 16,32)", "--max-iter", "--folds",
                     "--feedback", "(default: explicit)", "--reg-params"):
        assert expected in tune_help, expected
    recommend_help = commands["recommend"].format_help()
    assert "--n N" in recommend_help and "--title-col" in recommend_help and "(default: title)" in recommend_help
    assert "--seed" not in recommend_help and "--parallelism" not in recommend_help  # they do nothing there
    similar_help = " ".join(commands["similar"].format_help().split())
    for expected in ("--items ITEMS", "--metric {cosine,dot}", "(default: cosine)", "neighbours per item (default: 10)",
                     "every item's neighbours to"):
        assert expected in similar_help, expected


def test_removed_recommend_options_are_accepted_with_a_note(capsys):
    with pytest.warns(DeprecationWarning, match=r"recommend --seed is deprecated and does nothing"):
        code, _, err = run(capsys, "recommend", "--model", "/no/such/dir", "--users", "a", "--seed", "3",
                           "--parallelism", "4")
    lines = err.strip().splitlines()
    assert lines[:2] == [
        "spark-recs: note: recommend --seed is deprecated and does nothing (recommend fits nothing); it will be "
        "removed in the next release: leave it out",
        "spark-recs: note: recommend --parallelism is deprecated and does nothing (recommend fits nothing); it will "
        "be removed in the next release: leave it out",
    ]
    assert code == 2 and lines[2] == "spark-recs: error: --model /no/such/dir: no such directory"


def test_stats_reports_the_sparsity_of_the_interactions(capsys, tmp_path):
    # zero-filled: 2 users x 3 items, every pair a row, 3 of them played
    path = tmp_path / "filled.csv"
    path.write_text("user,item,rating\na,x,3\na,y,0\na,z,1\nb,x,0\nb,y,2\nb,z,0\n")
    code, out, err = run(capsys, "stats", "--input", str(path))
    assert code == 0, err
    stats = json.loads(out)
    assert (stats["rows"], stats["interactions"], stats["sparsity"]) == (6, 3, 0.5)
    assert stats["sparsity_of"].startswith("interactions: rows whose rating is not 0")


@pytest.mark.end_to_end
@pytest.mark.parametrize("command", ["tune", "compare"])
def test_help_prints_the_settings_defaults(capsys, command):
    from spark_recs.settings import DEFAULTS

    assert main([command, "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())  # argparse wraps lines
    assert DEFAULTS.ranks == (16, 32) and DEFAULTS.alphas == (1.0, 5.0) and DEFAULTS.weighting == "log"
    for shown in ("ALS ranks (default: 16,32)", "ALS regParams (default: 0.1)", "(default: 1,5)",
                  "--weighting {none,log,bm25}", "or r itself (default: log)", "per fit (default: 10)",
                  "folds (default: 2)", "(default: 0.25)", "(default: 42)", "at once (default: 2)"):
        assert shown in text, shown
    assert ("k of precision/recall/ndcg (default: 10)" in text) == (command == "tune")


def test_demo_keeps_shuffle_partitions_the_user_sets(spark_session, monkeypatch):
    import spark_recs.demo as demo

    calls = []
    monkeypatch.setattr(demo, "run_demo", lambda spark, **kw: calls.append(kw))
    key = "spark.sql.shuffle.partitions"
    before = spark_session.conf.get(key)
    try:
        assert main(["demo", "--quick"]) == 0
        assert main(["demo", "--quick", "--conf", f"{key}=3"]) == 0
    finally:
        spark_session.conf.set(key, before)
    assert calls[0]["shuffle_partitions"] == demo.DEMO_SHUFFLE_PARTITIONS  # the demo's own default
    assert calls[1]["shuffle_partitions"] is None  # the user's --conf stands


def test_shuffle_partitions_are_put_back_when_the_demo_fails(spark_session):
    from spark_recs.workflow import sized_shuffles as _shuffle_partitions

    key = "spark.sql.shuffle.partitions"
    before = spark_session.conf.get(key)
    with pytest.raises(RuntimeError, match="boom"):
        with _shuffle_partitions(spark_session, 9):
            assert spark_session.conf.get(key) == "9"
            raise RuntimeError("boom")
    assert spark_session.conf.get(key) == before
    with _shuffle_partitions(spark_session, None):
        assert spark_session.conf.get(key) == before


#: Runs main() in a fresh process and names the kind of session it ran on.
REPORTING_MAIN = (
    "import sys; from pyspark.sql import SparkSession; from spark_recs.cli import main; code = main(sys.argv[1:]); "
    "print('SESSION', type(SparkSession.getActiveSession()).__module__); sys.exit(code)"
)


needs_pyspark4 = pytest.mark.skipif(spark_version() < (4, 0), reason="--remote needs Spark Connect, which runs pyspark.ml from PySpark 4.0 on")
needs_grpc = pytest.mark.skipif(importlib.util.find_spec("grpc") is None, reason="--remote needs the Spark Connect client: pip install '.[connect]'")


def run_remote(*argv):
    """main(argv + --remote) in a fresh process on Spark Connect; returns (stdout before the
    SESSION line, stderr)."""
    from pyspark.sql.utils import is_remote

    # On the Connect leg this run's own local server holds the default port: the command then
    # connects to it as to any server (sc://localhost, with the token its parent holds);
    # otherwise local[2] starts a server in the command's process.
    remote = "sc://localhost" if is_remote() else "local[2]"
    env = {k: v for k, v in os.environ.items() if k not in ("SPARK_REMOTE", "SPARK_LOCAL_REMOTE", "SPARK_CONNECT_MODE_ENABLED")}
    done = subprocess.run([sys.executable, "-c", REPORTING_MAIN, *argv, "--remote", remote],
                          capture_output=True, text=True, timeout=900, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    out, session = done.stdout.rsplit("SESSION", 1)
    assert session.strip() == "pyspark.sql.connect.session"
    assert "Failed to set" not in done.stderr  # the settings a starting server took are not re-set noisily
    return out, done.stderr


@needs_pyspark4
@needs_grpc
@pytest.mark.end_to_end
def test_remote_runs_on_spark_connect(plays_csv):
    out, _err = run_remote("stats", "--input", plays_csv, "--user-col", "listener", "--item-col", "track",
                           "--rating-col", "count")
    assert json.loads(out)["users"] == 40


@needs_pyspark4
@needs_grpc
@pytest.mark.end_to_end
def test_demo_quick_prints_the_whole_workflow_on_spark_connect():
    # The whole workflow, on Connect as Databricks notebooks run it: its plans must stay within
    # what Connect accepts (the implicit part once went past the ~100-level message nesting
    # limit). The demo's shuffle sizing: test_demo_keeps_shuffle_partitions_the_user_sets and
    # test_shuffle_partitions_are_put_back_when_the_demo_fails.
    out, err = run_remote("demo", "--quick")
    for expected in ("== explicit feedback", "best params: rank=", "held-out RMSE (the other 20%): ALS", "bias baseline",
                     "== implicit feedback", "cross-validated ROEM", "held-out ROEM: ALS", "held-out precision@10: ALS",
                     "most-popular", "top-5 for", "the field's protocol", "cross-validated precision@10",
                     "ndcgAtK@10", "demo finished in"):
        assert expected in out, expected
    # --quick: one grid point (the full demo has four), 2 folds
    assert "[explicit] fit 4/4" in err and "[implicit] fit 3/3" in err  # 2 folds + the refit (explicit: on train, on all)
    assert "[full-catalogue] fit 4/4" in err  # 2 folds, the refit on train, on all
    titles = [line for line in out.splitlines() if line.startswith("user_") and "(" in line]
    assert len(titles) == 2 * 3 * 5  # top-5 with titles for three users, twice


@pytest.mark.classic_only("spark-submit runs its own classic application; the Connect leg would repeat it")
@pytest.mark.end_to_end
def test_runs_under_spark_submit(tmp_path):
    """`spark-recs tune --max-iter 12` under spark-submit: the application's session has no
    checkpoint directory until the command gives it one (without one, more than 10 ALS
    iterations raise before fitting: tests/checkpoint_job.py), so it fits and reports with no
    JVM stack trace. Explicit feedback: the fewest fits (2 folds and the refit); the check
    before fitting is the same for every protocol (workflow.tune)."""
    import shutil

    import pyspark

    import spark_recs

    submit = shutil.which("spark-submit", path=os.path.dirname(sys.executable)) or shutil.which("spark-submit")
    assert submit, "pyspark installs spark-submit beside python"
    entry = os.path.join(os.path.dirname(spark_recs.__file__), "__main__.py")
    env = dict(os.environ, SPARK_HOME=os.path.dirname(pyspark.__file__), PYSPARK_PYTHON=sys.executable,
               PYSPARK_DRIVER_PYTHON=sys.executable)
    out = str(tmp_path / "tuned")
    done = subprocess.run(
        [submit, "--master", "local[2]", "--conf", "spark.ui.enabled=false", "--conf", "spark.sql.shuffle.partitions=2",
         entry, "tune", "--feedback", "explicit", "--users", "30", "--items", "40", "--ratings", "400", "--ranks", "2",
         "--reg-params", "0.1", "--max-iter", "12", "--folds", "2", "--blocks", "1", "--out", out],
        capture_output=True, text=True, timeout=900, env=env,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    # spark-submit's PythonRunner merges the driver's stderr into its stdout: progress, then the JSON
    report = done.stdout.index("\n{\n")
    assert json.loads(done.stdout[report:])["metric"] == "rmse"
    assert "[tune] fit 4/4" in done.stdout[:report]  # 2 folds, the refit on train, on all
    assert "StackOverflowError" not in done.stdout + done.stderr


@pytest.mark.parametrize(
    "env, master, remote, expected",
    [
        ({}, None, None, sys.executable),  # PySpark's default master is local
        ({}, "local[2]", None, sys.executable),
        ({}, None, "local[2]", sys.executable),  # a Connect server started here
        ({}, "yarn", None, None),  # a cluster's workers run their own Python
        ({}, None, "sc://spark-host:15002", None),  # a shared Connect server
        ({"PYSPARK_GATEWAY_PORT": "4242"}, None, None, None),  # under spark-submit
        ({"PYSPARK_PYTHON": "/opt/python3"}, "local[2]", None, "/opt/python3"),  # the user's choice
    ],
)
def test_local_workers_run_this_python(monkeypatch, env, master, remote, expected):
    # an unactivated venv's console script (.venv/bin/spark-recs) got workers without pandas
    from spark_recs._session import local_python_workers

    for var in ("PYSPARK_PYTHON", "PYSPARK_GATEWAY_PORT"):
        monkeypatch.delenv(var, raising=False)
    for var, value in env.items():
        monkeypatch.setenv(var, value)
    local_python_workers(master, remote)
    assert os.environ.get("PYSPARK_PYTHON") == expected
