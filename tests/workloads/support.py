"""Shared helpers for the workload tests: small specs, the shipped stacks, a fake IRSA identity."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi

from components.builders.context import BuildContext
from components.spec.loader import Platform, StackSettings, load_platform
from components.spec.models import PlatformSpec

ROOT = Path(__file__).resolve().parents[2]
STACKS = sorted(path.stem for path in (ROOT / "stacks").glob("*.yaml"))

PROVIDER_ARN = "arn:aws:iam::111122223333:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/ABC"
ISSUER = "oidc.eks.us-east-1.amazonaws.com/id/ABC"

# A small EKS platform: a system pool, an L4 pool (4 GPUs per node, 2 nodes) and a CPU pool; two teams.
BASE: dict[str, Any] = {
    "cluster": {"mode": "eks", "eks": {"region": "us-east-1"}},
    "node_pools": {
        "system": {"system": True, "instance_types": ["m6i.xlarge"], "min_nodes": 1, "max_nodes": 2},
        "l4": {"instance_types": ["g6.12xlarge"], "max_nodes": 2},
        "cpu": {"instance_types": ["m6i.4xlarge"], "max_nodes": 3},
    },
    "queueing": {"priority_classes": {"batch": {"value": 100, "description": "experiments"}}},
    "teams": {"ml": {}, "research": {"namespace": "research-ns", "local_queues": ["gpu", "default"]}},
}


def spec_of(**sections: Any) -> PlatformSpec:
    """BASE with whole top-level sections replaced (and `addons` merged)."""
    raw = copy.deepcopy(BASE)
    raw.update(copy.deepcopy(sections))
    return PlatformSpec.model_validate(raw)


def context(spec: PlatformSpec | None = None, **overrides: Any) -> BuildContext:
    return BuildContext.for_spec(spec if spec is not None else spec_of(), **overrides)


def platform_of(spec: PlatformSpec, environment: str = "test", **settings: Any) -> Platform:
    """A Platform around an already valid spec (the cross-field rules are tested elsewhere)."""
    return Platform(settings=StackSettings(environment=environment, spec_file=f"stacks/{environment}.yaml",
                                           **settings), spec=spec)


def stack_platform(environment: str) -> Platform:
    return load_platform(StackSettings(environment=environment, spec_file=f"stacks/{environment}.yaml"), ROOT)


@dataclass(frozen=True)
class FakeIdentity:
    """Stands in for `components.cluster.identity.WorkloadIdentity`."""

    oidc_provider_arn: pulumi.Output[str]
    oidc_issuer: pulumi.Output[str]

    @classmethod
    def create(cls) -> FakeIdentity:
        return cls(pulumi.Output.from_input(PROVIDER_ARN), pulumi.Output.from_input(ISSUER))
