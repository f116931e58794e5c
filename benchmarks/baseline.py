"""The bare-SDK baseline: the same resources, registered directly with pulumi_kubernetes, no components.

`replay(recording)` turns what the program registered under mocks into a flat program that registers
the same number and kinds of resources: every custom resource (and every remote component of the
provider, such as a Helm v4 `Chart`) with the same type token, the same inputs, the same explicit
provider and the same dependency edges (a component's `depends_on` copied onto each of its
descendants, which a flat program has to state itself), but no `gpuplat:*` components, no parents, no spec loading and
no Output plumbing between objects. Its cost under the same mocks harness is the floor the program is
measured against: what the Pulumi SDK itself costs for that many resources.

Built-in Kubernetes kinds get their typed class (`kubernetes:apps/v1:Deployment` ->
`pulumi_kubernetes.apps.v1.Deployment`), everything else the generic `apiextensions.CustomResource`,
as the components themselves do for InferenceServices, RayClusters and Kueue objects.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import re
from collections.abc import Callable
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
from pulumi.runtime.rpc import _special_secret_sig, _special_sig_key
from pulumi_kubernetes import _utilities as k8s_utilities

from tools.mock_runtime import Registration

_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")
# Remote components of pulumi_kubernetes (registered with custom=False, rendered by the provider).
REMOTE_COMPONENTS = frozenset(
    {
        "kubernetes:helm.sh/v4:Chart",
        "kubernetes:yaml/v2:ConfigFile",
        "kubernetes:yaml/v2:ConfigGroup",
        "kubernetes:kustomize/v2:Directory",
    }
)


class RawObject(pulumi.CustomResource):
    """An object whose top-level fields are not `spec` (a WorkloadPriorityClass has `value`): the SDK's
    CustomResource takes `spec` only, so these go through `pulumi.CustomResource` with the whole body."""

    def __init__(self, resource_name: str, props: dict[str, Any], opts: pulumi.ResourceOptions) -> None:
        version = pulumi.ResourceOptions(version=k8s_utilities.get_version())
        type_token = f"kubernetes:{props['apiVersion']}:{props['kind']}"
        super().__init__(type_token, resource_name, props, pulumi.ResourceOptions.merge(opts, version))


def snake(name: str) -> str:
    """`apiVersion` -> `api_version`, the Python SDK's argument name of a wire property."""
    return _CAMEL.sub("_", name).lower()


@functools.cache
def resource_class(type_token: str) -> type[pulumi.Resource]:
    """The pulumi_kubernetes class that registers `type_token`; CustomResource for CRD-defined kinds."""
    if type_token == "pulumi:providers:kubernetes":
        return k8s.Provider
    package, module, kind = type_token.split(":")
    if package != "kubernetes":
        raise ValueError(f"not a Kubernetes type: {type_token}")
    group, _, version = module.rpartition("/")
    # Built-in API groups have no dot (core, apps, batch, ...) or end in .k8s.io; helm.sh is the provider's.
    if group == "" or "." not in group or group.endswith(".k8s.io") or group == "helm.sh":
        name = (group or module).split(".")[0]
        try:
            candidate = getattr(importlib.import_module(f"pulumi_kubernetes.{name}.{version}"), kind)
        except (ImportError, AttributeError):
            candidate = None
        if isinstance(candidate, type) and issubclass(candidate, pulumi.Resource):
            return candidate
    return k8s.apiextensions.CustomResource


def class_for(resource: Registration) -> type[pulumi.Resource]:
    """`resource_class`, except CRD-defined objects with top-level fields other than `spec`: RawObject."""
    cls = resource_class(resource.type)
    if cls is k8s.apiextensions.CustomResource and set(resource.inputs) - {"apiVersion", "kind", "metadata", "spec"}:
        return RawObject
    return cls


@functools.cache
def _parameters(cls: type[pulumi.Resource]) -> frozenset[str]:
    init = getattr(cls, "_internal_init", cls.__init__)
    return frozenset(inspect.signature(init).parameters) - {"__self__", "resource_name", "opts", "__props__"}


def _value(value: Any) -> Any:
    """Recorded inputs back to SDK inputs: secrets become secret Outputs again."""
    if isinstance(value, dict):
        if value.get(_special_sig_key) == _special_secret_sig:
            return pulumi.Output.secret(_value(value["value"]))
        return {key: _value(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_value(item) for item in value]
    return value


def arguments(cls: type[pulumi.Resource], inputs: dict[str, Any]) -> dict[str, Any]:
    """Constructor keyword arguments for `cls` from recorded wire inputs (top-level keys in snake case).

    Nested values keep their wire (camelCase) keys, which the SDK passes through unchanged. Inputs the
    class sets itself and does not accept (Helm's `compat`) are dropped; a CustomResource takes every
    top-level field.
    """
    if cls is RawObject:
        return {"props": {key: _value(value) for key, value in inputs.items()}}
    if cls is k8s.apiextensions.CustomResource:
        fields = {snake(key): _value(value) for key, value in inputs.items()}
        return {"api_version": fields.pop("api_version"), "kind": fields.pop("kind"), **fields}
    accepted = _parameters(cls)
    return {snake(key): _value(value) for key, value in inputs.items() if snake(key) in accepted}


def replayed(resources: list[Registration]) -> list[Registration]:
    """The registrations the baseline re-creates: custom resources and the provider's remote components."""
    return [
        resource
        for resource in resources
        if (resource.custom and resource.type.startswith(("kubernetes:", "pulumi:providers:kubernetes")))
        or resource.type in REMOTE_COMPONENTS
    ]


def inherited_dependencies(resources: list[Registration]) -> dict[str, list[str]]:
    """Each resource's dependencies plus its ancestors' (in order, no repeats).

    A component's `depends_on` holds back all its descendants (they register only once the component
    has), but the SDK does not copy it into their own dependencies. A flat program has no parents, so
    it must state those edges on each resource to keep the same order.
    """
    by_urn = {resource.urn: resource for resource in resources}
    waits: dict[str, list[str]] = {}
    for resource in resources:
        chain: list[str] = []
        current: Registration | None = resource
        while current is not None:
            chain.extend(urn for urn in current.dependencies if urn not in chain)
            current = by_urn.get(current.parent)
        waits[resource.urn] = chain
    return waits


def replay(resources: list[Registration]) -> Callable[[], None]:
    """A flat program registering `replayed(resources)` directly, in the recorded order."""
    plan = replayed(resources)
    kept = {id(resource) for resource in plan}
    unsupported = sorted({r.type for r in resources if r.custom and id(r) not in kept})
    if unsupported:
        raise ValueError(f"the baseline replays Kubernetes resources only, not {', '.join(unsupported)}")
    waits = inherited_dependencies(resources)
    prepared = []
    used: set[tuple[str, str]] = set()
    for resource in plan:
        cls = class_for(resource)
        name = resource.name
        while (resource.type, name) in used:  # flat: names from different parents must not collide
            name += "-x"
        used.add((resource.type, name))
        prepared.append((resource, cls, name, arguments(cls, resource.inputs)))

    def program() -> None:
        created: dict[str, pulumi.Resource] = {}
        for resource, cls, name, kwargs in prepared:
            provider = created.get(resource.provider.rsplit("::", 1)[0]) if resource.provider else None
            depends_on = [created[urn] for urn in waits[resource.urn] if urn in created]
            opts = pulumi.ResourceOptions(provider=provider, depends_on=depends_on or None)
            created[resource.urn] = cls(name, opts=opts, **kwargs)

    return program
