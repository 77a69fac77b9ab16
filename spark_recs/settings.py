"""The settings that ``tune``, ``compare`` and the demo share: one object, one set of defaults."""

import warnings
from dataclasses import asdict, dataclass, fields, replace
from typing import Any, Dict, Mapping, Optional, Tuple

from spark_recs.weighting import WEIGHTING_METHODS

__all__ = ["DEFAULTS", "Settings", "settings_with"]


@dataclass(frozen=True)
class Settings:
    """The grid and protocol of :py:func:`~spark_recs.workflow.tune`,
    :py:func:`~spark_recs.comparison.compare` and the demo, with the defaults of all three.

    Build one with the values to change (``Settings(ranks=(8, 16))``) or derive one from
    :py:data:`DEFAULTS` with :py:func:`dataclasses.replace`; the command line fills it from its
    options, whose ``--help`` prints these defaults, and ``metrics.json`` / ``compare.json``
    record the one used (:py:meth:`as_dict`).

    Attributes
    ----------
    ranks : tuple of int, default (16, 32)
        The grid's ALS ranks.
    regParams : tuple of float, default (0.1,)
        The grid's ALS regParams.
    alphas : tuple of float, default (1.0, 5.0)
        The grid's ALS alphas (implicit and binary feedback only): the confidence of a weighted
        count s is ``1 + alpha * s``.
    weighting : str, default 'log'
        Implicit feedback only: how play counts r become ALS's ratings before every fit
        (:py:class:`~spark_recs.ConfidenceWeighter` ``method``): 'log' (log(1 + r), Hu, Koren &
        Volinsky's form for counts with a long tail), 'bm25' or 'none' (the counts as they are).
    maxIter : int, default 10
        ALS iterations per fit (past 10 a checkpoint directory is needed).
    folds : int, default 2
        Per-user cross-validation folds (>= 2).
    holdout : float, default 0.25
        Full-catalogue protocol and compare: each user's share of pairs held out for the final
        scores, in (0, 1).
    k : int, default 10
        The k of tune's ranking metrics (compare reports k = 10).
    seed : int, default 42
        Seed of the data split, the folds, CrossValidator and ALS.
    threshold : float, default 0.0
        Binary feedback: a rating > threshold is 1.
    parallelism : int, default 2
        Models CrossValidator fits at once.

    Notes
    -----
    The defaults were chosen by measurement (README, "Tune"; CHANGELOG 0.2.0): on Last.fm-like
    play counts (heavy-tailed, up to millions) implicit ALS on raw counts lost to most-popular
    at every alpha tried, and log weighting with a small alpha beat it; on MovieLens 100K
    taken as implicit feedback the same grid stays above P@10 0.38. Four grid points and two
    folds keep ``compare`` on MovieLens-100K-sized data at about the time it had.

    Examples
    --------
    >>> from dataclasses import replace
    >>> from spark_recs.settings import DEFAULTS, Settings
    >>> DEFAULTS.ranks, DEFAULTS.alphas, DEFAULTS.weighting
    ((16, 32), (1.0, 5.0), 'log')
    >>> small = replace(DEFAULTS, ranks=(4,), folds=3)
    >>> small.grid_size(), small.as_dict()["folds"]
    (2, 3)
    >>> Settings(weighting="sqrt")
    Traceback (most recent call last):
        ...
    ValueError: Settings: weighting must be one of ['none', 'log', 'bm25'], found 'sqrt'
    """

    ranks: Tuple[int, ...] = (16, 32)
    regParams: Tuple[float, ...] = (0.1,)
    alphas: Tuple[float, ...] = (1.0, 5.0)
    weighting: str = "log"
    maxIter: int = 10
    folds: int = 2
    holdout: float = 0.25
    k: int = 10
    seed: int = 42
    threshold: float = 0.0
    parallelism: int = 2

    def __post_init__(self) -> None:
        # sequences become tuples (a frozen, hashable value), numbers their type
        object.__setattr__(self, "ranks", tuple(int(r) for r in self.ranks))
        object.__setattr__(self, "regParams", tuple(float(r) for r in self.regParams))
        object.__setattr__(self, "alphas", tuple(float(a) for a in self.alphas))
        if self.weighting not in WEIGHTING_METHODS:
            raise ValueError(
                f"Settings: weighting must be one of {list(WEIGHTING_METHODS)}, found {self.weighting!r}"
            )

    def grid_size(self) -> int:
        """Grid points of implicit ALS: ranks x regParams x alphas."""
        return len(self.ranks) * len(self.regParams) * len(self.alphas)

    def as_dict(self) -> Dict[str, Any]:
        """The settings as JSON-ready values (tuples as lists), as ``metrics.json`` records them."""
        return {name: list(v) if isinstance(v, tuple) else v for name, v in asdict(self).items()}


#: The defaults of ``tune``, ``compare``, the demo and the command line.
DEFAULTS = Settings()

#: The keywords tune and compare took before 0.2.0: every setting but the new weighting.
_NAMES = tuple(f.name for f in fields(Settings) if f.name != "weighting")


def settings_with(caller: str, settings: Optional[Settings], legacy: Mapping[str, Any]) -> Settings:
    """``settings`` (default :py:data:`DEFAULTS`) with the values of the keywords that
    ``caller`` took before 0.2.0 (``ranks=``, ``alphas=``, ...), each with a DeprecationWarning.

    Raises
    ------
    TypeError
        A keyword that is no setting.
    """
    unknown = sorted(set(legacy) - set(_NAMES))
    if unknown:
        raise TypeError(f"{caller}() got unexpected keyword arguments {unknown}")
    base = settings or DEFAULTS
    given = {name: value for name, value in legacy.items() if value is not None}
    if not given:
        return base
    warnings.warn(
        f"{caller}: the keywords {sorted(given)} are deprecated since 0.2.0 and go in 0.3.0; pass "
        f"settings=Settings(...) (spark_recs.settings) instead",
        DeprecationWarning, stacklevel=3,
    )
    return replace(base, **given)
