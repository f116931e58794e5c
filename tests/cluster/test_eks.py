"""EKS mode under recording mocks: the inputs AWS would receive, from the real prod/dev specs and small ones."""

from __future__ import annotations

import json

import pytest

from components.cluster import EksCluster
from components.pools import node_labels
from tests.cluster.conftest import (
    RecordedCluster,
    parent_chain,
    record_cluster,
    secret_value,
    small_platform,
    stack_platform,
)

CLUSTER = "aws:eks/cluster:Cluster"
NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
SUBNET = "aws:ec2/subnet:Subnet"
ASG_TAG = "aws:autoscaling/tag:Tag"
GPU_TAINT = {"key": "nvidia.com/gpu", "value": "true", "effect": "NO_SCHEDULE"}


@pytest.fixture(scope="module")
def prod() -> RecordedCluster:
    return record_cluster(stack_platform("prod"))


@pytest.fixture(scope="module")
def dev() -> RecordedCluster:
    return record_cluster(stack_platform("dev"))


def _eks_spec(pools: dict, **eks: object) -> dict:
    return {"cluster": {"mode": "eks", "eks": {"region": "eu-west-1", **eks}}, "node_pools": pools}


SYSTEM = {"system": True, "instance_types": ["m6i.xlarge"], "min_nodes": 2, "max_nodes": 3}


def node_group(recorded: RecordedCluster, pool: str) -> dict:
    return recorded.one(NODE_GROUP, f"gpuplat-{pool}-nodes").inputs


def launch_template(recorded: RecordedCluster, pool: str) -> dict:
    return recorded.one(LAUNCH_TEMPLATE, f"gpuplat-{pool}-launch-template").inputs


# ------------------------------------------------------------------------------------------ node groups


def test_gpu_node_groups_carry_the_gpu_taint_and_the_pool_labels(prod: RecordedCluster) -> None:
    l4, h100 = node_group(prod, "l4-serve"), node_group(prod, "h100-train")
    assert l4["taints"] == [GPU_TAINT]
    assert h100["taints"] == [GPU_TAINT]
    # A10G/L4 mixed pool: no single GPU product to promise; the H100 pool has one.
    assert l4["labels"] == {"gpuplat.io/pool": "l4-serve", "gpuplat.io/accelerator": "nvidia"}
    assert h100["labels"] == {
        "gpuplat.io/pool": "h100-train",
        "gpuplat.io/accelerator": "nvidia",
        "nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3",
    }


def test_node_group_labels_are_exactly_the_ones_kueue_flavors_select(prod: RecordedCluster) -> None:
    spec = stack_platform("prod").spec
    for name, pool in spec.node_pools.items():
        assert node_group(prod, name)["labels"] == node_labels(name, pool)


def test_system_pool_is_untainted_and_on_the_standard_ami(prod: RecordedCluster) -> None:
    system = node_group(prod, "system")
    assert "taints" not in system or system["taints"] == []
    assert system["amiType"] == "AL2023_x86_64_STANDARD"
    assert system["instanceTypes"] == ["m6i.2xlarge"]


def test_user_taints_keep_their_effect_in_the_eks_enum() -> None:
    pools = {
        "system": SYSTEM,
        "batch": {"instance_types": ["c6i.xlarge"], "max_nodes": 2,
                  "taints": [{"key": "dedicated", "value": "batch", "effect": "NoExecute"},
                             {"key": "preemptible", "effect": "PreferNoSchedule"}]},
    }
    recorded = record_cluster(small_platform(_eks_spec(pools)))
    assert node_group(recorded, "batch")["taints"] == [
        {"key": "dedicated", "value": "batch", "effect": "NO_EXECUTE"},
        {"key": "preemptible", "effect": "PREFER_NO_SCHEDULE"},
    ]


