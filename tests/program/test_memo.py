"""Figures derived from a spec are computed once per spec object (components/memo.py)."""

from __future__ import annotations

import pytest

from components.builders import queues, teams
from components.memo import once_per_spec
from tools.mock_runtime import record_stack


def test_the_same_object_is_derived_once_and_a_new_object_again() -> None:
    calls: list[object] = []

    @once_per_spec
    def derive(spec: object) -> list[object]:
        calls.append(spec)
        return [spec]

    first, second = {"a": 1}, {"a": 1}
    assert derive(first) is derive(first)
    assert derive(second) == [second] and derive(second)[0] is second, "equal but not the same: derived anew"
    assert calls == [first, second]
    derive(first)
    assert calls == [first, second, first], "one entry: the last spec only"


def test_a_program_derives_the_kueue_quotas_once_however_many_teams(monkeypatch: pytest.MonkeyPatch) -> None:
    derived: list[object] = []
    inner = queues.admissible.__wrapped__

    def counting(spec: object):
        derived.append(spec)
        return inner(spec)

    monkeypatch.setattr(queues, "admissible", once_per_spec(counting))
    monkeypatch.setattr(teams, "admissible", queues.admissible)
    recording = record_stack("prod")
    assert len(recording.of_type("kubernetes:core/v1:ResourceQuota")) >= 2
    assert len(derived) == 1
