"""Garbage-collector policy of the Pulumi program: what survives a full collection is frozen.

Why: a Pulumi program keeps every resource, Output and future it creates alive until the engine is done
with the deployment. CPython's full (generation-2) collections walk every tracked object, so in a large
stack each one walks a heap of objects that cannot be garbage yet, and the cost per resource grows with
the stack: under mocks, 1000 model services cost 15 x what 100 cost for 9.5 x the resources, the same
growth as a bare pulumi_kubernetes program; with the cyclic collector off the growth is linear
(benchmarks/README.md, "Program cost").

`gc.freeze()` after each full collection moves its survivors to the permanent generation, so the next
full collection walks only what was created since. Reference counting still frees everything as before
(most garbage); the one cost is that a reference cycle among frozen objects which later becomes garbage
stays until the process ends, and a program's process ends with its `pulumi preview` / `up`.
"""

from __future__ import annotations

import gc

OLDEST_GENERATION = 2


def _freeze_survivors(phase: str, info: dict[str, int]) -> None:
    if phase == "stop" and info["generation"] == OLDEST_GENERATION:
        gc.freeze()


def freeze_survivors_of_full_collections() -> None:
    """Install the policy for this process (idempotent: the program may run more than once in-process)."""
    if _freeze_survivors not in gc.callbacks:
        gc.callbacks.append(_freeze_survivors)