def test_ami_type_follows_gpu_and_architecture() -> None:
    pools = {
        "system": SYSTEM,
        "graviton": {"instance_types": ["m7g.xlarge"], "max_nodes": 2},
        "t4g": {"instance_types": ["g5g.2xlarge"], "max_nodes": 2},
        "l4": {"instance_types": ["g6.xlarge"], "max_nodes": 2},
    }
    recorded = record_cluster(small_platform(_eks_spec(pools)))
    assert {name: node_group(recorded, name)["amiType"] for name in pools} == {
        "system": "AL2023_x86_64_STANDARD",
        "graviton": "AL2023_ARM_64_STANDARD",
        "t4g": "AL2023_ARM_64_NVIDIA",
        "l4": "AL2023_x86_64_NVIDIA",
    }
    assert node_group(recorded, "t4g")["taints"] == [GPU_TAINT]


def test_capacity_type_is_the_eks_enum(prod: RecordedCluster, dev: RecordedCluster) -> None:
    assert node_group(prod, "h100-train")["capacityType"] == "ON_DEMAND"
    assert node_group(dev, "gpu-small")["capacityType"] == "SPOT"


def test_scaling_bounds_come_from_the_spec_and_allow_zero(prod: RecordedCluster, dev: RecordedCluster) -> None:
    assert node_group(prod, "h100-train")["scalingConfig"] == {"minSize": 0, "maxSize": 4, "desiredSize": 0}
    assert node_group(prod, "l4-serve")["scalingConfig"] == {"minSize": 2, "maxSize": 6, "desiredSize": 2}
    assert node_group(prod, "system")["scalingConfig"] == {"minSize": 3, "maxSize": 6, "desiredSize": 3}
    assert node_group(dev, "gpu-small")["scalingConfig"] == {"minSize": 0, "maxSize": 2, "desiredSize": 0}


def test_desired_size_is_left_to_the_autoscaler_after_creation(ignore_changes: dict[str, list[str]]) -> None:
    record_cluster(stack_platform("dev"))
    assert ignore_changes["gpuplat-gpu-small-nodes"] == ["scalingConfig.desiredSize"]
    assert ignore_changes["gpuplat-system-nodes"] == ["scalingConfig.desiredSize"]
    # Only the node groups: nothing else silently ignores drift.
    assert {name for name, ignored in ignore_changes.items() if ignored} == {
        "gpuplat-gpu-small-nodes", "gpuplat-system-nodes"
    }


def test_node_groups_join_the_cluster_in_private_subnets_with_the_node_role(prod: RecordedCluster) -> None:
    private = sorted(r.urn.rsplit("::", 1)[-1] + "-id" for r in prod.recording.of_type(SUBNET) if "private" in r.name)
    for pool in ("system", "l4-serve", "h100-train"):
        group = node_group(prod, pool)
        assert group["clusterName"] == "gpuplat-prod"
        assert group["version"] == "1.34"
        assert sorted(group["subnetIds"]) == private
        assert group["nodeRoleArn"] == "arn:aws:mock:::gpuplat-node-role"


def test_node_groups_wait_for_the_node_role_policies_and_nat_routes(prod: RecordedCluster) -> None:
    names = {prod.recording.by_urn(urn).name for urn in prod.recording.named("gpuplat-h100-train-nodes").dependencies}
    assert {
        "gpuplat-node-role-AmazonEKSWorkerNodePolicy",
        "gpuplat-node-role-AmazonEKS_CNI_Policy",
        "gpuplat-node-role-AmazonEC2ContainerRegistryPullOnly",
        "gpuplat-vpc-private-zone1-default",
        "gpuplat-vpc-private-zone3-default",
    } <= names


# ---------------------------------------------------------------------------------- launch templates


def test_launch_templates_require_imdsv2_with_hop_limit_one_by_default(prod: RecordedCluster) -> None:
    for pool in ("system", "l4-serve", "h100-train"):
        assert launch_template(prod, pool)["metadataOptions"] == {
            "httpEndpoint": "enabled",
            "httpTokens": "required",
            "httpPutResponseHopLimit": 1,
            "instanceMetadataTags": "disabled",
        }


def test_imds_hop_limit_comes_from_the_spec() -> None:
    recorded = record_cluster(small_platform(_eks_spec({"system": SYSTEM}, imds_hop_limit=2)))
    assert launch_template(recorded, "system")["metadataOptions"]["httpPutResponseHopLimit"] == 2


