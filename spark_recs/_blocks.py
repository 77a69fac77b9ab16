"""Blockwise scoring of user factors against item factors in numpy, on Arrow batches.

What ``UnseenItemRankerModel`` runs inside ``mapInPandas``, as Spark's own ``recommendForAll``
blockifies: users and items are packed into blocks (``pack_users``, ``pack_items``), every
user block meets every item block in one task, and the task scores the pair of blocks with one
matrix product. The block sizes bound a task's memory: a user block of ``bu`` users against an
item block of ``bi`` items holds a ``bu x bi`` score matrix (8 bytes a score while it is
computed, 4 after). Nothing here runs a Spark job or sees more than its batch.

Scores: ``float32(U @ V.T)`` computed in float64 from ALS's float32 factors (every product is
exact in float64; the sum is rounded once, to float32). A held-out row's own score (its
target) comes from the same float64 sum, rounded the same way; the row's own entry in the
score matrix is never compared with its target (it is the row itself), so two computations
can never disagree about a row ranking above itself. Candidates with exactly the target's
float32 score are ties.
"""

from typing import Callable, Iterator, List

import numpy as np
import pandas as pd

__all__ = [
    "USER_BLOCK_SCHEMA", "ITEM_BLOCK_SCHEMA", "RANK_SCHEMA", "TOP_SCHEMA",
    "pack_users", "pack_items", "rank_in_blocks", "top_in_blocks",
]

#: One user block: its users (ids, positions 0..bu-1 by list order), their factors (float32,
#: row-major bytes; zeros for users without factors), the held-out rows (user position, item,
#: target score) and the seen pairs (user position, item).
USER_BLOCK_SCHEMA = (
    "users array<int>, rank int, U binary, h_pos array<int>, h_item array<int>, h_target array<float>, "
    "s_pos array<int>, s_item array<int>"
)
#: One item block: its items, ascending, and their factors (float32, row-major bytes).
ITEM_BLOCK_SCHEMA = "items array<int>, V binary"
#: Per held-out row and item block: candidates scored above the target, tied with it (the row
#: itself left out), and tied with a smaller item id.
RANK_SCHEMA = "user int, item int, target float, above long, tied long, tied_before long"
#: Per user and item block: its best unseen items there, with their scores.
TOP_SCHEMA = "user int, item int, score float"

#: Held-out rows compared with an item block at a time (bounds the comparison matrices:
#: rows x bi booleans).
_CHUNK = 1024


def _factors(vectors: pd.Series, rank: int) -> np.ndarray:
    """float32 matrix of a column of factor arrays; a null (no factors) is a row of zeros."""
    out = np.zeros((len(vectors), rank), dtype=np.float32)
    for i, v in enumerate(vectors):
        if v is not None:
            out[i] = v
    return out


