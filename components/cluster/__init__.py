"""The cluster the platform runs on, in either mode, behind one handle.

`eks`: the stack builds an EKS cluster (network, control plane, IRSA, one managed node group per pool).
`existing`: the stack only connects to a cluster it is given. Either way the caller gets a
`ClusterHandle` with the same interface; add-ons and workloads never look at the mode.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components.cluster.eks import EksCluster, EksClusterArgs
from components.cluster.existing import ExistingCluster, ExistingClusterArgs, existing_cluster_args
from components.cluster.identity import WorkloadIdentity
from components.cluster.plan import cluster_name
from components.cluster.pool_info import PoolInfo, pool_infos
from components.spec.loader import Platform

__all__ = [
    "ClusterHandle",
    "EksCluster",
    "EksClusterArgs",
    "ExistingCluster",
    "ExistingClusterArgs",
    "PoolInfo",
    "WorkloadIdentity",
    "create_cluster",
]


@dataclass(frozen=True)
class ClusterHandle:
    """What the rest of the program needs from the cluster, identical in both modes."""

    component: pulumi.ComponentResource
    """The `EksCluster` or `ExistingCluster` (escape hatch, and a `depends_on` target)."""
    provider: k8s.Provider
    providers: list[pulumi.ProviderResource]
    """For `ResourceOptions(providers=...)`: the Kubernetes provider, plus the AWS provider in EKS mode so
    AWS resources of the add-ons and workloads (IRSA roles, buckets) land in the cluster's account/region."""
    kubeconfig: pulumi.Output[str]
    """Secret. EKS: a kubeconfig using `aws eks get-token`; existing: the file read, or "" for the default."""
    pools: Mapping[str, PoolInfo]
    workload_identity: WorkloadIdentity | None
    """The IRSA OIDC provider in EKS mode; None on an existing cluster."""


def create_cluster(name: str, platform: Platform) -> ClusterHandle:
    """Build (eks) or connect to (existing) the cluster of `platform`, according to `cluster.mode`."""
    spec = platform.spec
    pools = pool_infos(spec)
    if spec.cluster.mode == "eks":
        if spec.cluster.eks is None:  # refused by the spec rules; kept for type narrowing
            raise ValueError("cluster.eks: required when cluster.mode is 'eks'")
        eks = EksCluster(
            name,
            EksClusterArgs(
                eks_cluster_name=cluster_name(name, platform.settings.environment),
                eks=spec.cluster.eks,
                node_pools=spec.node_pools,
            ),
        )
        return ClusterHandle(
            component=eks,
            provider=eks.provider,
            providers=[eks.provider, eks.aws_provider],
            kubeconfig=eks.kubeconfig,
            pools=pools,
            workload_identity=eks.workload_identity,
        )
    existing = ExistingCluster(name, existing_cluster_args(platform))
    return ClusterHandle(
        component=existing,
        provider=existing.provider,
        providers=[existing.provider],
        kubeconfig=existing.kubeconfig,
        pools=pools,
        workload_identity=None,
    )
