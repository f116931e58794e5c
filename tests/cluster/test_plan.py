"""Pure EKS decisions, without Pulumi: AMI types, taints, autoscaler tags, subnets, partitions, kubeconfig."""

from __future__ import annotations

import ipaddress
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from components.cluster.plan import (
    access_entry_key,
    ami_type,
    autoscaler_discovery_tags,
    eks_taints,
    instance_arch,
    kubeconfig,
    node_template_tags,
    partition_of,
    subnet_plan,
)
from components.spec.models import NodePool


def _pool(**fields: object) -> NodePool:
    return NodePool.model_validate({"max_nodes": 2, **fields})


@pytest.mark.parametrize(
    ("instance_type", "arch"),
    [
        ("g5g.xlarge", "arm64"),  # catalogue
        ("m6i.xlarge", "x86_64"),  # catalogue
        ("c7gn.large", "arm64"),  # not in the catalogue: Graviton by name
        ("r8gd.2xlarge", "arm64"),
        ("im4gn.large", "arm64"),
        ("g4dn.xlarge", "x86_64"),  # `g` family letter, but no Graviton suffix
        ("p5en.48xlarge", "x86_64"),
        ("inf2.xlarge", "x86_64"),
    ],
)
def test_instance_architecture(instance_type: str, arch: str) -> None:
    assert instance_arch(instance_type) == arch


@pytest.mark.parametrize(
    ("pool", "expected"),
    [
        (_pool(instance_types=["m6i.xlarge"]), "AL2023_x86_64_STANDARD"),
        (_pool(instance_types=["m7g.xlarge"]), "AL2023_ARM_64_STANDARD"),
        (_pool(instance_types=["g6.xlarge", "g5.xlarge"]), "AL2023_x86_64_NVIDIA"),
        (_pool(instance_types=["g5g.xlarge"]), "AL2023_ARM_64_NVIDIA"),
        # Unknown type with declared GPU capacity: still the NVIDIA image.
        (_pool(instance_types=["g4dn.xlarge"], capacity={"vcpu": 4, "memory_gib": 16, "gpus": 1}),
         "AL2023_x86_64_NVIDIA"),
    ],
)
def test_ami_type_per_architecture_and_gpu(pool: NodePool, expected: str) -> None:
    assert ami_type(pool) == expected


def test_eks_taints_map_effects_and_omit_empty_values() -> None:
    pool = _pool(instance_types=["g6.xlarge"], taints=[
        {"key": "team", "value": "research", "effect": "NoExecute"},
        {"key": "spot", "effect": "PreferNoSchedule"},
    ])
    assert eks_taints(pool) == [
        {"key": "nvidia.com/gpu", "value": "true", "effect": "NO_SCHEDULE"},
        {"key": "team", "value": "research", "effect": "NO_EXECUTE"},
        {"key": "spot", "effect": "PREFER_NO_SCHEDULE"},
    ]


def test_cpu_pool_without_user_taints_has_none() -> None:
    assert eks_taints(_pool(instance_types=["m6i.xlarge"])) == []


def test_node_template_tags_describe_labels_taints_and_gpus_for_scale_from_zero() -> None:
    pool = _pool(instance_types=["g6.12xlarge"], labels={"team": "serving"})
    assert node_template_tags("l4", pool) == {
        "k8s.io/cluster-autoscaler/node-template/label/gpuplat.io/pool": "l4",
        "k8s.io/cluster-autoscaler/node-template/label/gpuplat.io/accelerator": "nvidia",
        "k8s.io/cluster-autoscaler/node-template/label/nvidia.com/gpu.product": "NVIDIA-L4",
        "k8s.io/cluster-autoscaler/node-template/label/team": "serving",
        "k8s.io/cluster-autoscaler/node-template/taint/nvidia.com/gpu": "true:NoSchedule",
        "k8s.io/cluster-autoscaler/node-template/resources/nvidia.com/gpu": "4",
    }
    assert autoscaler_discovery_tags("gpuplat-dev") == {
        "k8s.io/cluster-autoscaler/enabled": "true",
        "k8s.io/cluster-autoscaler/gpuplat-dev": "owned",
    }


