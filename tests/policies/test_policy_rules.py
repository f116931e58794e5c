"""Every rule against its case table, through the rule library and through the CrossGuard policies
called with `ResourceValidationArgs` / `StackValidationArgs` (proxied props, every number a float).
Both must report exactly the expected rule ids and paths.
"""

from __future__ import annotations

from collections import Counter

import pytest
from policy_cases import POD_CASES, PodCase
from policy_fixtures import SHAPES, WORKLOAD_SHAPES, build, findings, sdk_findings, settings
from policy_resource_cases import RESOURCE_CASES, STACK_CASES, ResourceCase, StackCase

from policies.engine import Engine
from policies.registry import BY_ID, RULES
from policies.walker import POD_KINDS

POD_PARAMS = [
    pytest.param(case, shape, id=f"{case.rule}-{case.name}-{shape}") for case in POD_CASES for shape in case.shapes
]


@pytest.mark.parametrize(("case", "shape"), POD_PARAMS)
def test_pod_rule(case: PodCase, shape: str) -> None:
    resource = build(shape, case.container, case.pod, case.metadata)
    expected = sorted((case.rule, path.format(**SHAPES[shape].paths())) for path in case.expect)
    assert findings(case.rule, [resource], case.params) == expected
    assert sdk_findings(case.rule, [resource], case.params) == expected


@pytest.mark.parametrize("case", [pytest.param(c, id=f"{c.rule}-{c.name}") for c in RESOURCE_CASES])
def test_resource_rule(case: ResourceCase) -> None:
    expected = sorted((case.rule, path) for path in case.expect)
    assert findings(case.rule, [case.resource], case.params) == expected
    assert sdk_findings(case.rule, [case.resource], case.params) == expected


@pytest.mark.parametrize("case", [pytest.param(c, id=f"{c.rule}-{c.name}") for c in STACK_CASES])
def test_stack_rule(case: StackCase) -> None:
    rule = BY_ID[case.rule]
    engine = Engine({case.rule: settings(case.rule, case.params)}, rules={case.rule: rule})
    found = sorted((f.name, f.path) for f in engine.run(case.resources))
    assert found == sorted(case.expect)
    assert sdk_findings(case.rule, case.resources, case.params) == sorted((case.rule, path) for _, path in case.expect)


def test_every_rule_has_two_violating_and_one_compliant_case() -> None:
    violating: Counter[str] = Counter()
    compliant: Counter[str] = Counter()
    for case in [*POD_CASES, *RESOURCE_CASES, *STACK_CASES]:
        (violating if case.expect else compliant)[case.rule] += 1
    assert {rule.id for rule in RULES if violating[rule.id] < 2} == set()
    assert {rule.id for rule in RULES if compliant[rule.id] < 1} == set()


def test_container_rules_run_on_every_workload_shape() -> None:
    """A pod-template rule's violating cases cover Deployment, RayCluster, RayJob, RayService and InferenceService."""
    pod_rules = {rule.id for rule in RULES if rule.kinds == POD_KINDS}
    shapes: dict[str, set[str]] = {rule: set() for rule in pod_rules}
    for case in POD_CASES:
        if case.expect and case.rule in shapes:
            shapes[case.rule].update(case.shapes)
    assert {rule for rule, seen in shapes.items() if not set(WORKLOAD_SHAPES) <= seen} == set()
