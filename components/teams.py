"""A team: its namespace and the guard rails every workload in it runs under.

Namespace (Istio injection when the mesh is present), derived ResourceQuota, LimitRange, default-deny
NetworkPolicy plus the allows serving, Ray and monitoring need, the team's ServiceAccount and its Kueue
LocalQueues. The manifests come from `components.builders.teams`; see its docstring for the quota maths.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.builders import teams
from components.builders.context import BuildContext
from components.queues import register
from components.spec.loader import Platform


@dataclass(frozen=True)
class TeamArgs:
    """`team` names an entry of `platform.spec.teams`; `kueue_ready` / `istio_ready` are what LocalQueues and
    the mesh policy wait for (the add-on's CRDs and webhooks, empty when pre-installed)."""

    platform: Platform
    team: str
    kueue_ready: Sequence[pulumi.Resource] = ()
    istio_ready: Sequence[pulumi.Resource] = ()


class Team(pulumi.ComponentResource):
    """Everything namespaced that a team's workloads rely on. `namespace` is the namespace name as an
    output, so objects placed in it depend on its creation through data flow."""

    namespace: pulumi.Output[str]
    namespace_resource: k8s.core.v1.Namespace
    service_account: k8s.core.v1.ServiceAccount
    local_queues: dict[str, pulumi.CustomResource]

    def __init__(self, name: str, args: TeamArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("gpuplat:teams:Team", name, None, opts)
        ctx = BuildContext.from_platform(args.platform)
        team = args.team
        child = pulumi.ResourceOptions(parent=self)

        namespace = teams.namespace(ctx, team)
        self.namespace_resource = k8s.core.v1.Namespace(f"{name}-namespace", metadata=namespace["metadata"],
                                                        opts=child)
        self.namespace = self.namespace_resource.metadata.apply(lambda meta: str(meta.name))

        def placed(manifest: dict[str, Any]) -> Any:  # plain dicts stand in for the SDK's typed args
            return {**manifest["metadata"], "namespace": self.namespace}

        quota = teams.resource_quota(ctx, team)
        k8s.core.v1.ResourceQuota(f"{name}-quota", metadata=placed(quota), spec=quota["spec"], opts=child)
        limits = teams.limit_range(ctx, team)
        k8s.core.v1.LimitRange(f"{name}-limits", metadata=placed(limits), spec=limits["spec"], opts=child)
        for policy_name, policy in teams.network_policies(ctx, team).items():
            k8s.networking.v1.NetworkPolicy(f"{name}-{policy_name}", metadata=placed(policy), spec=policy["spec"],
                                            opts=child)
        mesh = teams.mesh_policy(ctx, team)
        if mesh is not None:
            register(f"{name}-allow-same-namespace", mesh,
                     pulumi.ResourceOptions(parent=self, depends_on=list(args.istio_ready)), namespace=self.namespace)
        account = teams.service_account(ctx, team)
        self.service_account = k8s.core.v1.ServiceAccount(
            f"{name}-service-account", metadata=placed(account),
            automount_service_account_token=account["automountServiceAccountToken"], opts=child)
        queue_opts = pulumi.ResourceOptions(parent=self, depends_on=list(args.kueue_ready))
        self.local_queues = {
            queue: register(f"{name}-queue-{queue}", manifest, queue_opts, namespace=self.namespace)
            for queue, manifest in teams.local_queues(ctx, team).items()
        }
        self.register_outputs({"namespace": self.namespace, "local_queues": sorted(self.local_queues)})