def test_root_volume_is_encrypted_gp3_of_the_spec_size(prod: RecordedCluster) -> None:
    sizes = {}
    for pool in ("system", "l4-serve", "h100-train"):
        (mapping,) = launch_template(prod, pool)["blockDeviceMappings"]
        assert mapping["deviceName"] == "/dev/xvda"
        ebs = mapping["ebs"]
        assert (ebs["volumeType"], ebs["encrypted"], ebs["deleteOnTermination"]) == ("gp3", "true", "true")
        sizes[pool] = ebs["volumeSize"]
    assert sizes == {"system": 100, "l4-serve": 200, "h100-train": 500}


def test_each_node_group_uses_its_own_launch_template(prod: RecordedCluster) -> None:
    for pool in ("system", "l4-serve", "h100-train"):
        assert node_group(prod, pool)["launchTemplate"]["id"] == f"gpuplat-{pool}-launch-template-id"
        assert "diskSize" not in node_group(prod, pool)  # the launch template owns the disk


# ---------------------------------------------------------------------------------- cluster-autoscaler


def test_node_groups_carry_autoscaler_discovery_and_node_template_tags(prod: RecordedCluster) -> None:
    assert node_group(prod, "h100-train")["tags"] == {
        "k8s.io/cluster-autoscaler/enabled": "true",
        "k8s.io/cluster-autoscaler/gpuplat-prod": "owned",
        "k8s.io/cluster-autoscaler/node-template/label/gpuplat.io/pool": "h100-train",
        "k8s.io/cluster-autoscaler/node-template/label/gpuplat.io/accelerator": "nvidia",
        "k8s.io/cluster-autoscaler/node-template/label/nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3",
        "k8s.io/cluster-autoscaler/node-template/taint/nvidia.com/gpu": "true:NoSchedule",
        "k8s.io/cluster-autoscaler/node-template/resources/nvidia.com/gpu": "8",
    }


def test_node_template_tags_reach_the_auto_scaling_group(prod: RecordedCluster) -> None:
    pool = prod.recording.named("gpuplat-h100-train")
    tags = {
        r.inputs["tag"]["key"]: (r.inputs["tag"]["value"], r.inputs["tag"]["propagateAtLaunch"])
        for r in prod.recording.children_of(pool) if r.type == ASG_TAG
    }
    expected = {k: v for k, v in node_group(prod, "h100-train")["tags"].items() if "/node-template/" in k}
    assert tags == {key: (value, False) for key, value in expected.items()}


# -------------------------------------------------------------------------------------- control plane


def test_cluster_secrets_are_encrypted_with_a_rotated_kms_key(prod: RecordedCluster) -> None:
    key = prod.one("aws:kms/key:Key").inputs
    assert key["enableKeyRotation"] is True
    assert key["deletionWindowInDays"] == 30
    cluster = prod.one(CLUSTER).inputs
    assert cluster["encryptionConfig"] == {
        "provider": {"keyArn": "arn:aws:mock:::gpuplat-secrets"},
        "resources": ["secrets"],
    }


def test_all_five_control_plane_log_types_are_enabled(prod: RecordedCluster) -> None:
    cluster = prod.one(CLUSTER).inputs
    assert cluster["enabledClusterLogTypes"] == ["api", "audit", "authenticator", "controllerManager", "scheduler"]
    group = prod.one("aws:cloudwatch/logGroup:LogGroup").inputs
    assert group["name"] == "/aws/eks/gpuplat-prod/cluster"
    assert group["retentionInDays"] == 90


def test_cluster_name_version_and_api_only_authentication(prod: RecordedCluster) -> None:
    cluster = prod.one(CLUSTER).inputs
    assert (cluster["name"], cluster["version"]) == ("gpuplat-prod", "1.34")
    assert cluster["accessConfig"] == {
        "authenticationMode": "API",
        "bootstrapClusterCreatorAdminPermissions": True,
    }
    assert cluster["roleArn"] == "arn:aws:mock:::gpuplat-cluster-role"


def test_endpoint_is_private_when_no_cidrs_are_given(prod: RecordedCluster) -> None:
    vpc_config = prod.one(CLUSTER).inputs["vpcConfig"]
    assert vpc_config["endpointPrivateAccess"] is True
    assert vpc_config["endpointPublicAccess"] is False
    assert "publicAccessCidrs" not in vpc_config


