"""The full-catalogue engine's scale curve: evaluate and top-10 at grids of 10^8, 10^9 and 10^10
user-item scores, in one process each (``full_catalogue.py``), drawn as a PNG.

    python benchmarks/scale_curve.py                    # the three sizes, about 20 min on 2 cores
    python benchmarks/scale_curve.py --plot-only        # redraw from benchmarks/results/scale-*.json

For each size it runs ``full_catalogue.py --users U --items I`` (one round, 100 users checked
against numpy), reads its JSON and plots, per 10^9 scores: our evaluate (P@10 + ROEM of the
held-out rows, every one ranked among all its user's unseen items), our top-10 for all users
(seen items left out) and Spark's ``ALSModel.recommendForAllUsers(10)`` (nothing left out),
with numpy's float64 matrix product on two cores (twice its one-thread rate, measured in the
same process) as the floor. A flat line means the time per score does not grow with size.
Needs matplotlib (the ``plot`` extra).
"""

import argparse
import glob
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SIZES = [("1e8", 10_000, 10_000), ("1e9", 100_000, 10_000), ("1e10", 200_000, 50_000)]


def run_size(tag: str, users: int, items: int, extra: list) -> str:
    out = os.path.join(HERE, "results", f"scale-{tag}.json")
    cmd = [sys.executable, os.path.join(HERE, "full_catalogue.py"), "--users", str(users), "--items", str(items),
           "--out", out, *extra]
    print("$", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True)
    return out


def summary(path: str) -> dict:
    with open(path) as f:
        r = json.load(f)
    scores = r["data"]["held_out_users"] * r["data"]["items"]
    cases = r["cases"]
    rate = r["numpy_scores_per_second"]
    one = sum(v["1 thread"] for v in rate.values()) / len(rate)
    out = {"scores": scores, "users": r["data"]["users"], "items": r["data"]["items"],
           "numpy_2core_s": scores / (2 * one), "check_ok": r.get("check", {}).get("ok")}
    if "evaluate" in cases:
        out["evaluate_s"] = cases["evaluate"]["summary"]["ours"]["median_s"]
    if "top10" in cases:
        out["top10_s"] = cases["top10"]["summary"]["ours"]["median_s"]
        out["spark_top10_s"] = cases["top10"]["summary"]["naive"]["median_s"]
    return out


def plot(rows: list, png: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = sorted(rows, key=lambda r: r["scores"])
    x = [r["scores"] for r in rows]
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for key, label, style in (("evaluate_s", "evaluate (P@10 + ROEM, all unseen items)", "o-"),
                              ("top10_s", "top-10 for all users, seen left out", "s-"),
                              ("spark_top10_s", "Spark recommendForAllUsers(10)", "^--"),
                              ("numpy_2core_s", "numpy float64 matrix product, 2 cores", "k:")):
        pts = [(r["scores"], r[key] / r["scores"] * 1e9) for r in rows if key in r]
        if pts:
            ax.plot([p[0] for p in pts], [p[1] for p in pts], style, label=label)
    ax.set_xscale("log")
    ax.set_xticks(x)
    ax.set_xticklabels([f"{r['users']:,} x {r['items']:,}" for r in rows], fontsize=8)
    ax.set_xlabel("users x items (user-item scores)")
    ax.set_ylabel("seconds per 10^9 scores")
    ax.set_ylim(bottom=0)
    ax.set_title("spark-recs full-catalogue engine, 2 cores, local[2], rank 32")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(png, dpi=110)
    print("wrote", png)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--plot-only", action="store_true")
    ap.add_argument("--png", default=os.path.join(HERE, "scale_curve.png"))
    args, extra = ap.parse_known_args(argv)
    if args.plot_only:
        paths = sorted(glob.glob(os.path.join(HERE, "results", "scale-*.json")))
    else:
        paths = [run_size(tag, u, i, extra) for tag, u, i in SIZES]
    rows = [summary(p) for p in paths]
    for r in rows:
        print(json.dumps(r))
    plot(rows, args.png)
    with open(os.path.splitext(args.png)[0] + ".json", "w") as f:
        json.dump(rows, f, indent=1)
    return 0 if all(r.get("check_ok") is not False for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