def _targets(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Row-wise float32(u . v), summed in float64."""
    return np.einsum("ij,ij->i", u.astype(np.float64), v.astype(np.float64)).astype(np.float32)


#: What ``mapInPandas`` runs: pandas batches in, pandas batches out.
BatchFunction = Callable[[Iterator[pd.DataFrame]], Iterator[pd.DataFrame]]


def pack_users(rank: int, block_size: int) -> BatchFunction:
    """``mapInPandas`` function: rows (user, features, held: array<struct<item, features>>,
    seen: array<int>) -> user blocks of at most ``block_size`` users (USER_BLOCK_SCHEMA).
    A held-out item without factors is held with a zero vector (target 0, the score every
    item has for a user without factors)."""

    def pack(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        pending: List[pd.DataFrame] = []
        size = 0
        for batch in batches:
            pending.append(batch)
            size += len(batch)
            while size >= block_size:
                rows = pd.concat(pending, ignore_index=True)
                yield _user_block(rows.iloc[:block_size], rank)
                rest = rows.iloc[block_size:]
                pending, size = ([rest] if len(rest) else []), len(rest)
        if size:
            yield _user_block(pd.concat(pending, ignore_index=True), rank)

    return pack


def _user_block(rows: pd.DataFrame, rank: int) -> pd.DataFrame:
    users = rows["user"].to_numpy(dtype=np.int64)
    u = _factors(rows["features"], rank)
    h_pos, h_item, h_vec, s_pos, s_item = [], [], [], [], []
    for pos, (held, seen) in enumerate(zip(rows["held"], rows["seen"])):
        for entry in held:
            h_pos.append(pos)
            h_item.append(entry["item"])
            h_vec.append(entry["features"])
        if seen is not None:
            s_pos.extend([pos] * len(seen))
            s_item.extend(seen)
    hv = _factors(pd.Series(h_vec, dtype=object), rank) if h_vec else np.zeros((0, rank), np.float32)
    pos_arr = np.asarray(h_pos, dtype=np.int64)
    targets = _targets(u[pos_arr], hv) if len(pos_arr) else np.zeros(0, np.float32)
    return pd.DataFrame({
        "users": [users.astype(np.int32)], "rank": [rank], "U": [u.tobytes()],
        "h_pos": [pos_arr.astype(np.int32)], "h_item": [np.asarray(h_item, dtype=np.int32)],
        "h_target": [targets], "s_pos": [np.asarray(s_pos, dtype=np.int32)],
        "s_item": [np.asarray(s_item, dtype=np.int32)],
    })


def pack_items(rank: int, block_size: int) -> BatchFunction:
    """``mapInPandas`` function: item factor rows (id, features) -> item blocks of at most
    ``block_size`` items, ascending by id (ITEM_BLOCK_SCHEMA)."""

    def pack(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        rows = [b for b in batches if len(b)]
        if not rows:
            return
        all_rows = pd.concat(rows, ignore_index=True)
        for start in range(0, len(all_rows), block_size):
            part = all_rows.iloc[start:start + block_size]
            order = np.argsort(part["id"].to_numpy(), kind="stable")
            ids = part["id"].to_numpy(dtype=np.int32)[order]
            v = _factors(part["features"], rank)[order]
            yield pd.DataFrame({"items": [ids], "V": [v.tobytes()]})

    return pack


def _scores(row: pd.Series) -> tuple:
    """(users, items, score matrix with seen pairs as NaN) of one (user block, item block)."""
    rank = int(row["rank"])
    users = np.asarray(row["users"], dtype=np.int64)
    items = np.asarray(row["items"], dtype=np.int64)
    u = np.frombuffer(row["U"], dtype=np.float32).reshape(len(users), rank)
    v = np.frombuffer(row["V"], dtype=np.float32).reshape(len(items), rank)
    s = (u.astype(np.float64) @ v.astype(np.float64).T).astype(np.float32)
    s_item = np.asarray(row["s_item"], dtype=np.int64)
    if len(s_item):
        cols = np.searchsorted(items, s_item)
        inside = cols < len(items)
        inside[inside] = items[cols[inside]] == s_item[inside]
        s[np.asarray(row["s_pos"], dtype=np.int64)[inside], cols[inside]] = np.nan
    return users, items, s


def rank_in_blocks(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
    """``mapInPandas`` function over (user block x item block) rows: for each held-out row of
    the user block, the unseen candidates of the item block above and tied with its target
    (RANK_SCHEMA). Seen items are NaN, so no comparison counts them."""
    for batch in batches:
        for _, row in batch.iterrows():
            users, items, s = _scores(row)
            h_pos = np.asarray(row["h_pos"], dtype=np.int64)
            h_item = np.asarray(row["h_item"], dtype=np.int64)
            target = np.asarray(row["h_target"], dtype=np.float32)
            n = len(h_pos)
            above = np.zeros(n, np.int64)
            tied = np.zeros(n, np.int64)
            before = np.zeros(n, np.int64)
            for lo in range(0, n, _CHUNK):
                hi = min(n, lo + _CHUNK)
                t = target[lo:hi, None]
                scores = s[h_pos[lo:hi]]
                above[lo:hi] = (scores > t).sum(1)
                equal = scores == t
                tied[lo:hi] = equal.sum(1)
                before[lo:hi] = (equal & (items[None, :] < h_item[lo:hi, None])).sum(1)
                # the row's own item is a candidate of this block: never count it against itself
                own = np.searchsorted(items, h_item[lo:hi])
                here = own < len(items)
                here[here] = items[own[here]] == h_item[lo:hi][here]
                rows_here = np.flatnonzero(here)
                own_score = scores[rows_here, own[rows_here]]
                above[lo + rows_here] -= own_score > target[lo + rows_here]
                tied[lo + rows_here] -= own_score == target[lo + rows_here]
            yield pd.DataFrame({
                "user": users[h_pos].astype(np.int32), "item": h_item.astype(np.int32), "target": target,
                "above": above, "tied": tied, "tied_before": before,
            })


def top_in_blocks(n: int) -> BatchFunction:
    """``mapInPandas`` function over (user block x item block) rows: each user's ``n`` best
    unseen items of the item block, by score descending, ties by item ascending (TOP_SCHEMA)."""

    def top(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for batch in batches:
            for _, row in batch.iterrows():
                users, items, s = _scores(row)
                k = min(n, len(items))
                if k == 0 or len(users) == 0:
                    continue
                # NaN (seen) last; among equal scores the smaller item first (items ascend)
                key = np.where(np.isnan(s), np.inf, -s)
                if k < len(items):
                    part = np.argpartition(key, k - 1, axis=1)[:, :k]
                else:
                    part = np.tile(np.arange(len(items)), (len(users), 1))
                # argpartition does not keep ties by item: widen to every item tied with the k-th
                kth = np.take_along_axis(key, part, 1).max(1)
                rows, cols = np.nonzero(key <= kth[:, None])
                order = np.lexsort((items[cols], key[rows, cols], rows))
                rows, cols = rows[order], cols[order]
                first = np.searchsorted(rows, np.arange(len(users)))
                keep = (np.arange(len(rows)) - first[rows]) < k
                keep &= ~np.isnan(s[rows, cols])
                rows, cols = rows[keep], cols[keep]
                yield pd.DataFrame({
                    "user": users[rows].astype(np.int32), "item": items[cols].astype(np.int32),
                    "score": s[rows, cols].astype(np.float32),
                })

    return top