def test_public_endpoint_is_restricted_to_the_spec_cidrs(dev: RecordedCluster) -> None:
    vpc_config = dev.one(CLUSTER).inputs["vpcConfig"]
    assert vpc_config["endpointPrivateAccess"] is True
    assert vpc_config["endpointPublicAccess"] is True
    assert vpc_config["publicAccessCidrs"] == ["203.0.113.0/24"]


def test_access_entries_get_cluster_or_namespace_scoped_policies(prod: RecordedCluster) -> None:
    entries = {r.inputs["principalArn"]: r.inputs for r in prod.recording.of_type("aws:eks/accessEntry:AccessEntry")}
    assert set(entries) == {
        "arn:aws:iam::111122223333:role/platform-admins",
        "arn:aws:iam::111122223333:role/research-engineers",
    }
    assert all(entry["clusterName"] == "gpuplat-prod" for entry in entries.values())
    associations = {
        r.inputs["principalArn"]: (r.inputs["policyArn"], r.inputs["accessScope"])
        for r in prod.recording.of_type("aws:eks/accessPolicyAssociation:AccessPolicyAssociation")
    }
    assert associations == {
        "arn:aws:iam::111122223333:role/platform-admins": (
            "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy", {"type": "cluster"}),
        "arn:aws:iam::111122223333:role/research-engineers": (
            "arn:aws:eks::aws:cluster-access-policy/AmazonEKSEditPolicy",
            {"type": "namespace", "namespaces": ["research"]}),
    }


def test_policy_arns_follow_the_regions_partition() -> None:
    spec = _eks_spec({"system": SYSTEM}, access_entries=[{"principal_arn": "arn:aws-cn:iam::1:role/ops"}])
    spec["cluster"]["eks"]["region"] = "cn-north-1"
    recorded = record_cluster(small_platform(spec))
    association = recorded.one("aws:eks/accessPolicyAssociation:AccessPolicyAssociation").inputs
    assert association["policyArn"] == "arn:aws-cn:eks::aws:cluster-access-policy/AmazonEKSViewPolicy"
    attachments = recorded.recording.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
    assert {r.inputs["policyArn"] for r in attachments} == {
        "arn:aws-cn:iam::aws:policy/AmazonEKSClusterPolicy",
        "arn:aws-cn:iam::aws:policy/AmazonEKSWorkerNodePolicy",
        "arn:aws-cn:iam::aws:policy/AmazonEKS_CNI_Policy",
        "arn:aws-cn:iam::aws:policy/AmazonEC2ContainerRegistryPullOnly",
    }


def test_iam_roles_trust_their_services_and_get_the_managed_policies(prod: RecordedCluster) -> None:
    def trusted(name: str) -> str:
        (statement,) = json.loads(prod.recording.named(name).inputs["assumeRolePolicy"])["Statement"]
        assert statement["Action"] == "sts:AssumeRole"
        return statement["Principal"]["Service"]

    assert trusted("gpuplat-cluster-role") == "eks.amazonaws.com"
    assert trusted("gpuplat-node-role") == "ec2.amazonaws.com"
    # The role input is the role's auto-generated name, which the mocks leave unset: match by child name.
    attached = {
        (r.name.rsplit("-role-", 1)[0] + "-role", r.inputs["policyArn"].rsplit("/", 1)[-1])
        for r in prod.recording.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
    }
    assert attached == {
        ("gpuplat-cluster-role", "AmazonEKSClusterPolicy"),
        ("gpuplat-node-role", "AmazonEKSWorkerNodePolicy"),
        ("gpuplat-node-role", "AmazonEKS_CNI_Policy"),
        ("gpuplat-node-role", "AmazonEC2ContainerRegistryPullOnly"),
    }


# ---------------------------------------------------------------------------------------------- IRSA


