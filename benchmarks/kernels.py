"""Micro-benchmark of the full-catalogue engine's kernels (spark_recs/_blocks.py), one block at
a time, without Spark: where a task's time goes.

For each block shape it times, in one process, medians over ``--repeats`` (after one untimed
call, which compiles the numba kernels or loads them from numba's cache):

- ``matmul``: the block's scores alone, ``float32(U @ V.T)`` in float64: the floor; and the
  same product in float32 (what a float32 engine with an exact re-check would pay);
- ``rank``: ``rank_block`` (scores + one pass per user over them: the light kernel's one
  vectorised pass per target, or the heavy kernel's binary search), and ``numpy rank``: the
  engine's kernel before 0.2.0, three numpy compare-and-sum passes per held-out row over its
  score row (copied below, as the naive way);
- ``top``: ``top_block`` (a running top-N per user), and ``numpy top``: the former
  ``argpartition`` + ``lexsort`` kernel.

Both ways are checked to give the same counts and the same top-N on every block. Figures are
CPU seconds of this process (``time.process_time``), so another process on the other core
disturbs them less; run it alone all the same.

    python benchmarks/kernels.py                      # 1,024 x 3,847, rank 32
    python benchmarks/kernels.py --items 25000 --held 1,10,40,200 --repeats 5
"""

import argparse
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from spark_recs import _blocks as B  # noqa: E402


def block(rng, users, items, rank, seen, held):
    u = rng.normal(size=(users, rank)).astype(np.float32)
    v = rng.normal(size=(items, rank)).astype(np.float32)
    s = [np.sort(rng.choice(items, seen, replace=False)) for _ in range(users)]
    h = []
    for row in s:
        free = np.setdiff1d(np.arange(items), row)
        h.append(np.sort(rng.choice(free, min(held, len(free)), replace=False)))

    def ptr(lists):
        return np.concatenate([[0], np.cumsum([len(x) for x in lists])]).astype(np.int64)

    return {"users": np.arange(users, dtype=np.int32), "U": u, "items": np.arange(items, dtype=np.int32), "V": v,
            "h_ptr": ptr(h), "h_item": np.concatenate(h).astype(np.int64),
            "s_ptr": ptr(s), "s_item": np.concatenate(s).astype(np.int64)}


def numpy_rank(blk, chunk=1024):
    """The engine's kernel before 0.2.0: seen pairs NaN in the score matrix, then per held-out
    row three compare-and-sum passes over its score row (above, tied, tied with a smaller id)."""
    items = blk["items"].astype(np.int64)
    s = B._scores(blk["U"].astype(np.float64), blk["V"].astype(np.float64))
    owner_s = np.repeat(np.arange(len(blk["users"])), np.diff(blk["s_ptr"]))
    s[owner_s, np.searchsorted(items, blk["s_item"])] = np.nan
    h_pos = np.repeat(np.arange(len(blk["users"])), np.diff(blk["h_ptr"]))
    h_item = blk["h_item"]
    u = blk["U"].astype(np.float64)[h_pos]
    target = np.einsum("ij,ij->i", u, blk["V"].astype(np.float64)[np.searchsorted(items, h_item)]).astype(np.float32)
    n = len(h_pos)
    above, tied, before = np.zeros(n, np.int64), np.zeros(n, np.int64), np.zeros(n, np.int64)
    for lo in range(0, n, chunk):
        hi = min(n, lo + chunk)
        t = target[lo:hi, None]
        scores = s[h_pos[lo:hi]]
        above[lo:hi] = (scores > t).sum(1)
        equal = scores == t
        tied[lo:hi] = equal.sum(1)
        before[lo:hi] = (equal & (items[None, :] < h_item[lo:hi, None])).sum(1)
        own = np.searchsorted(items, h_item[lo:hi])
        own_score = scores[np.arange(hi - lo), own]
        above[lo:hi] -= own_score > target[lo:hi]
        tied[lo:hi] -= own_score == target[lo:hi]
    return h_pos, h_item, above, tied, before


