"""The full-catalogue engine's kernels: user blocks scored against the whole catalogue, one
task per user block, on Arrow batches.

What ``UnseenItemRankerModel`` runs inside ``mapInArrow``, as Spark's own ``recommendForAll``
blockifies: the users of a partition are packed into one user block (:py:func:`pack_users`),
the catalogue into one row (:py:func:`pack_catalogue`, broadcast), and each task scores its
block against every item, ``itemBlockSize`` items at a time, carrying per-user state from one
item chunk to the next, so it emits final rows: one per held-out row (:py:func:`rank_users`)
or one per user (:py:func:`top_users`). Nothing here runs a Spark job or sees more than its
batch; the per-user loops are compiled with numba (:py:func:`count_light`, :py:func:`count_heavy`,
:py:func:`top_chunk`), the scores are one matrix product per chunk.

Scores: ``float32(U @ V.T)`` computed in float64 from ALS's float32 factors (every product is
exact in float64; the sum is rounded once, to float32). A held-out row's own score (its
target) comes from the same float64 sum, rounded the same way; its own entry in the score
matrix is never compared with its target (it is the row itself), so two computations can
never disagree about a row ranking above itself. Candidates with exactly the target's float32
score are ties. A NaN score (a NaN factor, or a user or item without factors) ranks after
every other score and ties with the other NaN scores; top-N never recommends it.
"""

from typing import Callable, Dict, Iterator, Tuple

import numba
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

__all__ = [
    "USER_BLOCK_SCHEMA", "CATALOGUE_SCHEMA", "RANK_SCHEMA", "top_schema",
    "pack_users", "pack_catalogue", "rank_users", "top_users", "top_chunk",
    "rank_block", "top_block", "count_light", "count_heavy", "finish_ranks", "LIGHT_TARGETS",
]

#: One user block: its users, their factors (float32, row-major bytes; NaN rows for users
#: without factors), the held-out items per user and the seen items per user (ascending), each
#: as offsets into a flat array.
USER_BLOCK_SCHEMA = (
    "users array<int>, U binary, h_ptr array<int>, h_item array<int>, s_ptr array<int>, s_item array<int>"
)
#: The whole catalogue in one row: its items ascending, the rank and their factors (float32,
#: row-major bytes).
CATALOGUE_SCHEMA = "items array<int>, rank int, V binary"
#: One final row per held-out row: its score (NaN when it has none), rank (ties by item id),
#: candidates above it, tied with it (itself included), the user's candidates, and whether the
#: pair was in the fit data (then it is not a candidate: the caller raises).
RANK_SCHEMA = (
    "user int, item int, prediction float, rank int, numAbove int, numTied int, numCandidates int, "
    "inFit boolean"
)


def top_schema(item: str) -> str:
    """One row per user: its top-N unseen items, best first, ties by item id."""
    return f"user int, recommendations array<struct<{item}:int,rating:float>>"


#: What ``mapInArrow`` runs: Arrow batches in, Arrow batches out.
BatchFunction = Callable[[Iterator[pa.RecordBatch]], Iterator[pa.RecordBatch]]


# -- packing ----------------------------------------------------------------------------------

def _offsets_and_values(column: pa.Array) -> Tuple[np.ndarray, np.ndarray]:
    """CSR of a list<int> column: int64 offsets (n + 1) and int32 values; a null list is empty."""
    lengths = pc.fill_null(pc.list_value_length(column), 0).to_numpy(zero_copy_only=False)
    offsets = np.zeros(len(column) + 1, np.int64)
    np.cumsum(lengths, out=offsets[1:])
    values = column.flatten().to_numpy(zero_copy_only=False).astype(np.int32, copy=False)
    return offsets, values


def _dense(column: pa.Array, rank: int) -> np.ndarray:
    """float32 matrix of a list<float> column; a null (no factors) is a row of NaN."""
    out = np.full((len(column), rank), np.nan, np.float32)
    valid = np.asarray(column.is_valid().to_numpy(zero_copy_only=False), bool)
    if valid.any():
        values = column.filter(pa.array(valid)).flatten().to_numpy(zero_copy_only=False)
        out[valid] = np.asarray(values, np.float32).reshape(int(valid.sum()), rank)
    return out


