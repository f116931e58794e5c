"""The program's GC policy (components/gc_policy.py) and the harness keeping it inside one run."""

from __future__ import annotations

import gc
import runpy
from collections.abc import Iterator

import pytest

from components.gc_policy import _freeze_survivors, freeze_survivors_of_full_collections
from tools.mock_runtime import record_stack


@pytest.fixture
def clean_gc() -> Iterator[None]:
    callbacks = list(gc.callbacks)
    gc.unfreeze()
    yield
    gc.callbacks[:] = callbacks
    gc.unfreeze()


def test_a_full_collection_freezes_its_survivors(clean_gc: None) -> None:
    survivors = [[index] for index in range(1000)]
    freeze_survivors_of_full_collections()
    assert gc.get_freeze_count() == 0
    gc.collect(1)
    assert gc.get_freeze_count() == 0, "only full collections freeze"
    gc.collect()
    assert gc.get_freeze_count() >= len(survivors)


def test_reference_counting_still_frees_frozen_objects(clean_gc: None) -> None:
    freeze_survivors_of_full_collections()
    survivors = [[index] for index in range(1000)]
    gc.collect()
    frozen = gc.get_freeze_count()
    del survivors
    assert gc.get_freeze_count() <= frozen - 1000


def test_installing_twice_installs_once(clean_gc: None) -> None:
    freeze_survivors_of_full_collections()
    freeze_survivors_of_full_collections()
    assert gc.callbacks.count(_freeze_survivors) == 1


def test_the_program_runs_under_the_policy_and_the_harness_undoes_it(
    clean_gc: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[bool] = []
    run_path = runpy.run_path

    def spy(path: str) -> object:
        result = run_path(path)
        seen.append(_freeze_survivors in gc.callbacks)
        return result

    monkeypatch.setattr(runpy, "run_path", spy)
    record_stack("local")
    assert seen == [True], "__main__.py installs the policy"
    assert _freeze_survivors not in gc.callbacks, "the harness removes it after the run"
    assert gc.get_freeze_count() == 0, "and makes what was frozen collectable again"
