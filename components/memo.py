"""Results derived from a spec, computed once per spec object.

Why: several components of one program derive the same figures from the same spec (every team's
ResourceQuota reads the Kueue quotas of all teams), which made the program quadratic in the number of
teams (benchmarks/README.md, "Program cost"). Specs are frozen pydantic models, so a result computed from
one stays right while that object lives; identity, not equality, is the key because comparing two specs
costs as much as deriving from one. One entry per function keeps memory bounded. Callers must treat the
result as read-only: it is shared.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

R = TypeVar("R")


def once_per_spec(derive: Callable[[Any], R]) -> Callable[[Any], R]:
    """Memoise `derive(spec)` for the last spec object it was called with."""
    last: list[tuple[Any, R]] = []

    @functools.wraps(derive)
    def cached(spec: Any) -> R:
        if last and last[0][0] is spec:
            return last[0][1]
        result = derive(spec)
        last[:] = [(spec, result)]
        return result

    return cached
