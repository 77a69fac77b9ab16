"""Moved: ``recommend_for_users`` lives in :py:mod:`spark_recs.top_n` after 0.1.0.

Kept so that ``from spark_recs.recommend import recommend_for_users``, which 0.1.0 allowed,
keeps working; import it from ``spark_recs`` instead.
"""

from spark_recs.top_n import recommend_for_users

__all__ = ["recommend_for_users"]
