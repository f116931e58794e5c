"""The engine's fast paths agree with the plain definitions they replace: exemption globs, list
accessors, the per-stack pod index and the shared app-container tuple."""

from __future__ import annotations

import fnmatch
from types import MappingProxyType

from hypothesis import given
from hypothesis import strategies as st
from policy_fixtures import build

from policies.config import _glob
from policies.k8s import mappings
from policies.model import Resource, Stack

GLOB_ALPHABET = "ab*?[]!-\\. /:"


@given(st.text(GLOB_ALPHABET, max_size=8), st.text(GLOB_ALPHABET, max_size=8))
def test_exemption_globs_match_as_fnmatchcase(pattern: str, value: str) -> None:
    assert bool(_glob(pattern)(value)) == fnmatch.fnmatchcase(value, pattern)


def test_mappings_keep_document_indexes_and_skip_other_items() -> None:
    proxy = MappingProxyType({"c": 3})
    assert mappings([{"a": 1}, {"b": 2}]) == [(0, {"a": 1}), (1, {"b": 2})]
    assert mappings([{"a": 1}, "x", None, proxy, 3]) == [(0, {"a": 1}), (3, proxy)]
    assert mappings(({"a": 1},)) == [(0, {"a": 1})]
    assert mappings("not a list") == mappings(None) == mappings({"a": 1}) == []


def test_stack_indexes_resources_with_pods_once() -> None:
    resources = [build("deployment"), Resource("kubernetes:core/v1:ConfigMap", "c", {}), build("raycluster")]
    stack = Stack(resources)
    assert stack.with_pods() == [resources[0], resources[2]]
    assert stack.with_pods() is stack.with_pods()


def test_app_containers_share_the_tuple_unless_init_containers_are_present() -> None:
    plain = build("deployment").pods[0]
    assert plain.app_containers is plain.containers
    spec = {"containers": [{"name": "app"}], "initContainers": [{"name": "init"}]}
    with_init = Resource("kubernetes:core/v1:Pod", "p", {"spec": spec}).pods[0]
    assert [c.spec["name"] for c in with_init.app_containers] == ["app"]
