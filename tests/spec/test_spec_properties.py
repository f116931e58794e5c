"""Property: any mutation of a valid spec yields either success or validation problems, never a traceback."""

from __future__ import annotations

import copy
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from components.spec import validate_file

ROOT = Path(__file__).resolve().parents[2]
STACKS = [yaml.safe_load((ROOT / "stacks" / f"{env}.yaml").read_text()) for env in ("local", "dev", "prod")]

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-10, 10**6), st.floats(allow_nan=True), st.text(max_size=12),
    st.sampled_from(["1", "500m", "2Gi", "-1", "1e3", "l4-serve", "system", "ml", "s3://b/p", "Standard"]),
)
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
    st.text(max_size=8), inner, max_size=3), max_leaves=6)


def _paths(node: object, prefix: tuple = ()) -> list[tuple]:
    found = [prefix]
    if isinstance(node, dict):
        for key, child in node.items():
            found += _paths(child, (*prefix, key))
    elif isinstance(node, list):
        for index, child in enumerate(node):
            found += _paths(child, (*prefix, index))
    return found


@st.composite
def mutated_specs(draw: st.DrawFn) -> dict:
    spec = copy.deepcopy(draw(st.sampled_from(STACKS)))
    for _ in range(draw(st.integers(1, 4))):
        paths = [path for path in _paths(spec) if path]
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = spec
        for key in path[:-1]:
            parent = parent[key]
        action = draw(st.sampled_from(["replace", "delete", "add"]))
        if action == "replace":
            parent[path[-1]] = draw(values)
        elif action == "delete" and isinstance(parent, dict):
            del parent[path[-1]]
        elif isinstance(parent, dict):
            parent[draw(st.text(max_size=8))] = draw(values)
    return spec


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(spec=mutated_specs())
def test_mutated_spec_never_raises(tmp_path: Path, spec: dict) -> None:
    path = tmp_path / "mutated.yaml"
    path.write_text(yaml.safe_dump(spec), encoding="utf-8")
    problems = validate_file(str(path), "mutated")
    assert all(problem.file == str(path) and problem.message for problem in problems)
