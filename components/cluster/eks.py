"""An EKS cluster built from `cluster.eks` and `node_pools`: network, control plane, IRSA, node groups.

This component is where the platform's providers are born: its own `aws.Provider` (the only place the
region is set) and the Kubernetes provider it exposes, built from the cluster's kubeconfig.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components.cluster.identity import WorkloadIdentity
from components.cluster.node_pool import EksNodePool, NodePoolArgs
from components.cluster.plan import (
    CLUSTER_ROLE_POLICIES,
    CLUSTER_TAG,
    CONTROL_PLANE_LOG_RETENTION_DAYS,
    CONTROL_PLANE_LOG_TYPES,
    NODE_ROLE_POLICIES,
    STS_AUDIENCE,
    access_entry_key,
    access_policy_arn,
    assume_role_policy,
    kubeconfig,
    managed_policy_arn,
    partition_of,
)
from components.cluster.vpc import Vpc, VpcArgs
from components.spec.models import Eks, NodePool


@dataclass(frozen=True)
class EksClusterArgs:
    eks_cluster_name: str
    """Physical cluster name (`<project>-<environment>`); tag keys contain it, so it is fixed."""
    eks: Eks
    node_pools: Mapping[str, NodePool]
    """Every pool becomes a managed node group; the `system: true` pool is created first."""


class EksCluster(pulumi.ComponentResource):
    """EKS control plane with encrypted secrets, full audit logging, API-only access entries and IRSA.

    Outputs: `provider` (Kubernetes, ready once the system pool has nodes), `aws_provider`, `kubeconfig`
    (secret, `aws eks get-token` auth), `workload_identity`, and the underlying `cluster`, `node_pools`
    and `vpc` (None when `cluster.eks.vpc.subnet_ids` names existing subnets) as escape hatches.
    """

    aws_provider: aws.Provider
    provider: k8s.Provider
    cluster: aws.eks.Cluster
    kubeconfig: pulumi.Output[str]
    workload_identity: WorkloadIdentity
    node_pools: dict[str, EksNodePool]
    vpc: Vpc | None

    def __init__(self, name: str, args: EksClusterArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("gpuplat:cluster:EksCluster", name, None, opts)
        eks = args.eks
        self.aws_provider = aws.Provider(
            f"{name}-aws",
            region=eks.region,
            # On every taggable resource: cost reports and cleanup can find everything of this cluster.
            default_tags=aws.ProviderDefaultTagsArgs(tags={CLUSTER_TAG: args.eks_cluster_name}),
            opts=pulumi.ResourceOptions(parent=self),
        )
        partition = partition_of(eks.region)

        # ------------------------------------------------------------------------------------ network
        if eks.vpc.subnet_ids:
            self.vpc = None
            subnet_ids: pulumi.Input[Sequence[str]] = list(eks.vpc.subnet_ids)
            network_ready: list[pulumi.Resource] = []
        else:
            self.vpc = Vpc(
                f"{name}-vpc",
                VpcArgs(eks_cluster_name=args.eks_cluster_name, cidr=eks.vpc.cidr,
                        availability_zones=eks.vpc.availability_zones),
                opts=pulumi.ResourceOptions(parent=self, providers=[self.aws_provider]),
            )
            subnet_ids = self.vpc.private_subnet_ids
            # Waiting on the component waits on all its children, the NAT routes included.
            network_ready = [self.vpc]

        # ---------------------------------------------------------------------------------------- IAM
        cluster_role, cluster_role_policies = self._role(
            f"{name}-cluster-role", "eks.amazonaws.com", CLUSTER_ROLE_POLICIES, partition
        )
        node_role, node_role_policies = self._role(
            f"{name}-node-role", "ec2.amazonaws.com", NODE_ROLE_POLICIES, partition
        )

        # ------------------------------------------------------------------------------ control plane
        secrets_key = aws.kms.Key(
            f"{name}-secrets",
            description=f"Envelope encryption of Kubernetes secrets in EKS cluster {args.eks_cluster_name}",
            enable_key_rotation=True,
            deletion_window_in_days=eks.kms_deletion_window_days,
            opts=self._aws(),
        )
        log_group = aws.cloudwatch.LogGroup(
            f"{name}-control-plane-logs",
            name=f"/aws/eks/{args.eks_cluster_name}/cluster",
            retention_in_days=CONTROL_PLANE_LOG_RETENTION_DAYS,
            opts=self._aws(),
        )
        public = bool(eks.public_access_cidrs)
        self.cluster = aws.eks.Cluster(
            f"{name}-cluster",
            name=args.eks_cluster_name,
            version=eks.version,
            role_arn=cluster_role.arn,
            vpc_config=aws.eks.ClusterVpcConfigArgs(
                subnet_ids=subnet_ids,
                endpoint_private_access=True,
                # Public only when the spec names who may reach it, and then only from there.
                endpoint_public_access=public,
                public_access_cidrs=list(eks.public_access_cidrs) if public else None,
            ),
            encryption_config=aws.eks.ClusterEncryptionConfigArgs(
                provider=aws.eks.ClusterEncryptionConfigProviderArgs(key_arn=secrets_key.arn),
                resources=["secrets"],
            ),
            enabled_cluster_log_types=list(CONTROL_PLANE_LOG_TYPES),
            access_config=aws.eks.ClusterAccessConfigArgs(
                # Access entries only (no aws-auth ConfigMap): access is IAM-audited and reviewable in the spec.
                authentication_mode="API",
                # The identity running Pulumi must administer the cluster to install the add-ons.
                bootstrap_cluster_creator_admin_permissions=True,
            ),
            opts=self._aws(depends_on=[*cluster_role_policies, log_group]),
        )

        for entry in eks.access_entries:
            key = access_entry_key(entry.principal_arn)
            access = aws.eks.AccessEntry(
                f"{name}-access-{key}",
                cluster_name=self.cluster.name,
                principal_arn=entry.principal_arn,
                opts=self._aws(),
            )
            aws.eks.AccessPolicyAssociation(
                f"{name}-access-{key}",
                cluster_name=self.cluster.name,
                principal_arn=access.principal_arn,
                policy_arn=access_policy_arn(partition, entry.policy),
                access_scope=aws.eks.AccessPolicyAssociationAccessScopeArgs(
                    type="namespace" if entry.namespaces else "cluster",
                    namespaces=list(entry.namespaces) if entry.namespaces else None,
                ),
                opts=self._aws(),
            )

        # ------------------------------------------------------------------------------------- IRSA
        # Output types are dicts too; item access works on provider results and on plain mock values alike.
        issuer_url = self.cluster.identities.apply(lambda identities: identities[0]["oidcs"][0]["issuer"])
        oidc_provider = aws.iam.OpenIdConnectProvider(
            f"{name}-oidc",
            url=issuer_url,
            client_id_lists=[STS_AUDIENCE],
            # No thumbprint: IAM verifies the EKS issuer against its own trusted CAs and ignores thumbprints
            # for it; pinning one would only break at the issuer's next certificate rotation.
            opts=self._aws(),
        )
        self.workload_identity = WorkloadIdentity(
            oidc_provider_arn=oidc_provider.arn,
            oidc_issuer=issuer_url.apply(lambda url: url.removeprefix("https://")),
            # arn:<partition>:eks:<region>:<account>:cluster/<name>
            account_id=self.cluster.arn.apply(lambda arn: arn.split(":")[4]),
            partition=partition,
        )

        # -------------------------------------------------------------------------------- node pools
        node_ready = [*node_role_policies, *network_ready]
        self.node_pools = {}
        for pool_name, pool in args.node_pools.items():
            self.node_pools[pool_name] = EksNodePool(
                f"{name}-{pool_name}",
                NodePoolArgs(
                    pool_name=pool_name,
                    pool=pool,
                    eks_cluster_name=args.eks_cluster_name,
                    cluster=self.cluster,
                    node_role_arn=node_role.arn,
                    subnet_ids=subnet_ids,
                    imds_hop_limit=eks.imds_hop_limit,
                    ready=node_ready,
                ),
                opts=pulumi.ResourceOptions(parent=self, providers=[self.aws_provider]),
            )

        # --------------------------------------------------------------------------------- kubeconfig
        self.kubeconfig = pulumi.Output.secret(
            pulumi.Output.all(self.cluster.name, self.cluster.endpoint, self.cluster.certificate_authority).apply(
                lambda values: json.dumps(
                    kubeconfig(values[0], values[1], values[2]["data"], eks.region), indent=2
                )
            )
        )
        # The node groups themselves, not the pool components: those also hold autoscaler tags that no
        # Kubernetes object needs to wait for.
        system_pools = [self.node_pools[n].node_group for n, pool in args.node_pools.items() if pool.system]
        self.provider = k8s.Provider(
            f"{name}-k8s",
            kubeconfig=self.kubeconfig,
            opts=pulumi.ResourceOptions(
                parent=self,
                # Every Kubernetes object waits for the system nodes: add-on charts wait for their pods to
                # be ready, which cannot happen before a node exists. GPU pools may start at zero nodes.
                depends_on=system_pools,
            ),
        )
        self.register_outputs({
            "cluster_name": self.cluster.name,
            "endpoint": self.cluster.endpoint,
            "kubeconfig": self.kubeconfig,
            "oidc_provider_arn": oidc_provider.arn,
            "oidc_issuer": self.workload_identity.oidc_issuer,
        })

    def _aws(self, **options: object) -> pulumi.ResourceOptions:
        """Options of a direct AWS child: parented here, on this component's AWS provider."""
        return pulumi.ResourceOptions(parent=self, provider=self.aws_provider, **options)  # type: ignore[arg-type]

    def _role(
        self, name: str, service: str, policies: Sequence[str], partition: str
    ) -> tuple[aws.iam.Role, list[aws.iam.RolePolicyAttachment]]:
        role = aws.iam.Role(name, assume_role_policy=assume_role_policy(service), opts=self._aws())
        attachments = [
            aws.iam.RolePolicyAttachment(
                f"{name}-{policy}",
                role=role.name,
                policy_arn=managed_policy_arn(partition, policy),
                opts=self._aws(),
            )
            for policy in policies
        ]
        return role, attachments
