"""The checker's core, shared by both drivers: run the enabled rules over resources and return findings.

Each resource is walked once; resource, pod and container rules are looked up once per type token and
called where they apply (GPU rules only on GPU pods and containers), so rules hold no iteration of their
own (benchmarks/policy_throughput.py measures the throughput).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, NamedTuple

from policies.config import RuleSettings, rule_settings
from policies.model import Resource, Rule, Stack, Violation
from policies.registry import BY_ID

# What the inner loops unpack: the check and its parameters, then the rule and its settings.
Call = tuple[Callable[..., Iterable[Violation]], Mapping[str, Any], Rule, RuleSettings]


class Dispatch(NamedTuple):
    """The rules that apply to one type token, by scope: pod and container rules for pods and containers
    that do (`_gpu`) or do not (`_cpu`) request accelerators. `walk`: whether any pod or container rule applies."""

    walk: bool
    resource: list[Call]
    pod_gpu: list[Call]
    pod_cpu: list[Call]
    container_gpu: list[Call]
    container_cpu: list[Call]


class Finding(NamedTuple):
    """A violation as the drivers report it. `level` is `mandatory` or `advisory`."""

    rule: str
    level: str
    kind: str
    namespace: str
    name: str
    path: str
    message: str
    subject: Resource | None = None

    def line(self) -> str:
        """`LEVEL RULE-ID KIND/NAMESPACE/NAME PATH: message`."""
        return f"{self.level.upper()} {self.rule} {self.kind}/{self.namespace}/{self.name} {self.path}: {self.message}"

    def as_dict(self) -> dict[str, str]:
        return {key: getattr(self, key) for key in ("rule", "level", "kind", "namespace", "name", "path", "message")}


def reported_level(level: str) -> str:
    """Our rules never remediate: REMEDIATE is reported as MANDATORY, as the SDK does."""
    return "mandatory" if level == "remediate" else level


def _finding(rule: Rule, setting: RuleSettings, subject: Resource, violation: Violation) -> Finding:
    return Finding(
        rule.id, reported_level(setting.level), subject.kind, subject.namespace, subject.display_name,
        violation.path, violation.message, subject,
    )  # fmt: skip


class Engine:
    """Enabled rules with their settings; a rule missing from `settings` runs with its defaults."""

    def __init__(self, settings: Mapping[str, RuleSettings] | None = None, rules: Mapping[str, Rule] = BY_ID) -> None:
        settings = settings or {}
        active = [(rule, settings.get(rule.id) or rule_settings(rule, None)) for rule in rules.values()]
        self._active = [(rule, setting) for rule, setting in active if setting.level != "disabled"]
        self._stack_rules = [(rule, setting) for rule, setting in self._active if rule.is_stack]
        self._dispatch: dict[str, Dispatch] = {}

    def _rules_for(self, resource: Resource) -> Dispatch:
        """The rules for the resource's type token by scope (pod and container ones split by GPU filter),
        computed once per token."""
        found = self._dispatch.get(resource.type)
        if found is None:
            bound = [(r.check, s.params, r, s) for r, s in self._active if resource.kind in r.kinds]

            def select(scope: str, gpu: bool) -> list[Call]:
                return [call for call in bound if call[2].scope == scope and call[2].gpu in (None, gpu)]

            found = self._dispatch[resource.type] = Dispatch(
                any(call[2].scope in ("pod", "container") for call in bound),
                [call for call in bound if call[2].scope == "resource"],
                select("pod", True),
                select("pod", False),
                select("container", True),
                select("container", False),
            )
        return found

    def check_resource(self, resource: Resource) -> list[Finding]:
        rules = self._rules_for(resource)
        found: list[tuple[Rule, RuleSettings, Violation]] = []
        # The loops are written out (no helper per call): this is the checker's innermost path.
        for check, params, rule, setting in rules.resource:
            for violation in check(resource, params):
                found.append((rule, setting, violation))
        if rules.walk:
            for pod in resource.pods:
                for check, params, rule, setting in rules.pod_gpu if pod.gpus else rules.pod_cpu:
                    for violation in check(pod, resource, params):
                        found.append((rule, setting, violation))
                for container in pod.containers:
                    for check, params, rule, setting in rules.container_gpu if container.gpus else rules.container_cpu:
                        for violation in check(container, pod, resource, params):
                            found.append((rule, setting, violation))
        return [
            _finding(rule, setting, resource, violation)
            for rule, setting, violation in found
            if not (setting.exemptions and setting.exempts(resource))
        ]

    def check_stack(self, stack: Stack) -> list[Finding]:
        findings = []
        for rule, setting in self._stack_rules:
            for violation in rule.check(stack, setting.params):
                subject = violation.subject
                if subject is not None and not setting.exempts(subject):
                    findings.append(_finding(rule, setting, subject, violation))
        return findings

    def run(self, resources: Iterable[Resource]) -> list[Finding]:
        stack = Stack(resources)
        findings = [finding for resource in stack.resources for finding in self.check_resource(resource)]
        return findings + self.check_stack(stack)
