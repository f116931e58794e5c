"""Pure EKS decisions (spec -> plain values), tested without Pulumi: AMI types, taints, autoscaler tags,
subnet layout, IAM documents, the kubeconfig. The components only register what these return."""

from __future__ import annotations

import json
import re
from typing import Any

from components.capacity import node_instance
from components.catalogue import lookup
from components.names import GPU_RESOURCE
from components.network import SubnetPlan, subnet_plan  # noqa: F401 - part of this module's plan API
from components.pools import node_labels, node_taints
from components.spec.models import NodePool

# All five control-plane log types: audit and authenticator logs are what an incident review needs.
CONTROL_PLANE_LOG_TYPES = ("api", "audit", "authenticator", "controllerManager", "scheduler")
# EKS writes them to this group; creating it ourselves sets a retention instead of "never expire".
CONTROL_PLANE_LOG_RETENTION_DAYS = 90
STS_AUDIENCE = "sts.amazonaws.com"

CLUSTER_ROLE_POLICIES = ("AmazonEKSClusterPolicy",)
# Minimal node role: pods get their own AWS identities through IRSA, never through the node.
NODE_ROLE_POLICIES = ("AmazonEKSWorkerNodePolicy", "AmazonEKS_CNI_Policy", "AmazonEC2ContainerRegistryPullOnly")

# Kubernetes taint effect -> EKS node group API enum.
EKS_TAINT_EFFECTS = {"NoSchedule": "NO_SCHEDULE", "PreferNoSchedule": "PREFER_NO_SCHEDULE", "NoExecute": "NO_EXECUTE"}

CLUSTER_TAG = "gpuplat.io/cluster"  # default tag of every AWS resource the cluster component creates
AUTOSCALER_PREFIX = "k8s.io/cluster-autoscaler"
NODE_TEMPLATE_PREFIX = f"{AUTOSCALER_PREFIX}/node-template"
MAX_AWS_TAG_KEY = 128
MAX_AWS_TAG_VALUE = 256

ROOT_DEVICE_NAME = "/dev/xvda"  # AL2023 EKS AMIs boot from /dev/xvda

# Graviton families carry a `g` among the letters after the generation digit: m7g, c6gn, r8gd, g5g.
# (g4dn, g6e and p5en do not.) Used only for instance types the catalogue does not know.
_GRAVITON = re.compile(r"^[a-z]+\d+[a-z]*g[a-z]*\.")


def cluster_name(name: str, environment: str) -> str:
    """The EKS cluster's physical name: fixed, because subnet and autoscaler tag keys must contain it."""
    return f"{name}-{environment}"


def instance_arch(instance_type: str) -> str:
    known = lookup(instance_type)
    if known is not None:
        return known.arch
    return "arm64" if _GRAVITON.match(instance_type) else "x86_64"


def pool_arch(pool: NodePool) -> str:
    """The pool's CPU architecture (the spec rules refuse pools that mix architectures)."""
    archs = {instance_arch(t) for t in pool.instance_types}
    return "arm64" if archs == {"arm64"} else "x86_64"


def pool_gpus(pool: NodePool) -> int:
    instance = node_instance(pool)
    return instance.gpus if instance is not None else 0


def ami_type(pool: NodePool) -> str:
    """AL2023 EKS AMI: the NVIDIA variant (driver and container toolkit included) for GPU pools."""
    arch = "ARM_64" if pool_arch(pool) == "arm64" else "x86_64"
    flavour = "NVIDIA" if pool_gpus(pool) else "STANDARD"
    return f"AL2023_{arch}_{flavour}"


def eks_taints(pool: NodePool) -> list[dict[str, str]]:
    """The pool's taints (`components.pools.node_taints`) in the EKS API's shape."""
    taints = []
    for taint in node_taints(pool):
        entry = {"key": taint.key, "effect": EKS_TAINT_EFFECTS[taint.effect]}
        if taint.value:
            entry["value"] = taint.value
        taints.append(entry)
    return taints


def desired_nodes(pool: NodePool) -> int:
    return pool.desired_nodes if pool.desired_nodes is not None else pool.min_nodes


def autoscaler_discovery_tags(eks_cluster_name: str) -> dict[str, str]:
    """The tags cluster-autoscaler's `--node-group-auto-discovery=asg:tag=...` looks for."""
    return {f"{AUTOSCALER_PREFIX}/enabled": "true", f"{AUTOSCALER_PREFIX}/{eks_cluster_name}": "owned"}


