"""The vocabulary shared by every rule and both drivers: resources, rules, parameters and violations.

A rule is a plain function that returns the violations it finds (an empty tuple when compliant). Its
`scope` says what it is called with: one container, one pod spec, one resource, or the whole stack. The
engine walks pods and containers once per resource and calls each rule where it applies, so rules hold
no iteration of their own and the checker stays fast. Rules never see the Pulumi policy SDK nor the YAML
reader: the CrossGuard pack and the offline checker run exactly the same code.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from policies.k8s import kind_of, mapping, text
from policies.walker import POD_KINDS, Container, PodSpec, pod_specs

LEVELS = ("advisory", "mandatory", "remediate", "disabled")
SEVERITIES = ("low", "medium", "high", "critical")
SCOPES = ("container", "pod", "resource", "stack")

Params = Mapping[str, Any]


class Resource:
    """One resource as a rule sees it: its type token, name and input properties.

    `name` is the Pulumi logical name (pack) or `metadata.name` (YAML); `dependencies` maps a property to
    the URNs it was computed from (stack policies only), which is how cross-resource rules pair an S3
    bucket with its encryption resource while the bucket's name is still unknown during preview.
    Derived fields are computed once here, the pod walk on first use.
    """

    __slots__ = (
        "type", "name", "props", "urn", "dependencies", "kind", "metadata", "namespace", "display_name",
        "labels", "annotations", "spec", "_pods",
    )  # fmt: skip

    def __init__(
        self,
        type: str,  # the SDK's word for the type token
        name: str,
        props: Mapping[str, Any],
        urn: str = "",
        dependencies: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        self.type, self.name, self.props, self.urn = type, name, props, urn
        self.dependencies = dependencies or {}
        self.kind = kind_of(type)
        self.metadata = mapping(props.get("metadata")) if isinstance(props, Mapping) else mapping(None)
        self.namespace = text(self.metadata.get("namespace")) or ""
        self.display_name = text(self.metadata.get("name")) or name
        self.labels = mapping(self.metadata.get("labels"))
        self.annotations = mapping(self.metadata.get("annotations"))
        self.spec = mapping(props.get("spec")) if isinstance(props, Mapping) else mapping(None)
        self._pods: tuple[PodSpec, ...] | None = None

    @property
    def pods(self) -> tuple[PodSpec, ...]:
        """Every pod spec nested in the resource (see `policies.walker`)."""
        if self._pods is None:
            self._pods = pod_specs(self.kind, self.props)
        return self._pods

    def describe(self) -> str:
        return (
            f"{self.kind} {self.namespace}/{self.display_name}"
            if self.namespace
            else f"{self.kind} {self.display_name}"
        )

    def __repr__(self) -> str:
        return f"Resource({self.type!r}, {self.name!r})"


class Violation(NamedTuple):
    """What a rule reports: the dotted path of the offending field and why.

    Stack rules set `subject` to the resource they blame; the engine fills it in for the other scopes.
    """

    path: str
    message: str
    subject: Resource | None = None


class Stack:
    """All resources of a stack, indexed by kind once for every stack rule."""

    def __init__(self, resources: Iterable[Resource]) -> None:
        self.resources = list(resources)
        self._by_kind: dict[str, list[Resource]] = {}
        for resource in self.resources:
            self._by_kind.setdefault(resource.kind, []).append(resource)
        self._with_pods: list[Resource] | None = None

    def of_kind(self, *kinds: str) -> list[Resource]:
        """Resources of these kinds (Kubernetes kinds or non-Kubernetes type tokens), kind by kind."""
        if len(kinds) == 1:
            return self._by_kind.get(kinds[0], [])
        return [resource for kind in kinds for resource in self._by_kind.get(kind, ())]

    def with_pods(self) -> list[Resource]:
        """Resources with at least one pod spec, in order; computed once for the stack rules that ask."""
        if self._with_pods is None:
            self._with_pods = [r for r in self.resources if r.kind in POD_KINDS and r.pods]
        return self._with_pods


@dataclass(frozen=True, slots=True)
class Param:
    """A rule parameter: its default (the only place it is defined) and its JSON type for the config schema."""

    default: Any
    kind: str  # "number" | "integer" | "string" | "boolean" | "strings" | "quantity"
    description: str

    def schema(self) -> dict[str, Any]:
        types: dict[str, dict[str, Any]] = {
            "number": {"type": "number"},
            "integer": {"type": "integer"},
            "string": {"type": "string"},
            "boolean": {"type": "boolean"},
            "strings": {"type": "array", "items": {"type": "string"}},
            "quantity": {"type": ["string", "number"]},
        }
        return {**types[self.kind], "default": self.default, "description": self.description}


Found = Iterable[Violation]
ContainerCheck = Callable[[Container, PodSpec, Resource, Params], Found]
PodCheck = Callable[[PodSpec, Resource, Params], Found]
ResourceCheck = Callable[[Resource, Params], Found]
StackCheck = Callable[[Stack, Params], Found]
NONE: tuple[Violation, ...] = ()


@dataclass(frozen=True)
class Rule:
    """A rule's identity, metadata and check.

    `kinds` are Kubernetes kinds or non-Kubernetes type tokens the rule applies to (stack rules: all).
    `gpu` narrows container and pod rules to those that do (True) or do not (False) request accelerators.
    """

    id: str
    description: str
    severity: str
    level: str
    scope: str
    check: Callable[..., Found]
    kinds: frozenset[str] = frozenset()
    params: Mapping[str, Param] = field(default_factory=dict)
    gpu: bool | None = None

    def __post_init__(self) -> None:
        assert self.severity in SEVERITIES, self.severity
        assert self.level in LEVELS, self.level
        assert self.scope in SCOPES, self.scope
        assert self.scope == "stack" or self.kinds, self.id

    @property
    def is_stack(self) -> bool:
        return self.scope == "stack"


def violation(path: str, message: str) -> tuple[Violation]:
    """A single violation, in the shape rules return."""
    return (Violation(path, message),)