def pack_users(rank: int) -> BatchFunction:
    """``mapInArrow`` function: per-user rows (user int, features array<float> or null, held
    array<int>, seen array<int> ascending or null) -> one user block per partition
    (USER_BLOCK_SCHEMA); nothing when the partition is empty."""

    def pack(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        parts = [b for b in batches if b.num_rows]
        if not parts:
            return
        rows = pa.Table.from_batches(parts).combine_chunks()
        users = rows.column("user").to_numpy().astype(np.int32)
        u = _dense(rows.column("features").chunk(0), rank)
        h_ptr, h_item = _offsets_and_values(rows.column("held").chunk(0))
        s_ptr, s_item = _offsets_and_values(rows.column("seen").chunk(0))
        yield pa.RecordBatch.from_pydict({
            "users": [users], "U": [u.tobytes()], "h_ptr": [h_ptr.astype(np.int32)], "h_item": [h_item],
            "s_ptr": [s_ptr.astype(np.int32)], "s_item": [s_item],
        }, schema=_USER_BLOCK_ARROW)

    return pack


def pack_catalogue(rank: int) -> BatchFunction:
    """``mapInArrow`` function over one partition of item factor rows (id int, features
    array<float>) -> the catalogue in one row, ascending by id (CATALOGUE_SCHEMA); an empty
    catalogue is a row too."""

    def pack(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        parts = [b for b in batches if b.num_rows]
        if parts:
            rows = pa.Table.from_batches(parts).combine_chunks()
            ids = rows.column("id").to_numpy().astype(np.int32)
            v = _dense(rows.column("features").chunk(0), rank)
            order = np.argsort(ids, kind="stable")
            ids, v = ids[order], v[order]
        else:
            ids, v = np.zeros(0, np.int32), np.zeros((0, rank), np.float32)
        yield pa.RecordBatch.from_pydict(
            {"items": [ids], "rank": [rank], "V": [v.tobytes()]}, schema=_CATALOGUE_ARROW
        )

    return pack


_USER_BLOCK_ARROW = pa.schema([
    ("users", pa.list_(pa.int32())), ("U", pa.binary()), ("h_ptr", pa.list_(pa.int32())),
    ("h_item", pa.list_(pa.int32())), ("s_ptr", pa.list_(pa.int32())), ("s_item", pa.list_(pa.int32())),
])
_CATALOGUE_ARROW = pa.schema([("items", pa.list_(pa.int32())), ("rank", pa.int32()), ("V", pa.binary())])


def _block_rows(batches: Iterator[pa.RecordBatch]) -> Iterator[dict]:
    """Each (user block, catalogue) row of the batches as numpy arrays."""
    for batch in batches:
        cols = {name: batch.column(name) for name in batch.schema.names}
        for r in range(batch.num_rows):
            rank = int(cols["rank"][r].as_py())
            items = cols["items"][r].values.to_numpy(zero_copy_only=False).astype(np.int32, copy=False)
            users = cols["users"][r].values.to_numpy(zero_copy_only=False).astype(np.int32, copy=False)
            yield {
                "users": users,
                "U": np.frombuffer(cols["U"][r].as_py(), np.float32).reshape(len(users), rank),
                "items": items,
                "V": np.frombuffer(cols["V"][r].as_py(), np.float32).reshape(len(items), rank),
                **{name: cols[name][r].values.to_numpy(zero_copy_only=False).astype(np.int64)
                   for name in ("h_ptr", "h_item", "s_ptr", "s_item")},
            }


def _chunks(n_users: int, n_items: int, item_block: int) -> Iterator[Tuple[int, int, int, int]]:
    """(u0, u1, c0, c1): item chunks of ``item_block`` items, each over user chunks that keep a
    score chunk near ``item_block x 1024`` scores. Items ascend within and across chunks."""
    users_per = max(1, min(n_users, (1024 * 4096) // max(1, item_block)))
    for c0 in range(0, n_items, item_block):
        c1 = min(n_items, c0 + item_block)
        for u0 in range(0, n_users, users_per):
            yield u0, min(n_users, u0 + users_per), c0, c1


def _scores(u64: np.ndarray, v64: np.ndarray) -> np.ndarray:
    """float32 of the float64 products: the engine's one scoring rule."""
    return (u64 @ v64.T).astype(np.float32)


# -- ranking held-out rows --------------------------------------------------------------------

#: Candidates of a heavy user searched among its targets together (independent searches
#: interleave, so each one's chain of dependent loads does not stall the next).
_BATCH = 16


@numba.njit(cache=True, nogil=True)
def _search_batch(
    buf: np.ndarray, k: int, tv: np.ndarray, h0: int, m: int, gap: np.ndarray, g0: int, tie: np.ndarray,
    lo: np.ndarray,
) -> None:  # pragma: no cover
    """For each of ``buf[:k]``: how many of the ``m`` sorted targets ``tv[h0:h0+m]`` are below it
    (a branch-free binary search, ``k`` of them in lockstep), counted in ``gap``; an equal target
    run counts a tie in ``tie``."""
    for q in range(k):
        lo[q] = h0
    n = m
    while n > 1:
        half = n >> 1
        for q in range(k):
            lo[q] += half * (tv[lo[q] + half] < buf[q])
        n -= half
    for q in range(k):
        x = buf[q]
        at = lo[q] + (tv[lo[q]] < x)
        gap[g0 + at - h0] += 1
        if at < h0 + m and tv[at] == x:
            tie[at] += 1


@numba.njit(cache=True, nogil=True)
def count_heavy(
    s: np.ndarray, items: np.ndarray, u0: int, light: np.ndarray, s_ptr: np.ndarray, s_item: np.ndarray,
    h_ptr: np.ndarray, h_item: np.ndarray, tv: np.ndarray, n_fin: np.ndarray, run: np.ndarray, by_item:
    np.ndarray, seen_at: np.ndarray, ptr: np.ndarray, gap: np.ndarray, tie: np.ndarray, before:
    np.ndarray, own: np.ndarray, own_found: np.ndarray, fin_cnt: np.ndarray, nan_cnt: np.ndarray,
) -> None:  # pragma: no cover
    """One score chunk's counts, for the chunk's users ``u0 .. u0 + len(s) - 1`` of the block.

    Per user ``b`` its targets are ``tv[h_ptr[b]:h_ptr[b+1]]`` ascending, the ``n_fin[b]``
    finite ones first (NaN last); ``run[j]`` is the first index of target ``j``'s run of equal
    values and ``by_item`` the targets' indices by item ascending. In one pass over the user's
    scores (items ascending, seen items skipped by a moving pointer ``seen_at``):
    ``gap[h_ptr[b] + b + p]`` counts finite candidates above exactly the ``p`` smallest targets,
    ``tie[run]`` candidates equal to a run, ``fin_cnt``/``nan_cnt`` finite and NaN candidates;
    when the pass reaches a target's item it records the target's own score (``own``) and, in
    ``before``, the candidates tied with it so far (by item: those with a smaller id)."""
    nu, nc = s.shape
    big = np.iinfo(np.int64).max
    buf = np.empty(_BATCH, np.float32)
    lo = np.empty(_BATCH, np.int64)
    for r in range(nu):
        b = u0 + r
        if light[b]:
            continue
        h0, h1 = h_ptr[b], h_ptr[b + 1]
        m = n_fin[b]
        g0 = h0 + b
        sp, s_end = seen_at[b], s_ptr[b + 1]
        p = ptr[b]
        fc, ncnt = fin_cnt[b], nan_cnt[b]
        next_seen = s_item[sp] if sp < s_end else big
        next_held = h_item[by_item[p]] if p < h1 else big
        lowest = tv[h0] if m > 0 else np.float32(np.inf)
        k = 0
        for c in range(nc):
            it = items[c]
            x = s[r, c]
            if it >= next_held:  # the pass reaches targets' items: their own score, ties so far
                if k:
                    _search_batch(buf, k, tv, h0, m, gap, g0, tie, lo)
                    k = 0
                while p < h1 and h_item[by_item[p]] <= it:
                    j = by_item[p]
                    if h_item[j] == it:
                        own[j] = x
                        own_found[j] = True
                    if j - h0 < m:
                        before[j] = tie[run[j]]
                    else:
                        before[j] = ncnt
                    p += 1
                next_held = h_item[by_item[p]] if p < h1 else big
            if it >= next_seen:
                while sp < s_end and s_item[sp] < it:
                    sp += 1
                next_seen = s_item[sp] if sp < s_end else big
                if next_seen == it:
                    continue  # seen: not a candidate
            if x != x:
                ncnt += 1
                continue
            fc += 1
            if x < lowest:
                continue  # below every target: counts for none (the common case for a good model)
            buf[k] = x
            k += 1
            if k == _BATCH:
                _search_batch(buf, k, tv, h0, m, gap, g0, tie, lo)
                k = 0
        if k:
            _search_batch(buf, k, tv, h0, m, gap, g0, tie, lo)
        seen_at[b], ptr[b], fin_cnt[b], nan_cnt[b] = sp, p, fc, ncnt


#: Users with at most this many finite held-out targets are counted by one vectorised pass over
#: their scores per target (about 0.3 ns a score a target on one core); users with more, by one
#: pass over their scores with a binary search among the sorted targets (a few ns a score,
#: whatever their number): the crossing point measured in benchmarks/kernels.py.
LIGHT_TARGETS = 24


@numba.njit(cache=True, nogil=True)
def count_light(
    s: np.ndarray, c0: int, u0: int, light: np.ndarray, s_ptr: np.ndarray, s_col: np.ndarray, h_ptr:
    np.ndarray, tv: np.ndarray, n_fin: np.ndarray, t_pos: np.ndarray, seen_at: np.ndarray, above:
    np.ndarray, tied: np.ndarray, before: np.ndarray, own_found: np.ndarray, nan_cnt: np.ndarray,
) -> None:  # pragma: no cover
    """One score chunk's counts for the chunk's light users (``light[b]``): per target a
    vectorised pass over the user's scores of the chunk (columns ``c0 ..``) counts the scores
    above it and equal to it, and those equal to it left of its own column (smaller item ids);
    the user's seen columns in the chunk are then taken back out. Per user ``nan_cnt`` counts
    its unseen NaN scores. ``t_pos[j]`` is target ``j``'s catalogue column (its insertion
    column, for an item without factors)."""
    nu, nc = s.shape
    c1 = c0 + nc
    for r in range(nu):
        b = u0 + r
        if not light[b]:
            continue
        row = s[r]
        h0, h1 = h_ptr[b], h_ptr[b + 1]
        m = n_fin[b]
        k = 0
        for c in range(nc):
            k += row[c] != row[c]
        nan_cnt[b] += k
        for j in range(h0, h0 + m):
            t = tv[j]
            pos = t_pos[j] - c0
            gt = 0
            eq = 0
            for c in range(nc):
                x = row[c]
                gt += x > t
                eq += x == t
            # ties with a smaller item id: those left of the target's column; ties are rare, so
            # the second pass runs only when some candidate other than the row itself ties
            own_tie = 1 if (0 <= pos < nc and row[pos] == t) else 0
            eqb = 0
            if eq > own_tie:
                if pos >= nc:
                    eqb = eq
                elif pos > 0:
                    for c in range(pos):
                        eqb += row[c] == t
            if 0 <= pos < nc:  # the row itself: never its own candidate
                x = row[pos]
                own_found[j] = True
                gt -= x > t
                eq -= x == t
            above[j] += gt
            tied[j] += eq
            before[j] += eqb
        for j in range(h0 + m, h1):  # NaN targets: NaN scores left of their column
            pos = min(max(t_pos[j] - c0, 0), nc)
            k = 0
            for c in range(pos):
                k += row[c] != row[c]
            before[j] += k
        # seen columns of the chunk are not candidates
        q = seen_at[b]
        end = s_ptr[b + 1]
        while q < end and s_col[q] < c0:
            q += 1
        while q < end and s_col[q] < c1:
            col = s_col[q]
            x = row[col - c0]
            if x != x:
                nan_cnt[b] -= 1
                for j in range(h0 + m, h1):
                    if col < t_pos[j]:
                        before[j] -= 1
            else:
                for j in range(h0, h0 + m):
                    t = tv[j]
                    if x > t:
                        above[j] -= 1
                    elif x == t:
                        tied[j] -= 1
                        if col < t_pos[j]:
                            before[j] -= 1
            q += 1
        seen_at[b] = q


@numba.njit(cache=True, nogil=True)
def finish_ranks(
    h_ptr: np.ndarray, h_item: np.ndarray, tv: np.ndarray, n_fin: np.ndarray, light: np.ndarray, run:
    np.ndarray, by_item: np.ndarray, ptr: np.ndarray, gap: np.ndarray, tie: np.ndarray, above:
    np.ndarray, tied: np.ndarray, before: np.ndarray, own: np.ndarray, own_found: np.ndarray, fin_cnt:
    np.ndarray, nan_cnt: np.ndarray, cold: np.ndarray, n_cold: np.ndarray, cold_nan: bool, rank:
    np.ndarray, cands: np.ndarray,
) -> None:  # pragma: no cover
    """Per target (in value order): rank, numAbove and numTied (itself included) and
    numCandidates from the counts of :py:func:`count_light` (light users) or
    :py:func:`count_heavy` (the others); in place in ``rank``, ``above``, ``tied``, ``cands``."""
    nb = len(n_fin)
    for b in range(nb):
        h0, h1 = h_ptr[b], h_ptr[b + 1]
        m = n_fin[b]
        nc = n_cold[b] if cold_nan else 0
        if not light[b]:
            for p in range(ptr[b], h1):  # targets past the last catalogue item
                j = by_item[p]
                before[j] = tie[run[j]] if j - h0 < m else nan_cnt[b]
            acc = 0
            for q in range(m - 1, -1, -1):
                j = h0 + q
                acc += gap[h0 + b + q + 1]
                a = acc
                t = tie[run[j]]
                if own_found[j] and own[j] == own[j]:
                    if own[j] > tv[j]:
                        a -= 1
                    elif own[j] == tv[j]:
                        t -= 1
                above[j], tied[j] = a, t
        # NaN targets (NaN scores and items without factors): after every finite candidate,
        # tied with the NaN ones; by item among them, so cold ones with a smaller id come first
        seen_cold = 0
        for p in range(h0, h1):
            j = by_item[p]
            if j - h0 >= m:
                above[j] = fin_cnt[b]
                tied[j] = nan_cnt[b] + nc - 1 if (cold_nan or not cold[j]) else nan_cnt[b]
                if cold_nan:
                    before[j] += seen_cold
            if cold[j]:
                seen_cold += 1
        for j in range(h0, h1):
            tied[j] += 1
            rank[j] = above[j] + before[j] + 1
            cands[j] = fin_cnt[b] + nan_cnt[b] + nc


def rank_block(block: dict, item_block: int, cold_nan: bool) -> dict:
    """One user block ranked against the catalogue: RANK_SCHEMA's columns as numpy arrays, one
    entry per held-out row, per user in ascending score (NaN last). Pure numpy and the compiled
    kernels, no Spark; ``cold_nan``: items without factors are their users' candidates
    (coldStartStrategy 'nan')."""
    users, uf, items, vf = block["users"], block["U"], block["items"], block["V"]
    h_ptr, h_item, s_ptr, s_item = block["h_ptr"], block["h_item"], block["s_ptr"], block["s_item"]
    nb, n_held = len(users), len(h_item)
    owner = np.repeat(np.arange(nb), np.diff(h_ptr))
    col = np.searchsorted(items, h_item)
    found = col < len(items)
    found[found] = items[col[found]] == h_item[found]
    u64 = uf.astype(np.float64)
    v64 = vf.astype(np.float64)
    target = np.full(n_held, np.nan, np.float32)
    if found.any():
        target[found] = np.einsum("ij,ij->i", u64[owner[found]], v64[col[found]]).astype(np.float32)
    # per user: targets ascending, NaN last (the value order every array below is in)
    order = np.lexsort((target, owner))
    tv, t_item, t_pos, cold = target[order], h_item[order], col[order], ~found[order]
    finite = ~np.isnan(tv)
    n_fin = np.bincount(owner[finite], minlength=nb).astype(np.int64)
    n_cold = np.bincount(owner[cold], minlength=nb).astype(np.int64)
    light = n_fin <= LIGHT_TARGETS
    idx = np.arange(n_held)
    new_run = np.ones(n_held, bool)
    if n_held:
        new_run[1:] = (owner[1:] != owner[:-1]) | (tv[1:] != tv[:-1])
    run = np.maximum.accumulate(np.where(new_run, idx, np.int64(0))) if n_held else idx
    by_item = np.lexsort((t_item, owner)) if n_held else idx
    # the seen items that are catalogue items, by column (light users)
    s_col = np.searchsorted(items, s_item)
    s_in = s_col < len(items)
    s_in[s_in] = items[s_col[s_in]] == s_item[s_in]
    s_owner = np.repeat(np.arange(nb), np.diff(s_ptr))
    sc_ptr = np.zeros(nb + 1, np.int64)
    np.cumsum(np.bincount(s_owner[s_in], minlength=nb), out=sc_ptr[1:])
    sc_col = s_col[s_in]
    n_unseen = len(items) - np.diff(sc_ptr)
    state: Dict[str, np.ndarray] = {
        name: np.zeros(n_held, np.int64) for name in ("tie", "above", "tied", "before")
    }
    state.update(
        gap=np.zeros(n_held + nb, np.int64), own=np.full(n_held, np.nan, np.float32),
        own_found=np.zeros(n_held, np.bool_), fin_cnt=np.zeros(nb, np.int64), nan_cnt=np.zeros(nb, np.int64),
    )
    seen_at, sc_at, ptr = s_ptr[:-1].copy(), sc_ptr[:-1].copy(), h_ptr[:-1].copy()
    heavy_any = not light.all()
    for u0, u1, c0, c1 in _chunks(nb, len(items), item_block):
        s = _scores(u64[u0:u1], v64[c0:c1])
        if light[u0:u1].any():
            count_light(s, c0, u0, light, sc_ptr, sc_col, h_ptr, tv, n_fin, t_pos, sc_at,
                        state["above"], state["tied"], state["before"], state["own_found"], state["nan_cnt"])
        if heavy_any and not light[u0:u1].all():
            count_heavy(s, items[c0:c1], u0, light, s_ptr, s_item, h_ptr, t_item, tv, n_fin, run, by_item,
                        seen_at, ptr, state["gap"], state["tie"], state["before"], state["own"],
                        state["own_found"], state["fin_cnt"], state["nan_cnt"])
    fin_cnt = np.where(light, n_unseen - state["nan_cnt"], state["fin_cnt"])
    rank = np.zeros(n_held, np.int64)
    cands = np.zeros(n_held, np.int64)
    finish_ranks(h_ptr, t_item, tv, n_fin, light, run, by_item, ptr, state["gap"], state["tie"],
                 state["above"], state["tied"], state["before"], state["own"], state["own_found"], fin_cnt,
                 state["nan_cnt"], cold, n_cold, cold_nan, rank, cands)
    # pairs of the fit data: the held item among the user's seen items (keys ascend by user, item)
    in_fit = np.zeros(n_held, bool)
    if len(s_item) and n_held:
        seen_keys = (s_owner.astype(np.int64) << 32) + s_item
        keys = (owner.astype(np.int64) << 32) + t_item
        at = np.minimum(np.searchsorted(seen_keys, keys), len(seen_keys) - 1)
        in_fit = seen_keys[at] == keys
    return {
        "user": users[owner], "item": t_item.astype(np.int32), "prediction": tv,
        "rank": rank, "numAbove": state["above"], "numTied": state["tied"], "numCandidates": cands,
        "inFit": in_fit,
    }


def rank_users(item_block: int, cold_nan: bool) -> BatchFunction:
    """``mapInArrow`` function over (user block, catalogue) rows: one RANK_SCHEMA row per
    held-out row of the block."""

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for block in _block_rows(batches):
            out = rank_block(block, item_block, cold_nan)
            yield pa.RecordBatch.from_pydict({
                "user": pa.array(out["user"], pa.int32()), "item": pa.array(out["item"], pa.int32()),
                "prediction": pa.array(out["prediction"], pa.float32()),
                **{c: pa.array(out[c], pa.int32()) for c in ("rank", "numAbove", "numTied", "numCandidates")},
                "inFit": pa.array(out["inFit"], pa.bool_()),
            })

    return run


# -- top-N ------------------------------------------------------------------------------------

@numba.njit(cache=True, nogil=True)
def top_chunk(
    s: np.ndarray, items: np.ndarray, u0: int, s_ptr: np.ndarray, s_item: np.ndarray, seen_at:
    np.ndarray, n: int, heap_s: np.ndarray, heap_i: np.ndarray, size: np.ndarray,
) -> None:  # pragma: no cover
    """Each user's running top ``n`` over one score chunk: a heap whose root is its worst entry
    (lowest score; among equal scores the largest item, since items ascend a later equal score
    never displaces an earlier one). Seen items and NaN scores are skipped."""
    nu, nc = s.shape
    for r in range(nu):
        b = u0 + r
        sp, s_end = seen_at[b], s_ptr[b + 1]
        k = size[b]
        hs = heap_s[b]
        hi = heap_i[b]
        thr = hs[0] if k == n else np.float32(-np.inf)
        for c in range(nc):
            x = s[r, c]
            if k == n and not x > thr:
                continue  # NaN, or not better than the n-th best: the common case
            it = items[c]
            while sp < s_end and s_item[sp] < it:
                sp += 1
            if sp < s_end and s_item[sp] == it:
                continue
            if x != x:
                continue
            if k < n:
                # sift up
                q = k
                k += 1
                while q > 0:
                    parent = (q - 1) >> 1
                    ps, pi = hs[parent], hi[parent]
                    if ps < x or (ps == x and pi > it):
                        break
                    hs[q], hi[q] = ps, pi
                    q = parent
                hs[q], hi[q] = x, it
            else:
                # replace the root, sift down
                q = 0
                while True:
                    left = 2 * q + 1
                    if left >= n:
                        break
                    w = left
                    right = left + 1
                    if right < n and (hs[right] < hs[left]
                                      or (hs[right] == hs[left] and hi[right] > hi[left])):
                        w = right
                    if hs[w] < x or (hs[w] == x and hi[w] > it):
                        hs[q], hi[q] = hs[w], hi[w]
                        q = w
                    else:
                        break
                hs[q], hi[q] = x, it
            if k == n:
                thr = hs[0]
        seen_at[b], size[b] = sp, k


def top_block(block: dict, n: int, item_block: int) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One user block's top ``n`` unseen items: (offsets (users + 1), items, scores), each
    user's entries best first, ties by item id ascending; pure numpy + the compiled kernel."""
    users, uf, items, vf = block["users"], block["U"], block["items"], block["V"]
    s_ptr, s_item = block["s_ptr"], block["s_item"]
    nb = len(users)
    heap_s = np.zeros((nb, n), np.float32)
    heap_i = np.zeros((nb, n), np.int32)
    size = np.zeros(nb, np.int64)
    seen_at = s_ptr[:-1].copy()
    u64 = uf.astype(np.float64)
    v64 = vf.astype(np.float64)
    for u0, u1, c0, c1 in _chunks(nb, len(items), item_block):
        top_chunk(_scores(u64[u0:u1], v64[c0:c1]), items[c0:c1], u0, s_ptr, s_item, seen_at, n,
                  heap_s, heap_i, size)
    offsets = np.zeros(nb + 1, np.int64)
    np.cumsum(size, out=offsets[1:])
    keep = np.arange(n)[None, :] < size[:, None]
    row = np.repeat(np.arange(nb), size)
    s_flat, i_flat = heap_s[keep], heap_i[keep]
    order = np.lexsort((i_flat, -s_flat.astype(np.float64), row))
    return offsets, i_flat[order], s_flat[order]


def top_users(n: int, item_block: int, item: str) -> BatchFunction:
    """``mapInArrow`` function over (user block, catalogue) rows: one row per user of the block
    with its top ``n`` unseen items (``top_schema(item)``); empty when it has none."""

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for block in _block_rows(batches):
            offsets, rec_items, rec_scores = top_block(block, n, item_block)
            recs = pa.ListArray.from_arrays(
                pa.array(offsets.astype(np.int32), pa.int32()),
                pa.StructArray.from_arrays(
                    [pa.array(rec_items, pa.int32()), pa.array(rec_scores, pa.float32())],
                    names=[item, "rating"],
                ),
            )
            users = pa.array(block["users"], pa.int32())
            yield pa.RecordBatch.from_arrays([users, recs], names=["user", "recommendations"])

    return run
