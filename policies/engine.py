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


class Call(NamedTuple):
    """One enabled rule bound for the inner loops: its check and parameters, what its findings carry (the
    rule id and reported level, computed once) and `exempts`, None when the rule has no exemptions (most:
    then no resource is matched against globs)."""

    check: Callable[..., Iterable[Violation]]
    params: Mapping[str, Any]
    rule: str
    level: str
    exempts: Callable[[Resource], bool] | None


class Dispatch(NamedTuple):
    """The rules that apply to one type token, by scope: pod and container rules for pods and containers
    that do (`_gpu`) or do not (`_cpu`) request accelerators. `walk`: whether any pod or container rule applies."""

    walk: bool
    resource: tuple[Call, ...]
    pod_gpu: tuple[Call, ...]
    pod_cpu: tuple[Call, ...]
    container_gpu: tuple[Call, ...]
    container_cpu: tuple[Call, ...]


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
            bound = [(rule, _call(rule, setting)) for rule, setting in self._active if resource.kind in rule.kinds]

            def select(scope: str, gpu: bool | None = None) -> tuple[Call, ...]:
                return tuple(
                    call for rule, call in bound if rule.scope == scope and (gpu is None or rule.gpu in (None, gpu))
                )

            found = self._dispatch[resource.type] = Dispatch(
                any(rule.scope in ("pod", "container") for rule, _ in bound),
                select("resource"),
                select("pod", True),
                select("pod", False),
                select("container", True),
                select("container", False),
            )
        return found

    def check_resource(self, resource: Resource) -> list[Finding]:
        rules = self._rules_for(resource)
        found: list[tuple[Call, Violation]] = []
        # The loops are written out (no helper per call): this is the checker's innermost path. Most calls
        # find nothing, so a finding is only built, and its exemptions only checked, for what is found.
        for call in rules.resource:
            for violation in call.check(resource, call.params):
                found.append((call, violation))
        if rules.walk:
            for pod in resource.pods:
                for call in rules.pod_gpu if pod.gpus else rules.pod_cpu:
                    for violation in call.check(pod, resource, call.params):
                        found.append((call, violation))
                for container in pod.containers:
                    for call in rules.container_gpu if container.gpus else rules.container_cpu:
                        for violation in call.check(container, pod, resource, call.params):
                            found.append((call, violation))
        return [
            _finding(call, resource, violation)
            for call, violation in found
            if call.exempts is None or not call.exempts(resource)
        ]

    def check_stack(self, stack: Stack) -> list[Finding]:
        findings = []
        for rule, setting in self._stack_rules:
            call = _call(rule, setting)
            for violation in rule.check(stack, setting.params):
                subject = violation.subject
                if subject is not None and (call.exempts is None or not call.exempts(subject)):
                    findings.append(_finding(call, subject, violation))
        return findings

    def run(self, resources: Iterable[Resource]) -> list[Finding]:
        stack = Stack(resources)
        findings = [finding for resource in stack.resources for finding in self.check_resource(resource)]
        return findings + self.check_stack(stack)


def _call(rule: Rule, setting: RuleSettings) -> Call:
    exempts = setting.exempts if setting.exemptions else None
    return Call(rule.check, setting.params, rule.id, reported_level(setting.level), exempts)


def _finding(call: Call, subject: Resource, violation: Violation) -> Finding:
    return Finding(
        call.rule, call.level, subject.kind, subject.namespace, subject.display_name, violation.path,
        violation.message, subject,
    )  # fmt: skip
