"""The vocabulary shared by every rule and both drivers: resources, rules, parameters and violations.

A rule is a plain function over one resource (or, for stack rules, over all of them) that yields
violations. It never sees the Pulumi policy SDK nor the YAML reader, so the CrossGuard pack and the
offline checker run exactly the same code.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from policies.k8s import EMPTY, kind_of, mapping, text

LEVELS = ("advisory", "mandatory", "remediate", "disabled")
SEVERITIES = ("low", "medium", "high", "critical")

Params = Mapping[str, Any]


@dataclass(frozen=True, eq=False)
class Resource:
    """One resource as a rule sees it: its type token, name and input properties.

    `name` is the Pulumi logical name (pack) or `metadata.name` (YAML); `dependencies` maps a property to
    the URNs it was computed from (stack policies only), which is how cross-resource rules pair an S3
    bucket with its encryption resource while the bucket's name is still unknown during preview.
    """

    type: str
    name: str
    props: Mapping[str, Any]
    urn: str = ""
    dependencies: Mapping[str, Sequence[str]] = field(default_factory=dict)

    @cached_property
    def kind(self) -> str:
        return kind_of(self.type)

    @cached_property
    def metadata(self) -> Mapping[str, Any]:
        return mapping(self.props.get("metadata"))

    @cached_property
    def namespace(self) -> str:
        return text(self.metadata.get("namespace")) or ""

    @cached_property
    def display_name(self) -> str:
        """`metadata.name` when set: that is what other objects reference; else the Pulumi name."""
        return text(self.metadata.get("name")) or self.name

    @cached_property
    def labels(self) -> Mapping[str, Any]:
        return mapping(self.metadata.get("labels"))

    @cached_property
    def annotations(self) -> Mapping[str, Any]:
        return mapping(self.metadata.get("annotations"))

    @cached_property
    def spec(self) -> Mapping[str, Any]:
        return mapping(self.props.get("spec"))

    @cached_property
    def pods(self) -> tuple[Any, ...]:
        """Every pod spec nested in the resource (see `policies.walker`), computed once for all rules."""
        from policies.walker import pod_specs

        return pod_specs(self.kind, self.props)

    def describe(self) -> str:
        return (
            f"{self.kind} {self.namespace}/{self.display_name}"
            if self.namespace
            else f"{self.kind} {self.display_name}"
        )


@dataclass(frozen=True, slots=True)
class Violation:
    """What a rule reports: the dotted path of the offending field and why.

    Stack rules set `subject` to the resource they blame; resource rules leave it to the engine.
    """

    path: str
    message: str
    subject: Resource | None = None


@dataclass(frozen=True, slots=True)
class Param:
    """A rule parameter: its default (the only place it is defined) and its JSON type for the config schema."""

    default: Any
    kind: str  # "number" | "integer" | "string" | "boolean" | "strings" | "quantity"
    description: str

    def schema(self) -> dict[str, Any]:
        types = {
            "number": {"type": "number"},
            "integer": {"type": "integer"},
            "string": {"type": "string"},
            "boolean": {"type": "boolean"},
            "strings": {"type": "array", "items": {"type": "string"}},
            "quantity": {"type": ["string", "number"]},
        }
        return {**types[self.kind], "default": self.default, "description": self.description}


ResourceCheck = Callable[[Resource, Params], Iterable[Violation]]
StackCheck = Callable[[Sequence[Resource], Params], Iterable[Violation]]


@dataclass(frozen=True)
class Rule:
    """A rule's identity and metadata. `kinds` are Kubernetes kinds or non-Kubernetes type tokens.

    Exactly one of `check` (per resource) and `check_stack` (whole stack) is set.
    """

    id: str
    description: str
    severity: str
    level: str
    kinds: frozenset[str] = frozenset()
    check: ResourceCheck | None = None
    check_stack: StackCheck | None = None
    params: Mapping[str, Param] = field(default_factory=dict)

    def __post_init__(self) -> None:
        assert self.severity in SEVERITIES, self.severity
        assert self.level in LEVELS, self.level
        assert (self.check is None) != (self.check_stack is None), self.id
        assert self.check_stack is not None or self.kinds, self.id

    @property
    def is_stack(self) -> bool:
        return self.check_stack is not None

    def defaults(self) -> dict[str, Any]:
        return {name: param.default for name, param in self.params.items()}


__all__ = ["EMPTY", "LEVELS", "SEVERITIES", "Param", "Params", "Resource", "Rule", "Violation"]