def test_node_template_tag_over_the_aws_key_limit_is_refused_with_the_pool_named() -> None:
    pool = _pool(instance_types=["m6i.xlarge"], labels={"example.com/" + "x" * 80: "v"})
    with pytest.raises(ValueError, match=r"node_pools\.batch: autoscaler tag\(s\) .* exceed AWS tag limits"):
        node_template_tags("batch", pool)


def test_subnet_plan_for_a_slash_16_and_three_zones() -> None:
    plan = subnet_plan("10.0.0.0/16", 3)
    assert plan.private == ("10.0.0.0/19", "10.0.32.0/19", "10.0.64.0/19")
    assert plan.public == ("10.0.128.0/22", "10.0.132.0/22", "10.0.136.0/22")


def test_subnet_plan_refuses_a_vpc_too_small_for_its_zones() -> None:
    with pytest.raises(ValueError, match=r"cluster\.eks\.vpc\.cidr: 10\.0\.0\.0/26 is too small for 2 zones"):
        subnet_plan("10.0.0.0/26", 2)


@given(prefix=st.integers(min_value=8, max_value=22), zones=st.integers(min_value=2, max_value=6))
def test_subnets_are_disjoint_in_the_vpc_and_private_ones_larger_or_the_vpc_refused(prefix: int, zones: int) -> None:
    vpc = ipaddress.ip_network(f"10.0.0.0/{prefix}", strict=False)
    if prefix + 1 + math.ceil(math.log2(zones)) + 3 > 28:  # public subnets would be under AWS's /28 minimum
        with pytest.raises(ValueError, match="too small"):
            subnet_plan(str(vpc), zones)
        return
    plan = subnet_plan(str(vpc), zones)
    subnets = [ipaddress.ip_network(c) for c in plan.private + plan.public]
    assert (len(plan.private), len(plan.public)) == (zones, zones)
    assert all(subnet.subnet_of(vpc) for subnet in subnets)  # type: ignore[arg-type]
    assert not any(a.overlaps(b) for i, a in enumerate(subnets) for b in subnets[i + 1:])
    assert min(ipaddress.ip_network(c).num_addresses for c in plan.private) > max(
        ipaddress.ip_network(c).num_addresses for c in plan.public)
    assert all(subnet.prefixlen <= 28 for subnet in subnets)


@pytest.mark.parametrize(
    ("region", "partition"),
    [("us-east-1", "aws"), ("eu-west-1", "aws"), ("cn-northwest-1", "aws-cn"), ("us-gov-west-1", "aws-us-gov"),
     ("us-iso-east-1", "aws-iso"), ("us-isob-east-1", "aws-iso-b")],
)
def test_partition_from_region(region: str, partition: str) -> None:
    assert partition_of(region) == partition


def test_access_entry_key_is_readable_and_unique_per_account() -> None:
    assert access_entry_key("arn:aws:iam::111122223333:role/platform-admins") == "111122223333-role-platform-admins"
    assert access_entry_key("arn:aws:iam::444455556666:role/platform-admins") == "444455556666-role-platform-admins"
    assert access_entry_key("arn:aws:iam::1:role/team/path/ops") == "1-role-team-path-ops"


def test_kubeconfig_authenticates_with_aws_eks_get_token_and_holds_no_credential() -> None:
    config = kubeconfig("gpuplat-dev", "https://x.eks", "Q0E=", "us-west-2")
    assert config["current-context"] == "gpuplat-dev"
    assert config["clusters"] == [
        {"name": "gpuplat-dev", "cluster": {"server": "https://x.eks", "certificate-authority-data": "Q0E="}}
    ]
    (user,) = config["users"]
    assert set(user["user"]) == {"exec"}  # no token, no client key
    assert user["user"]["exec"]["args"] == [
        "eks", "get-token", "--cluster-name", "gpuplat-dev", "--region", "us-west-2", "--output", "json"
    ]