def numpy_top(blk, n):
    """The former top-N kernel: a full argpartition of the block, widened at ties, lexsorted."""
    items = blk["items"].astype(np.int64)
    s = B._scores(blk["U"].astype(np.float64), blk["V"].astype(np.float64))
    owner_s = np.repeat(np.arange(len(blk["users"])), np.diff(blk["s_ptr"]))
    s[owner_s, np.searchsorted(items, blk["s_item"])] = np.nan
    k = min(n, len(items))
    key = np.where(np.isnan(s), np.inf, -s)
    part = np.argpartition(key, k - 1, axis=1)[:, :k]
    kth = np.take_along_axis(key, part, 1).max(1)
    rows, cols = np.nonzero(key <= kth[:, None])
    order = np.lexsort((items[cols], key[rows, cols], rows))
    rows, cols = rows[order], cols[order]
    first = np.searchsorted(rows, np.arange(len(blk["users"])))
    keep = ((np.arange(len(rows)) - first[rows]) < k) & ~np.isnan(s[rows, cols])
    return rows[keep], items[cols[keep]]


def timed(f, repeats):
    f()
    out = []
    for _ in range(repeats):
        t = time.process_time()
        f()
        out.append(time.process_time() - t)
    return float(np.median(out))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--users", type=int, default=1024)
    ap.add_argument("--items", type=int, default=3847)
    ap.add_argument("--rank", type=int, default=32)
    ap.add_argument("--seen", type=int, default=50, help="seen items per user")
    ap.add_argument("--held", default="1,10,40", help="held-out rows per user, one block each")
    ap.add_argument("--item-block", type=int, default=4096)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--out", help="JSON report")
    args = ap.parse_args(argv)
    rng = np.random.default_rng(0)
    report = []
    for held in [int(x) for x in args.held.split(",")]:
        blk = block(rng, args.users, args.items, args.rank, args.seen, held)
        u64, v64 = blk["U"].astype(np.float64), blk["V"].astype(np.float64)
        ours = B.rank_block(blk, args.item_block, True)
        pos, item, above, tied, before = numpy_rank(blk)
        order = np.lexsort((item, pos))
        mine = np.lexsort((ours["item"], ours["user"]))
        same = (np.array_equal(ours["numAbove"][mine], above[order])
                and np.array_equal(ours["numTied"][mine] - 1, tied[order])
                and np.array_equal(ours["rank"][mine], (above + before + 1)[order]))
        offsets, top_items, _ = B.top_block(blk, 10, args.item_block)
        rows, naive_items = numpy_top(blk, 10)
        same_top = np.array_equal(top_items, naive_items) and np.array_equal(np.diff(offsets), np.bincount(rows, minlength=args.users))
        row = {
            "users": args.users, "items": args.items, "rank": args.rank, "held_per_user": held,
            "matmul_ms": 1e3 * timed(lambda: B._scores(u64, v64), args.repeats),
            "matmul32_ms": 1e3 * timed(lambda: blk["U"] @ blk["V"].T, args.repeats),
            "rank_ms": 1e3 * timed(lambda: B.rank_block(blk, args.item_block, True), args.repeats),
            "numpy_rank_ms": 1e3 * timed(lambda: numpy_rank(blk), args.repeats),
            "top_ms": 1e3 * timed(lambda: B.top_block(blk, 10, args.item_block), args.repeats),
            "numpy_top_ms": 1e3 * timed(lambda: numpy_top(blk, 10), args.repeats),
            "same_counts": bool(same), "same_top": bool(same_top),
        }
        report.append(row)
        print(f"{args.users} x {args.items}, rank {args.rank}, {held} held/user: matmul {row['matmul_ms']:.1f} ms "
              f"(float32 {row['matmul32_ms']:.1f}); "
              f"rank {row['rank_ms']:.1f} ms (numpy {row['numpy_rank_ms']:.1f}: {row['numpy_rank_ms'] / row['rank_ms']:.1f}x); "
              f"top-10 {row['top_ms']:.1f} ms (numpy {row['numpy_top_ms']:.1f}: {row['numpy_top_ms'] / row['top_ms']:.1f}x); "
              f"same {same and same_top}")
    if args.out:
        with open(args.out, "w") as f:
            json.dump(report, f, indent=1)
    return 0 if all(r["same_counts"] and r["same_top"] for r in report) else 1


if __name__ == "__main__":
    sys.exit(main())
