"""Everything that runs on the platform: teams, Kueue queues, model services and Ray workloads.

`__main__.py` builds one `Workloads` after the cluster and the add-ons. Each object kind waits only for
the add-on it needs (`ready[<add-on>]`: CRDs and webhooks, empty for pre-installed add-ons), so teams and
queues do not wait for KServe, and model services do not wait for KubeRay.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi

from components.builders.context import BuildContext
from components.model_service import ModelService, ModelServiceArgs, WorkloadIdentity
from components.queues import Queues, QueuesArgs
from components.ray import RayCluster, RayJob, RayService, RayWorkloadArgs
from components.spec.loader import Platform
from components.teams import Team, TeamArgs


@dataclass(frozen=True)
class WorkloadsArgs:
    """`identity`: the cluster's IRSA identity, None on existing clusters (model services then get no AWS
    role). `ready`: per add-on name (`kueue`, `kuberay`, `kserve`, `istio`, `monitoring`, ...) the resources
    that objects of that add-on must wait for; a missing key means nothing to wait for."""

    platform: Platform
    identity: WorkloadIdentity | None = None
    ready: Mapping[str, Sequence[pulumi.Resource]] = field(default_factory=dict)


class Workloads(pulumi.ComponentResource):
    """Children are keyed by spec names: `<name>-team-<team>`, `<name>-<model>`, `<name>-<ray workload>`.

    `endpoints` maps each model service to its URL on the shared gateway; `ray_endpoints` each RayService
    to its serve URL.
    """

    endpoints: dict[str, str]
    ray_endpoints: dict[str, str]
    teams: dict[str, Team]
    queues: Queues | None

    def __init__(self, name: str, args: WorkloadsArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("gpuplat:workloads:Workloads", name, None, opts)
        platform = args.platform
        spec = platform.spec
        ctx = BuildContext.from_platform(platform)

        def ready(addon: str) -> list[pulumi.Resource]:
            return list(args.ready.get(addon, ()))

        child = pulumi.ResourceOptions(parent=self)
        self.queues = (Queues(f"{name}-queues", QueuesArgs(platform=platform, ready=ready("kueue")), opts=child)
                       if ctx.kueue else None)
        self.teams = {
            team: Team(f"{name}-team-{team}",
                       TeamArgs(platform=platform, team=team, kueue_ready=ready("kueue"), istio_ready=ready("istio")),
                       opts=child)
            for team in sorted(spec.teams)
        }

        self.endpoints = {}
        for service_name, service in sorted(spec.model_services.items()):
            component = ModelService(f"{name}-{service_name}", ModelServiceArgs(
                platform=platform, service=service_name, namespace=self.teams[service.team].namespace,
                identity=args.identity, kserve_ready=ready("kserve"), istio_ready=ready("istio"),
                monitoring_ready=ready("monitoring"),
            ), opts=child)
            self.endpoints[service_name] = component.endpoint

        self.ray_endpoints = {}
        kinds = ((RayCluster, spec.ray_clusters), (RayJob, spec.ray_jobs), (RayService, spec.ray_services))
        for kind, section in kinds:
            for workload_name, workload in sorted(section.items()):
                team = self.teams[workload.team]
                queue = workload.queue or ctx.default_queue(workload.team)
                ray_component = kind(f"{name}-{workload_name}", RayWorkloadArgs(
                    platform=platform, workload=workload_name, namespace=team.namespace,
                    queue=team.local_queues.get(queue), kuberay_ready=ready("kuberay"), kueue_ready=ready("kueue"),
                    istio_ready=ready("istio"),
                ), opts=child)
                if isinstance(ray_component, RayService) and ray_component.endpoint:
                    self.ray_endpoints[workload_name] = ray_component.endpoint
        self.register_outputs({"endpoints": self.endpoints, "ray_endpoints": self.ray_endpoints})
