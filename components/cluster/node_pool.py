"""One EKS managed node group per spec pool, with its launch template and autoscaler tags."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from components.cluster.plan import (
    NODE_TEMPLATE_PREFIX,
    ROOT_DEVICE_NAME,
    ami_type,
    autoscaler_discovery_tags,
    desired_nodes,
    eks_taints,
    node_template_tags,
)
from components.pools import node_labels
from components.spec.models import NodePool


@dataclass(frozen=True)
class NodePoolArgs:
    pool_name: str
    pool: NodePool
    eks_cluster_name: str
    """Physical cluster name, for the autoscaler tag keys (which must be plain strings)."""
    cluster: aws.eks.Cluster
    """The node group joins it and follows its Kubernetes version."""
    node_role_arn: pulumi.Input[str]
    subnet_ids: pulumi.Input[Sequence[str]]
    imds_hop_limit: int = 1
    """IMDSv2 response hop limit. 1 keeps the instance metadata (and the node role's credentials) out of
    reach of pods, which sit one network hop further; they get AWS access through IRSA instead."""
    ready: Sequence[pulumi.Resource] = field(default_factory=tuple)
    """What must exist before nodes can join but is not data they consume: the node role's policy
    attachments and the NAT routes (nodes pull images and register over them)."""


class EksNodePool(pulumi.ComponentResource):
    """A managed node group sized min..max by cluster-autoscaler, on a hardened launch template.

    Labels and taints come from `components.pools`, the same functions the Kueue flavors and workload
    selectors use, so they always match. The AWS provider comes in through `opts`.
    """

    node_group: aws.eks.NodeGroup
    launch_template: aws.ec2.LaunchTemplate

    def __init__(self, name: str, args: NodePoolArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("gpuplat:cluster:NodePool", name, None, opts)
        pool = args.pool
        instance_tags = {"Name": f"{args.eks_cluster_name}-{args.pool_name}", "gpuplat.io/pool": args.pool_name}
        self.launch_template = aws.ec2.LaunchTemplate(
            f"{name}-launch-template",
            description=f"{args.eks_cluster_name} node pool {args.pool_name}",
            metadata_options=aws.ec2.LaunchTemplateMetadataOptionsArgs(
                http_endpoint="enabled",
                http_tokens="required",  # IMDSv2 only: no unauthenticated metadata reads (SSRF)
                http_put_response_hop_limit=args.imds_hop_limit,
                instance_metadata_tags="disabled",
            ),
            block_device_mappings=[
                aws.ec2.LaunchTemplateBlockDeviceMappingArgs(
                    device_name=ROOT_DEVICE_NAME,
                    ebs=aws.ec2.LaunchTemplateBlockDeviceMappingEbsArgs(
                        # GPU images (CUDA, PyTorch, vLLM) are tens of GiB each: size from the spec.
                        volume_size=pool.root_volume_gib,
                        volume_type="gp3",
                        encrypted="true",
                        delete_on_termination="true",
                    ),
                )
            ],
            tag_specifications=[
                aws.ec2.LaunchTemplateTagSpecificationArgs(resource_type=kind, tags=instance_tags)
                for kind in ("instance", "volume")
            ],
            update_default_version=True,
            opts=pulumi.ResourceOptions(parent=self),
        )
        template_tags = node_template_tags(args.pool_name, pool)
        self.node_group = aws.eks.NodeGroup(
            f"{name}-nodes",
            cluster_name=args.cluster.name,
            version=args.cluster.version,
            node_role_arn=args.node_role_arn,
            subnet_ids=args.subnet_ids,
            ami_type=ami_type(pool),
            capacity_type=pool.capacity_type.upper(),
            instance_types=list(pool.instance_types),
            labels=node_labels(args.pool_name, pool),
            taints=[aws.eks.NodeGroupTaintArgs(**taint) for taint in eks_taints(pool)],
            scaling_config=aws.eks.NodeGroupScalingConfigArgs(
                min_size=pool.min_nodes, max_size=pool.max_nodes, desired_size=desired_nodes(pool)
            ),
            launch_template=aws.eks.NodeGroupLaunchTemplateArgs(
                id=self.launch_template.id,
                version=self.launch_template.latest_version.apply(str),
            ),
            tags={**autoscaler_discovery_tags(args.eks_cluster_name), **template_tags},
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=list(args.ready),
                # desiredSize is set once at creation; afterwards cluster-autoscaler owns it. Without this,
                # every `pulumi up` would reset the group to the spec's size, evicting pods from nodes the
                # autoscaler added (or starting nodes it had scaled away).
                ignore_changes=["scalingConfig.desiredSize"],
            ),
        )
        # Managed node groups tag their Auto Scaling group with the discovery tags themselves, but not with
        # node-template tags, and cluster-autoscaler reads those from the ASG only.
        asg_name = self.node_group.resources.apply(_autoscaling_group_name)
        for key, value in template_tags.items():
            aws.autoscaling.Tag(
                f"{name}-asg-{key.removeprefix(NODE_TEMPLATE_PREFIX + '/')}",
                autoscaling_group_name=asg_name,
                tag=aws.autoscaling.TagTagArgs(key=key, value=value, propagate_at_launch=False),
                opts=pulumi.ResourceOptions(parent=self),
            )
        self.register_outputs({
            "node_group_name": self.node_group.node_group_name,
            "autoscaling_group_name": asg_name,
            "launch_template_id": self.launch_template.id,
        })


def _autoscaling_group_name(resources: Sequence[Mapping[str, Any]] | None) -> str:
    """The node group's one Auto Scaling group. Empty only where no provider filled the output (mocks)."""
    for resource in resources or ():
        for group in resource.get("autoscaling_groups") or ():
            if group.get("name"):
                return str(group["name"])
    return ""
