"""Business rules for every top-N: the candidate items recommendations are drawn from (items on
sale, in stock, in one category) and the items never to recommend, for everyone or per user.

Both act inside the full-catalogue engine, not on its output: candidates restrict the
catalogue the users are scored against, exclusions are left out as seen items are, so exactly
``n`` remain whenever the rules allow (RePlay over-fetches ``k`` + the excluded count and filters
afterwards; here nothing is fetched twice).
"""

from typing import Any, NamedTuple, Optional, Sequence

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from spark_recs._recommenders import encode_ids
from spark_recs._validation import column, require_column

__all__ = ["ItemRules", "item_rules"]

#: The item id column of the rules' frames (the model's integer ids).
ITEM = "__spark_recs_rule_item"


class ItemRules(NamedTuple):
    """Candidates and exclusions in the model's integer item ids (:py:func:`item_rules`)."""

    #: ``(ITEM)``: the only items that may be recommended, or None for the whole catalogue.
    candidates: Optional[DataFrame]
    #: ``(ITEM)``: items left out for everyone, or None.
    excluded: Optional[DataFrame]
    #: ``(user column in original ids, ITEM)``: items left out for one user each, or None.
    excludedPerUser: Optional[DataFrame]

    def catalogue(self, item_factors: DataFrame) -> DataFrame:
        """``item_factors`` (id, features) less what the rules forbid for everyone."""
        kept = item_factors
        if self.candidates is not None:
            kept = kept.join(self.candidates.select(F.col(ITEM).alias("id")), "id", "left_semi")
        if self.excluded is not None:
            kept = kept.join(self.excluded.select(F.col(ITEM).alias("id")), "id", "left_anti")
        return kept

    @property
    def restricts_catalogue(self) -> bool:
        return self.candidates is not None or self.excluded is not None

    def excluded_pairs(self, users: DataFrame, user_col: str, index: str) -> Optional[DataFrame]:
        """The per-user exclusions of ``users`` (``user_col`` original ids, ``index`` the
        engine's user ids) as ``(index, ITEM)`` pairs, or None when there are none."""
        if self.excludedPerUser is None:
            return None
        return users.select(column(user_col), column(index)).join(self.excludedPerUser, user_col).select(
            column(index), F.col(ITEM)
        )


def item_rules(
    name: str, candidates: Optional[DataFrame], exclude: Optional[DataFrame], user_col: Optional[str],
    item_col: str, item_vocab: Optional[DataFrame], item_factors: DataFrame, param: str = "itemCol",
) -> ItemRules:
    """``candidates`` and ``exclude`` (original ids) as :py:class:`ItemRules`.

    ``candidates`` has the item column (``item_col``); every candidate must be a catalogue item
    (one job names up to 10 that are not). ``exclude`` has the item column, and the user
    column (``user_col``) too for per-user exclusions (a row whose user is null excludes its
    item for everyone); excluded items the model does not know
    need no leaving out. ``param`` names the model's column in messages (``itemCol``, or
    ``userCol`` for similar users). Raises ``ValueError`` naming ``name`` and the parameter.
    """
    spark = item_factors.sparkSession
    allowed = None
    if candidates is not None:
        require_column(name, "candidates", item_col, candidates)
        if user_col is not None and user_col in candidates.columns and user_col != item_col:
            raise ValueError(
                f"{name}: candidates has a user column ({user_col!r}): per-user candidate sets are not "
                f"supported; pass one column of items ({item_col!r}), the candidates of every user"
            )
        listed = candidates.select(column(item_col))
        allowed = encode_ids(spark, listed, item_col, item_vocab, ITEM, name, "candidates", param,
                             unknown="keep")
        known = item_factors.select(F.col("id").alias(ITEM), F.lit(True).alias("__known"))
        unknown = allowed.join(known, ITEM, "left").where(F.col("__known").isNull())
        missing = [r[0] for r in unknown.select(column(item_col)).limit(10).collect()]
        if missing:
            raise ValueError(
                f"{name}: candidates {missing} are not in the catalogue (ids with factors; {param} "
                f"'{item_col}')"
            )
        allowed = allowed.where(F.col(ITEM).isNotNull()).select(ITEM).distinct()
    everyone = per_user = None
    if exclude is not None:
        require_column(name, "exclude", item_col, exclude)
        if user_col is not None and user_col in exclude.columns and user_col != item_col:
            rows = exclude.select(column(user_col), column(item_col))
            per_user = _items(rows.where(column(user_col).isNotNull()), item_col, item_vocab, [user_col])
            everyone = _items(rows.where(column(user_col).isNull()).select(column(item_col)), item_col,
                              item_vocab, []).distinct()
        else:
            everyone = _items(exclude.select(column(item_col)), item_col, item_vocab, []).distinct()
    return ItemRules(allowed, everyone, per_user)


def _items(rows: DataFrame, item_col: str, vocab: Optional[DataFrame], keep: Sequence[str]) -> DataFrame:
    """``rows`` with the item as the model's id (``ITEM``), items the model does not know left out
    (nothing to exclude), the ``keep`` columns kept."""
    if vocab is not None:
        codes = vocab.select(F.col("value").alias(item_col), F.col("index").alias(ITEM))
        found: Any = rows.join(codes, item_col)
    else:
        found = rows.withColumn(ITEM, column(item_col).cast("int"))
    return found.where(F.col(ITEM).isNotNull()).select(*[column(c) for c in keep], ITEM)