def test_irsa_oidc_provider_uses_the_cluster_issuer_and_sts_audience(prod: RecordedCluster) -> None:
    oidc = prod.one("aws:iam/openIdConnectProvider:OpenIdConnectProvider").inputs
    assert oidc["url"] == "https://oidc.eks.example/id/ABC"  # the mock cluster's issuer
    assert oidc["clientIdLists"] == ["sts.amazonaws.com"]
    assert prod.values["oidc_issuer"] == "oidc.eks.example/id/ABC"
    assert prod.values["oidc_provider_arn"] == "arn:aws:mock:::gpuplat-oidc"
    assert prod.values["account_id"] == "111122223333"
    assert prod.handle.workload_identity is not None
    assert prod.handle.workload_identity.partition == "aws"


# ------------------------------------------------------------------------------------------- network


def test_vpc_has_tagged_public_and_private_subnets_per_zone(prod: RecordedCluster) -> None:
    vpc = prod.one("aws:ec2/vpc:Vpc").inputs
    assert (vpc["cidrBlock"], vpc["enableDnsSupport"], vpc["enableDnsHostnames"]) == ("10.0.0.0/16", True, True)
    subnets = {r.name.removeprefix("gpuplat-vpc-"): r.inputs for r in prod.recording.of_type(SUBNET)}
    assert {name: s["cidrBlock"] for name, s in subnets.items()} == {
        "private-zone1": "10.0.0.0/19", "private-zone2": "10.0.32.0/19", "private-zone3": "10.0.64.0/19",
        "public-zone1": "10.0.128.0/22", "public-zone2": "10.0.132.0/22", "public-zone3": "10.0.136.0/22",
    }
    assert [subnets[f"private-zone{i}"]["availabilityZone"] for i in (1, 2, 3)] == ["az-a", "az-b", "az-c"]
    for name, subnet in subnets.items():
        role = "kubernetes.io/role/elb" if name.startswith("public") else "kubernetes.io/role/internal-elb"
        assert subnet["tags"][role] == "1"
        assert subnet["tags"]["kubernetes.io/cluster/gpuplat-prod"] == "owned"


def test_private_subnets_route_to_their_zones_nat_gateway(prod: RecordedCluster) -> None:
    routes = {r.name: r.inputs for r in prod.recording.of_type("aws:ec2/route:Route")}
    assert routes["gpuplat-vpc-public-default"]["gatewayId"] == "gpuplat-vpc-igw-id"
    for zone in ("zone1", "zone2", "zone3"):
        route = routes[f"gpuplat-vpc-private-{zone}-default"]
        assert (route["destinationCidrBlock"], route["natGatewayId"]) == ("0.0.0.0/0", f"gpuplat-vpc-{zone}-id")
        nat = prod.one("aws:ec2/natGateway:NatGateway", f"gpuplat-vpc-{zone}").inputs
        assert nat["subnetId"] == f"gpuplat-vpc-public-{zone}-id"


def test_control_plane_uses_the_private_subnets(prod: RecordedCluster) -> None:
    assert prod.one(CLUSTER).inputs["vpcConfig"]["subnetIds"] == [
        "gpuplat-vpc-private-zone1-id", "gpuplat-vpc-private-zone2-id", "gpuplat-vpc-private-zone3-id"
    ]


def test_given_subnets_are_used_and_no_vpc_is_created() -> None:
    spec = _eks_spec({"system": SYSTEM}, vpc={"subnet_ids": ["subnet-1", "subnet-2"]})
    recorded = record_cluster(small_platform(spec))
    assert recorded.recording.of_type("gpuplat:cluster:Vpc") == []
    network = [r.type for r in recorded.recording.resources if r.type.startswith("aws:ec2/")]
    assert network == [LAUNCH_TEMPLATE]
    assert recorded.one(CLUSTER).inputs["vpcConfig"]["subnetIds"] == ["subnet-1", "subnet-2"]
    assert node_group(recorded, "system")["subnetIds"] == ["subnet-1", "subnet-2"]


def test_more_zones_than_the_region_offers_fails_with_the_spec_path() -> None:
    spec = _eks_spec({"system": SYSTEM}, vpc={"availability_zones": 4})  # the mocked region has three
    with pytest.raises(Exception, match=r"cluster\.eks\.vpc\.availability_zones: 4 zones requested, the region "
                                        r"offers 3 \(az-a, az-b, az-c\)"):
        record_cluster(small_platform(spec))


# ----------------------------------------------------------------------------- structure and providers


