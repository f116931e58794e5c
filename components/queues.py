"""Kueue from the node pools: ResourceFlavors, ClusterQueues and WorkloadPriorityClasses (cluster-scoped).

The manifests come from `components.builders.queues`; this component only registers them, after Kueue's
CRDs and webhooks (`ready`). LocalQueues are namespaced and belong to each team (`components.teams`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
from pulumi_kubernetes import _utilities as k8s_utilities

from components.builders import queues
from components.spec.loader import Platform


class KubernetesObject(pulumi.CustomResource):
    """A custom resource registered with every top-level field of its manifest.

    The SDK's `CustomResource` carries only `metadata` and `spec`; a WorkloadPriorityClass has no `spec`
    (its `value` and `description` are top-level), so it is registered through this class.
    """

    def __init__(self, resource_name: str, manifest: dict[str, Any], opts: pulumi.ResourceOptions | None = None):
        body = dict(manifest)
        version = pulumi.ResourceOptions(version=k8s_utilities.get_version())
        super().__init__(f"kubernetes:{body['apiVersion']}:{body['kind']}", resource_name, body,
                         pulumi.ResourceOptions.merge(opts, version))


def register(resource_name: str, manifest: dict[str, Any], opts: pulumi.ResourceOptions,
             **overrides: Any) -> pulumi.CustomResource:
    """Register a custom-resource manifest; `overrides` replace metadata fields (e.g. an output namespace)."""
    meta = {**manifest["metadata"], **overrides} if overrides else manifest["metadata"]
    if "spec" in manifest and set(manifest) <= {"apiVersion", "kind", "metadata", "spec"}:
        return k8s.apiextensions.CustomResource(resource_name, api_version=manifest["apiVersion"],
                                                kind=manifest["kind"], metadata=meta, spec=manifest["spec"],
                                                opts=opts)
    return KubernetesObject(resource_name, {**manifest, "metadata": meta}, opts)


@dataclass(frozen=True)
class QueuesArgs:
    """`ready`: Kueue's CRDs and webhooks; empty when Kueue is pre-installed."""

    platform: Platform
    ready: Sequence[pulumi.Resource] = ()


class Queues(pulumi.ComponentResource):
    """One ResourceFlavor per pool, the ClusterQueues with quotas derived from the pools, and the
    WorkloadPriorityClasses. Children are keyed by pool, queue and priority name."""

    flavors: dict[str, pulumi.CustomResource]
    cluster_queues: dict[str, pulumi.CustomResource]
    priority_classes: dict[str, pulumi.CustomResource]

    def __init__(self, name: str, args: QueuesArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("gpuplat:queues:Queues", name, None, opts)
        spec = args.platform.spec

        def child() -> pulumi.ResourceOptions:
            return pulumi.ResourceOptions(parent=self, depends_on=list(args.ready))

        self.flavors = {pool: register(f"{name}-flavor-{pool}", manifest, child())
                        for pool, manifest in queues.resource_flavors(spec).items()}
        # A flavor in use carries Kueue's `resource-in-use` finalizer until its ClusterQueues are gone: the
        # edge makes Pulumi create flavors first and delete them last.
        flavor_list = list(self.flavors.values())
        self.cluster_queues = {
            queue: register(f"{name}-cluster-queue-{queue}", manifest,
                            pulumi.ResourceOptions(parent=self, depends_on=[*args.ready, *flavor_list]))
            for queue, manifest in queues.cluster_queues(spec).items()
        }
        self.priority_classes = {
            priority: register(f"{name}-priority-{priority}", queues.workload_priority_class(priority, value), child())
            for priority, value in sorted(spec.queueing.priority_classes.items())
        }
        self.register_outputs({
            "flavors": sorted(self.flavors),
            "cluster_queues": sorted(self.cluster_queues),
            "priority_classes": sorted(self.priority_classes),
        })
