"""Ray workloads as components: `RayCluster`, `RayJob` and `RayService` (KubeRay `ray.io/v1`).

Each registers its custom resource from `components.builders.ray`, plus the dashboard route and its
gateway authorization and the serve route (RayService) when Istio is present. Ray metrics are scraped by
the monitoring add-on's cluster-wide `ray` PodMonitor.
The objects wait for KubeRay's CRDs and, when queued, for Kueue's webhooks and the LocalQueue they name.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi

from components.builders import ray
from components.builders.context import BuildContext
from components.queues import register
from components.spec.loader import Platform
from components.spec.models import Queued


@dataclass(frozen=True)
class RayWorkloadArgs:
    """`workload` names an entry of `ray_clusters`, `ray_jobs` or `ray_services` (by the component's kind);
    `namespace` is the team's namespace output; `queue` the LocalQueue the object is labelled with (None
    without Kueue). The `*_ready` sequences are the add-ons' CRDs and webhooks."""

    platform: Platform
    workload: str
    namespace: pulumi.Input[str]
    queue: pulumi.Resource | None = None
    kuberay_ready: Sequence[pulumi.Resource] = ()
    kueue_ready: Sequence[pulumi.Resource] = ()
    istio_ready: Sequence[pulumi.Resource] = ()


class _RayWorkload(pulumi.ComponentResource):
    kind: ray.Kind
    section: str
    resource: pulumi.CustomResource
    dashboard: str | None

    def __init__(self, name: str, args: RayWorkloadArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(f"gpuplat:ray:{self.kind}", name, None, opts)
        ctx = BuildContext.from_platform(args.platform)
        workload: Queued = getattr(args.platform.spec, self.section)[args.workload]
        namespace = args.namespace
        # Kueue's webhook admits queued Ray objects; the LocalQueue they name should exist first.
        queued = [*args.kueue_ready, *([args.queue] if args.queue is not None else [])] if ctx.kueue else []
        self.resource = register(
            f"{name}-{ray.COMPONENTS[self.kind]}", self.manifest(ctx, args.workload, workload),
            pulumi.ResourceOptions(parent=self, depends_on=[*args.kuberay_ready, *queued]), namespace=namespace)
        self.dashboard = None
        if ctx.istio:
            mesh = pulumi.ResourceOptions(parent=self, depends_on=list(args.istio_ready))
            register(f"{name}-dashboard", ray.dashboard_virtual_service(ctx, args.workload, self.kind, workload.team),
                     mesh, namespace=namespace)
            # In the gateway's namespace (fixed), not the team's.
            register(f"{name}-dashboard-authorization",
                     ray.dashboard_authorization_policy(ctx, args.workload, self.kind, workload.team), mesh)
            self.dashboard = f"https://{ray.dashboard_host(ctx, args.workload, workload.team)}/"
            self.routes(name, ctx, args, mesh)
        self.register_outputs({"resource": self.resource, "dashboard": self.dashboard})

    def manifest(self, ctx: BuildContext, name: str, workload: Queued) -> dict:
        """The kind's manifest; every subclass below builds its own (this base is never instantiated)."""
        raise NotImplementedError

    def routes(self, name: str, ctx: BuildContext, args: RayWorkloadArgs, mesh: pulumi.ResourceOptions) -> None:
        """Extra gateway routes (RayService's serve endpoint)."""


class RayCluster(_RayWorkload):
    """A long-lived Ray cluster (`ray_clusters.<name>`)."""

    kind = "RayCluster"
    section = "ray_clusters"

    def manifest(self, ctx: BuildContext, name: str, workload: Queued) -> dict:
        return ray.ray_cluster(ctx, name, workload)  # type: ignore[arg-type]


class RayJob(_RayWorkload):
    """A batch job on its own cluster, torn down when it finishes (`ray_jobs.<name>`)."""

    kind = "RayJob"
    section = "ray_jobs"

    def manifest(self, ctx: BuildContext, name: str, workload: Queued) -> dict:
        return ray.ray_job(ctx, name, workload)  # type: ignore[arg-type]


class RayService(_RayWorkload):
    """Ray Serve applications with zero-downtime upgrades (`ray_services.<name>`); `endpoint` is its URL."""

    kind = "RayService"
    section = "ray_services"
    endpoint: str | None = None

    def manifest(self, ctx: BuildContext, name: str, workload: Queued) -> dict:
        return ray.ray_service(ctx, name, workload)  # type: ignore[arg-type]

    def routes(self, name: str, ctx: BuildContext, args: RayWorkloadArgs, mesh: pulumi.ResourceOptions) -> None:
        service = args.platform.spec.ray_services[args.workload]
        register(f"{name}-serve-route", ray.serve_virtual_service(ctx, args.workload, service), mesh,
                 namespace=args.namespace)
        self.endpoint = ray.serve_endpoint(ctx, args.workload, service)