def test_every_resource_descends_from_the_eks_cluster_component(prod: RecordedCluster) -> None:
    (component,) = prod.recording.of_type("gpuplat:cluster:EksCluster")
    assert component.name == "gpuplat"
    others = [r for r in prod.recording.resources if r is not component]
    assert len(others) > 50
    for registration in others:
        assert component in list(parent_chain(prod.recording, registration)), registration.name
    # Sub-components are direct children; their resources are theirs.
    for sub in prod.recording.of_type("gpuplat:cluster:NodePool") + prod.recording.of_type("gpuplat:cluster:Vpc"):
        assert sub.parent == component.urn
        assert sub.custom is False
    assert prod.recording.named("gpuplat-h100-train-nodes").parent == prod.recording.named("gpuplat-h100-train").urn


def test_every_aws_resource_uses_the_clusters_aws_provider_in_the_spec_region(prod: RecordedCluster) -> None:
    (provider,) = prod.recording.of_type("pulumi:providers:aws")
    assert provider.inputs["region"] == "us-east-1"
    assert json.loads(provider.inputs["defaultTags"]) == {"tags": {"gpuplat.io/cluster": "gpuplat-prod"}}
    assert provider.parent == prod.recording.named("gpuplat").urn
    aws_resources = [r for r in prod.recording.resources if r.type.startswith("aws:")]
    assert aws_resources
    for registration in aws_resources:
        assert registration.provider.startswith(provider.urn + "::"), registration.name
        assert "region" not in registration.inputs, registration.name  # the provider is the only place


def test_kubernetes_provider_uses_a_secret_get_token_kubeconfig_and_waits_for_system_nodes(
    prod: RecordedCluster,
) -> None:
    (provider,) = prod.recording.of_type("pulumi:providers:kubernetes")
    assert provider.parent == prod.recording.named("gpuplat").urn
    config = json.loads(secret_value(provider.inputs["kubeconfig"]))
    assert config == json.loads(prod.values["kubeconfig"])
    assert config["clusters"][0]["cluster"] == {
        "server": "https://example.eks.amazonaws.com", "certificate-authority-data": "Y2VydA=="
    }
    exec_config = config["users"][0]["user"]["exec"]
    assert exec_config["command"] == "aws"
    assert exec_config["args"] == ["eks", "get-token", "--cluster-name", "gpuplat-prod", "--region", "us-east-1",
                                   "--output", "json"]
    depends = {prod.recording.by_urn(urn).name for urn in provider.dependencies}
    assert "gpuplat-system-nodes" in depends
    assert not {"gpuplat-h100-train-nodes", "gpuplat-l4-serve-nodes"} & depends
    # No Kubernetes resources in EKS mode: the provider is for the add-ons and workloads.
    assert [r for r in prod.recording.resources if r.type.startswith("kubernetes:")] == []


def test_handle_exposes_both_providers_and_the_kubeconfig_the_provider_uses(prod: RecordedCluster) -> None:
    handle = prod.handle
    assert isinstance(handle.component, EksCluster)
    assert handle.providers == [handle.provider, handle.component.aws_provider]
    # The very Output the provider got as a secret (previous test), so exporting it keeps it secret.
    assert handle.kubeconfig is handle.component.kubeconfig
    assert handle.provider is handle.component.provider


def test_handle_pools_describe_each_pool_from_spec_and_catalogue(prod: RecordedCluster) -> None:
    pools = prod.handle.pools
    assert list(pools) == ["system", "l4-serve", "h100-train"]
    h100 = pools["h100-train"]
    assert (h100.is_gpu, h100.instance.gpus, h100.allocatable.gpus, h100.max_nodes, h100.min_nodes) == (
        True, 8, 8, 4, 0)
    assert [(t.key, t.value, t.effect) for t in h100.taints] == [("nvidia.com/gpu", "true", "NoSchedule")]
    assert dict(h100.labels) == node_group(prod, "h100-train")["labels"]
    # Mixed pool: per-node capacity is the smaller instance type's (g5.12xlarge == g6.12xlarge shape).
    assert (pools["l4-serve"].instance.gpus, pools["l4-serve"].instance.vcpu) == (4, 48)
    assert pools["system"].is_gpu is False and pools["system"].system is True