def node_template_tags(pool_name: str, pool: NodePool) -> dict[str, str]:
    """What a node of the pool will look like, for cluster-autoscaler to scale the pool up from zero.

    With no node to inspect, the autoscaler builds a template node from these Auto Scaling group tags:
    without the labels and the GPU taint it would conclude a pending GPU pod fits no group.
    """
    tags = {f"{NODE_TEMPLATE_PREFIX}/label/{key}": value for key, value in node_labels(pool_name, pool).items()}
    for taint in node_taints(pool):
        tags[f"{NODE_TEMPLATE_PREFIX}/taint/{taint.key}"] = f"{taint.value}:{taint.effect}"
    gpus = pool_gpus(pool)
    if gpus:
        tags[f"{NODE_TEMPLATE_PREFIX}/resources/{GPU_RESOURCE}"] = str(gpus)
    too_long = [key for key, value in tags.items() if len(key) > MAX_AWS_TAG_KEY or len(value) > MAX_AWS_TAG_VALUE]
    if too_long:
        raise ValueError(
            f"node_pools.{pool_name}: autoscaler tag(s) {', '.join(too_long)} exceed AWS tag limits "
            f"({MAX_AWS_TAG_KEY} characters a key, {MAX_AWS_TAG_VALUE} a value): shorten the label or taint"
        )
    return tags


def subnet_tags(eks_cluster_name: str, public: bool) -> dict[str, str]:
    """Tags load-balancer controllers use to pick subnets: internet-facing in public, internal in private."""
    role = "kubernetes.io/role/elb" if public else "kubernetes.io/role/internal-elb"
    return {role: "1", f"kubernetes.io/cluster/{eks_cluster_name}": "owned"}


# Region prefix -> AWS partition, most specific first. Knowing the partition from the spec's region keeps
# policy ARNs plain, reviewable strings (no `getPartition` call).
_PARTITIONS = (
    ("cn-", "aws-cn"), ("us-gov-", "aws-us-gov"), ("us-isob-", "aws-iso-b"), ("us-isof-", "aws-iso-f"),
    ("us-iso-", "aws-iso"), ("eu-isoe-", "aws-iso-e"), ("eusc-", "aws-eusc"),
)


def partition_of(region: str) -> str:
    return next((partition for prefix, partition in _PARTITIONS if region.startswith(prefix)), "aws")


def assume_role_policy(service: str) -> str:
    return json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}],
    })


def managed_policy_arn(partition: str, policy: str) -> str:
    return f"arn:{partition}:iam::aws:policy/{policy}"


def access_policy_arn(partition: str, policy: str) -> str:
    return f"arn:{partition}:eks::aws:cluster-access-policy/{policy}"


def access_entry_key(principal_arn: str) -> str:
    """A stable, readable resource-name part for an IAM principal: `<account>-<role|user>-<name>`."""
    parts = principal_arn.split(":", 5)
    account, resource = (parts[4], parts[5]) if len(parts) == 6 else ("", principal_arn)
    slug = re.sub(r"[^A-Za-z0-9-]+", "-", f"{account}-{resource}").strip("-")
    return slug


def kubeconfig(eks_cluster_name: str, endpoint: str, certificate_authority: str, region: str) -> dict[str, Any]:
    """A kubeconfig that authenticates with `aws eks get-token`: it holds no credential, tokens are minted
    per call from whatever AWS identity runs Pulumi (or kubectl), so it never goes stale."""
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{
            "name": eks_cluster_name,
            "cluster": {"server": endpoint, "certificate-authority-data": certificate_authority},
        }],
        "contexts": [{"name": eks_cluster_name, "context": {"cluster": eks_cluster_name, "user": eks_cluster_name}}],
        "current-context": eks_cluster_name,
        "users": [{
            "name": eks_cluster_name,
            "user": {
                "exec": {
                    "apiVersion": "client.authentication.k8s.io/v1beta1",
                    "command": "aws",
                    "args": ["eks", "get-token", "--cluster-name", eks_cluster_name, "--region", region,
                             "--output", "json"],
                    "interactiveMode": "Never",
                },
            },
        }],
    }
