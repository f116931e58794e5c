"""Time to ready: a per-resource-type latency model and the schedule the engine would follow.

The engine creates a resource as soon as everything it waits for is ready, in parallel otherwise. What a
resource waits for, from the registrations recorded under mocks (`tools.mock_runtime`):

- its `dependencies` (explicit `depends_on` and every Output it consumed, as the SDK sends them);
- its provider (`pulumi:providers:kubernetes` built from the cluster's kubeconfig waits for the cluster);
- its parent's start: a child registers only once its parent's URN is known, and a component registers
  only once its own dependencies are ready, so a component's `depends_on` holds back every descendant.

A custom resource is ready `latency` seconds after it starts; a component is ready when all its children
are (a Helm v4 `Chart` is a component whose rendered objects are not recorded under mocks, so it carries
the install latency of its chart itself). A fully serial install, what staged `pulumi up --target`
applies amount to, takes the sum of all latencies.

The latencies are documented estimates, not measurements: the order of magnitude is what matters
(an EKS control plane is minutes, a CRD is a second) and they are listed in `LATENCY_MODEL`.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Protocol

CHART_TYPES = frozenset({"kubernetes:helm.sh/v3:Release", "kubernetes:helm.sh/v4:Chart"})

# Seconds per resource type (exact type token), the documented model. Anything missing falls back to
# `_fallback` below: other AWS resources 5 s, Kubernetes objects 1 s, providers and components 0 s.
LATENCY_MODEL: dict[str, float] = {
    # EKS: the control plane is the long pole; a managed node group launches and joins its nodes.
    "aws:eks/cluster:Cluster": 600,
    "aws:eks/nodeGroup:NodeGroup": 240,
    "aws:eks/addon:Addon": 60,
    "aws:eks/accessEntry:AccessEntry": 3,
    "aws:eks/accessPolicyAssociation:AccessPolicyAssociation": 3,
    "aws:eks/podIdentityAssociation:PodIdentityAssociation": 3,
    # VPC pieces: seconds each, except the NAT gateway (1-2 min until available).
    "aws:ec2/vpc:Vpc": 3,
    "aws:ec2/subnet:Subnet": 3,
    "aws:ec2/internetGateway:InternetGateway": 3,
    "aws:ec2/eip:Eip": 2,
    "aws:ec2/natGateway:NatGateway": 120,
    "aws:ec2/routeTable:RouteTable": 2,
    "aws:ec2/route:Route": 2,
    "aws:ec2/routeTableAssociation:RouteTableAssociation": 1,
    "aws:ec2/securityGroup:SecurityGroup": 3,
    "aws:ec2/securityGroupRule:SecurityGroupRule": 1,
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": 1,
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": 1,
    "aws:ec2/launchTemplate:LaunchTemplate": 2,
    "aws:ec2/vpcEndpoint:VpcEndpoint": 60,
    # IAM and KMS: seconds (an instance profile propagates a little slower).
    "aws:iam/role:Role": 3,
    "aws:iam/policy:Policy": 3,
    "aws:iam/rolePolicy:RolePolicy": 2,
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": 2,
    "aws:iam/openIdConnectProvider:OpenIdConnectProvider": 2,
    "aws:iam/instanceProfile:InstanceProfile": 8,
    "aws:kms/key:Key": 3,
    "aws:kms/alias:Alias": 1,
    "aws:cloudwatch/logGroup:LogGroup": 1,
    "aws:s3/bucket:Bucket": 3,
    "aws:s3/bucketV2:BucketV2": 3,
    # Kubernetes objects that Pulumi awaits until their pods are ready (no `skipAwait` in EKS stacks).
    "kubernetes:apps/v1:Deployment": 60,
    "kubernetes:apps/v1:StatefulSet": 90,
    "kubernetes:apps/v1:DaemonSet": 60,
    "kubernetes:batch/v1:Job": 60,
    # CRDs: established within a second or so.
    "kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition": 1,
}

# Helm charts (v3 Release awaits every object; v4 Chart awaits its rendered objects), by chart name.
# Matched as a substring of the `chart` input, longest name first (`kserve-crd` before `kserve`).
CHART_LATENCY: dict[str, float] = {
    "kube-prometheus-stack": 180,
    "gpu-operator": 180,
    "cert-manager": 90,
    "kserve-crd": 15,
    "kserve-runtime-configs": 15,
    "kserve-resources": 120,
    "kserve": 120,
    "kueue": 90,
    "kuberay-operator": 60,
    "nvidia-device-plugin": 60,
    "gpu-feature-discovery": 60,
    "dcgm-exporter": 60,
    "istiod": 90,
    "gateway": 60,
    "base": 15,
}
DEFAULT_CHART_LATENCY = 120.0


class Registered(Protocol):
    """What the model reads of a `tools.mock_runtime.Registration`."""

    @property
    def type(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def urn(self) -> str: ...
    @property
    def inputs(self) -> dict: ...
    @property
    def parent(self) -> str: ...
    @property
    def dependencies(self) -> tuple[str, ...]: ...
    @property
    def provider(self) -> str: ...
    @property
    def custom(self) -> bool: ...


def chart_name(resource: Registered) -> str:
    """The chart of a Helm Release or Chart: the last path segment of `chart` (`oci://.../kueue` -> `kueue`)."""
    chart = str(resource.inputs.get("chart", ""))
    return chart.rstrip("/").rsplit("/", 1)[-1]


def chart_latency(resource: Registered) -> float:
    name = chart_name(resource)
    for known in sorted(CHART_LATENCY, key=len, reverse=True):
        if known == name or (len(known) > 4 and known in name):
            return CHART_LATENCY[known]
    return DEFAULT_CHART_LATENCY


def _fallback(resource: Registered) -> float:
    if resource.type.startswith("pulumi:providers:") or not resource.custom:
        return 0.0
    if resource.type.startswith("aws:"):
        return 5.0
    if resource.type.startswith("kubernetes:"):
        return 1.0  # a Kubernetes object without awaited readiness, custom resources included
    return 0.0  # random, tls and other local-only resources


def latency(resource: Registered) -> float:
    """Seconds from start to ready of one resource under the documented model."""
    if resource.type in CHART_TYPES:
        return chart_latency(resource)
    if resource.type in LATENCY_MODEL:
        return float(LATENCY_MODEL[resource.type])
    return _fallback(resource)


def provider_urn(reference: str) -> str:
    """A provider reference is `<urn>::<id>`; the URN part (empty for none)."""
    return reference.rsplit("::", 1)[0] if reference else ""


@dataclass(frozen=True)
class Timing:
    start: float
    ready: float
    # What held the start back: ("dependency" | "provider" | "parent", urn), or None at t=0.
    start_cause: tuple[str, str] | None
    # For a component whose last child finished last: that child's URN.
    ready_cause: str | None


@dataclass(frozen=True)
class Step:
    """One resource on the critical path, in order."""

    resource: Registered
    start: float
    ready: float
    latency: float
    reason: str  # why it could not start earlier ("after <name> (dependency)")


@dataclass
class Schedule:
    resources: dict[str, Registered]
    timings: dict[str, Timing]
    latencies: dict[str, float]

    @property
    def total(self) -> float:
        """Seconds until every resource is ready with unlimited parallelism (the critical path)."""
        return max((timing.ready for timing in self.timings.values()), default=0.0)

    @property
    def serial(self) -> float:
        """Seconds of a fully serial install of the same resources."""
        return sum(self.latencies.values())

    def last(self) -> str:
        # Ties (several chains ending together) resolve by name, so the report is the same on every run.
        return max(self.timings, key=lambda urn: (self.timings[urn].ready, -self.timings[urn].start, urn))

    def critical_path(self, urn: str | None = None) -> list[Step]:
        """The chain of resources that ends when `urn` (default: the last resource) is ready, in order.

        Walks back from the end: a component hands over to the child that finished last; a resource
        hands over to what released its start (a dependency or the provider, possibly through its
        parents' own dependencies). Zero-latency hops (components, providers) are not listed.
        """
        steps: list[Step] = []
        current: str | None = urn or self.last()
        while current is not None:
            timing = self.timings[current]
            if timing.ready_cause is not None:
                current = timing.ready_cause  # a component: its last child is what it waited for
                continue
            cause = timing.start_cause
            while cause is not None and cause[0] == "parent":
                cause = self.timings[cause[1]].start_cause  # the parent's blocker held the child back
            reason = f"after {self.resources[cause[1]].name} ({cause[0]})" if cause else "at once"
            if self.latencies[current] > 0 or not steps:
                steps.append(Step(self.resources[current], timing.start, timing.ready, self.latencies[current], reason))
            current = cause[1] if cause else None
        return list(reversed(steps))


def schedule(resources: Iterable[Registered], latency_of: Callable[[Registered], float] = latency) -> Schedule:
    """Earliest start and ready time of every resource with unlimited parallelism."""
    by_urn = {resource.urn: resource for resource in resources}
    children: dict[str, list[str]] = {}
    for resource in by_urn.values():
        children.setdefault(resource.parent, []).append(resource.urn)
    latencies = {urn: float(latency_of(resource)) for urn, resource in by_urn.items()}
    starts: dict[str, tuple[float, tuple[str, str] | None]] = {}
    timings: dict[str, Timing] = {}
    visiting: set[str] = set()

    def start_of(urn: str) -> tuple[float, tuple[str, str] | None]:
        if urn in starts:
            return starts[urn]
        if ("start", urn) in visiting:
            raise ValueError(f"dependency cycle through {by_urn[urn].name}")
        visiting.add(("start", urn))
        resource = by_urn[urn]
        best, cause = 0.0, None
        if resource.parent in by_urn:
            best = start_of(resource.parent)[0]
            cause = ("parent", resource.parent) if best > 0 else None
        waits = [("dependency", dependency) for dependency in resource.dependencies]
        if provider_urn(resource.provider):
            waits.append(("provider", provider_urn(resource.provider)))
        for kind, other in waits:
            if other in by_urn and other != urn and ready_of(other) > best:
                best, cause = ready_of(other), (kind, other)
        visiting.discard(("start", urn))
        starts[urn] = best, cause
        return best, cause

    def ready_of(urn: str) -> float:
        if urn in timings:
            return timings[urn].ready
        if ("ready", urn) in visiting:
            raise ValueError(f"dependency cycle through {by_urn[urn].name} (it waits for its own descendant)")
        visiting.add(("ready", urn))
        start, start_cause = start_of(urn)
        ready, ready_cause = start + latencies[urn], None
        for child in children.get(urn, []):
            if ready_of(child) > ready:
                ready, ready_cause = ready_of(child), child
        visiting.discard(("ready", urn))
        timings[urn] = Timing(start, ready, start_cause, ready_cause)
        return ready

    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 10 * len(by_urn) + 1000))  # one frame pair per resource on a chain
    try:
        for urn in by_urn:
            ready_of(urn)
    finally:
        sys.setrecursionlimit(limit)
    return Schedule(by_urn, timings, latencies)
