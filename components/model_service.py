"""A model service: the KServe InferenceService and what makes it reachable, authorised and observed.

Registers the manifests of `components.builders.serving`: ServiceAccount (IRSA-annotated on EKS when the
model is on S3, with an IAM role that can read exactly the model prefixes), InferenceService,
PodDisruptionBudget (min replicas > 1), and with the add-ons present an Istio VirtualService and
AuthorizationPolicy and a ServiceMonitor.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components.builders import serving
from components.builders.context import BuildContext
from components.queues import register
from components.spec.loader import Platform


class WorkloadIdentity(Protocol):
    """The cluster's IRSA identity (`components.cluster.identity.WorkloadIdentity` satisfies it)."""

    @property
    def oidc_provider_arn(self) -> pulumi.Output[str]: ...

    @property
    def oidc_issuer(self) -> pulumi.Output[str]: ...


@dataclass(frozen=True)
class ModelServiceArgs:
    """`service` names an entry of `platform.spec.model_services`; `namespace` is the team's namespace
    output. `identity` is None on existing clusters (no IRSA). The `*_ready` sequences are the add-ons'
    CRDs and webhooks the objects of that kind wait for."""

    platform: Platform
    service: str
    namespace: pulumi.Input[str]
    identity: WorkloadIdentity | None = None
    kserve_ready: Sequence[pulumi.Resource] = ()
    istio_ready: Sequence[pulumi.Resource] = ()
    monitoring_ready: Sequence[pulumi.Resource] = ()


class ModelService(pulumi.ComponentResource):
    """`endpoint` is the URL on the shared gateway; `inference_service` the underlying resource."""

    endpoint: str
    inference_service: pulumi.CustomResource
    role: aws.iam.Role | None

    def __init__(self, name: str, args: ModelServiceArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("gpuplat:serving:ModelService", name, None, opts)
        ctx = BuildContext.from_platform(args.platform)
        service_name = args.service
        service = args.platform.spec.model_services[service_name]
        namespace = args.namespace
        child = pulumi.ResourceOptions(parent=self)
        self.endpoint = serving.endpoint(ctx, service_name, service)

        locations = serving.s3_locations(service)
        irsa = args.identity is not None and bool(locations)
        account = serving.service_account(ctx, service_name, service, irsa=irsa)
        annotations: dict[str, pulumi.Input[str]] = dict(account["metadata"].get("annotations", {}))
        self.role = None
        access: list[pulumi.Resource] = []
        if irsa and args.identity is not None:
            self.role, read_policy = self._s3_reader(name, ctx, service_name, service.team, args.identity, locations)
            annotations[serving.IRSA_ANNOTATION] = self.role.arn
            access.append(read_policy)
        metadata: Any = {**account["metadata"], "namespace": namespace}
        if annotations:
            metadata["annotations"] = annotations
        service_account = k8s.core.v1.ServiceAccount(
            f"{name}-service-account", metadata=metadata,
            automount_service_account_token=account["automountServiceAccountToken"], opts=child)

        # The predictor pods run as the service account and read the model with its role's policy: both must
        # exist before KServe starts the storage initializer.
        self.inference_service = register(
            f"{name}-inference-service", serving.inference_service(ctx, service_name, service),
            pulumi.ResourceOptions(parent=self, depends_on=[*args.kserve_ready, service_account, *access]),
            namespace=namespace)

        budget = serving.pod_disruption_budget(ctx, service_name, service)
        if budget is not None:
            k8s.policy.v1.PodDisruptionBudget(f"{name}-disruption-budget",
                                              metadata={**budget["metadata"], "namespace": namespace},
                                              spec=budget["spec"], opts=child)
        if ctx.istio:
            mesh = pulumi.ResourceOptions(parent=self, depends_on=list(args.istio_ready))
            register(f"{name}-virtual-service", serving.virtual_service(ctx, service_name, service), mesh,
                     namespace=namespace)
            register(f"{name}-authorization", serving.authorization_policy(ctx, service_name, service), mesh,
                     namespace=namespace)
        if ctx.monitoring:
            register(f"{name}-monitor", serving.service_monitor(ctx, service_name, service),
                     pulumi.ResourceOptions(parent=self, depends_on=list(args.monitoring_ready)), namespace=namespace)
        self.register_outputs({"endpoint": self.endpoint, "inference_service": self.inference_service})

    def _s3_reader(self, name: str, ctx: BuildContext, service_name: str, team: str, identity: WorkloadIdentity,
                   locations: list[tuple[str, str]]) -> tuple[aws.iam.Role, aws.iam.RolePolicy]:
        """An IRSA role only this service's account can assume, allowed to read exactly its model prefixes."""
        namespace = ctx.namespace(team)
        account = serving.service_account_name(service_name)
        trust = pulumi.Output.all(identity.oidc_provider_arn, identity.oidc_issuer).apply(
            lambda values: json.dumps(serving.irsa_trust_policy(values[0], values[1], namespace, account)))
        role = aws.iam.Role(f"{name}-model-reader", assume_role_policy=trust,
                            description=f"Reads the model of {namespace}/{service_name} (IRSA)",
                            opts=pulumi.ResourceOptions(parent=self))
        # The partition comes from the OIDC provider's ARN (aws, aws-cn, aws-us-gov).
        policy = identity.oidc_provider_arn.apply(
            lambda arn: json.dumps(serving.model_read_policy(locations, arn.split(":")[1])))
        read = aws.iam.RolePolicy(f"{name}-model-read", role=role.id, policy=policy,
                                  opts=pulumi.ResourceOptions(parent=self))
        return role, read
