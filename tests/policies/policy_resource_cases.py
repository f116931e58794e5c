"""Case tables for rules over one whole resource (Ray, Kueue, KServe, Services, RBAC, AWS) and for stack
rules. Each case gives the exact (resource name, path) pairs the rule must report; `()` is compliant.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from policy_fixtures import DELETE, GPU, GPU_POD, aws, build, k8s, merge, pod_spec, ray

from policies.model import Resource

QUEUE = {"labels": {"kueue.x-k8s.io/queue-name": "training"}}


@dataclass(frozen=True)
class ResourceCase:
    rule: str
    name: str
    resource: Resource
    expect: tuple[str, ...]
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class StackCase:
    rule: str
    name: str
    resources: tuple[Resource, ...]
    expect: tuple[tuple[str, str], ...]  # (resource name, path)
    params: dict[str, Any] = field(default_factory=dict)


def rc(rule: str, name: str, resource: Resource, *expect: str, **params: Any) -> ResourceCase:
    return ResourceCase(rule, name, resource, expect, params)


def sc(rule: str, name: str, resources: list[Resource], *expect: tuple[str, str], **params: Any) -> StackCase:
    return StackCase(rule, name, tuple(resources), expect, params)


def doc(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


# --- builders --------------------------------------------------------------------------------------------

GPU_TOLERATION = {"tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]}
HEAD_LIMITS = "headGroupSpec.template.spec.containers[0].resources.limits"
ELASTIC = {"annotations": {"kueue.x-k8s.io/elastic-job": "true"}, **QUEUE}
GATE = {"schedulingGates": [{"name": "kueue.x-k8s.io/elastic-job"}]}
NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
POLICY = "aws:iam/policy:Policy"
ROLE = "aws:iam/role:Role"
LT = "aws:ec2/launchTemplate:LaunchTemplate"
EKS = "aws:eks/cluster:Cluster"
KMS = "aws:kms/key:Key"
ECR = "aws:ecr/repository:Repository"
OIDC = "arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/ABC"
ISSUER = "oidc.eks.us-east-1.amazonaws.com/id/ABC"
LOGS = ["api", "audit", "authenticator", "controllerManager", "scheduler"]


def isvc(predictor: dict[str, Any] | None = None, **spec: Any) -> Resource:
    body = pod_spec()
    component = merge(
        {"minReplicas": 1, "maxReplicas": 2, "containers": body.pop("containers"), **body}, predictor or {}
    )
    return k8s("serving.kserve.io/v1beta1", "InferenceService", {"spec": {"predictor": component, **spec}})


def model_isvc(**model: Any) -> Resource:
    return isvc({"containers": DELETE, "model": {"modelFormat": {"name": "pytorch"}, **model}})


def gpu_ray(kind: str, **kwargs: Any) -> Resource:
    return ray(kind, workers=[{"container": GPU, "pod": GPU_POD}], **kwargs)


def cluster_queue(spec: dict[str, Any], version: str = "v1beta2", name: str = "cq") -> Resource:
    return k8s(f"kueue.x-k8s.io/{version}", "ClusterQueue", {"spec": spec}, name=name, namespace=None)


COVERED = ("cpu", "memory", "nvidia.com/gpu", "ephemeral-storage")


def quota_group(flavor: str = "gpu", gpus: Any = 8, covered: tuple[str, ...] = COVERED, **extra: Any) -> dict[str, Any]:
    amounts = {"cpu": "64", "memory": "256Gi", "nvidia.com/gpu": gpus, "ephemeral-storage": "1Ti"}
    resources = [{"name": name, "nominalQuota": amounts[name], **extra} for name in covered]
    return {"coveredResources": list(covered), "flavors": [{"name": flavor, "resources": resources}]}


def node_group(instance: str = "g5.12xlarge", max_size: int = 2, name: str = "gpu-nodes", **props: Any) -> Resource:
    base = {
        "instanceTypes": [instance],
        "amiType": "AL2023_x86_64_NVIDIA",
        "scalingConfig": {"minSize": 0, "desiredSize": 0, "maxSize": max_size},
        "labels": {"gpuplat.io/pool": "gpu"},
        "taints": [{"key": "nvidia.com/gpu", "value": "true", "effect": "NO_SCHEDULE"}],
    }
    return aws(NODE_GROUP, merge(base, props), name=name)


def flavor(name: str = "gpu", annotations: dict[str, str] | None = None, **spec: Any) -> Resource:
    base = {
        "nodeLabels": {"gpuplat.io/pool": "gpu"},
        "nodeTaints": [{"key": "nvidia.com/gpu", "value": "true", "effect": "NoSchedule"}],
    }
    return k8s(
        "kueue.x-k8s.io/v1beta2",
        "ResourceFlavor",
        {"spec": merge(base, spec)},
        name=name,
        namespace=None,
        annotations=annotations or {},
    )


def local_queue(name: str = "training", namespace: str = "ml", target: str = "cq") -> Resource:
    return k8s(
        "kueue.x-k8s.io/v1beta2", "LocalQueue", {"spec": {"clusterQueue": target}}, name=name, namespace=namespace
    )


def queued_job(labels: dict[str, str] | None = None, container: dict[str, Any] | None = None) -> Resource:
    return build(
        "job",
        container if container is not None else GPU,
        GPU_POD,
        {"labels": labels or {"kueue.x-k8s.io/queue-name": "training"}},
    )


def kueue_chain(**cq: Any) -> list[Resource]:
    return [flavor(), cluster_queue({"namespaceSelector": {}, "resourceGroups": [quota_group(**cq)]}), local_queue()]


def bucket(name: str = "models", **props: Any) -> Resource:
    return aws(
        "aws:s3/bucket:Bucket",
        {"bucket": name, **props},
        name=name,
        urn=f"urn:pulumi:prod::gpuplat::aws:s3/bucket:Bucket::{name}",
    )


def companion(kind: str, token_kind: str, bucket_name: str = "models", name: str = "", **props: Any) -> Resource:
    return aws(f"aws:s3/{kind}:{token_kind}", {"bucket": bucket_name, **props}, name=name or f"{bucket_name}-{kind}")


PAB = {"blockPublicAcls": True, "blockPublicPolicy": True, "ignorePublicAcls": True, "restrictPublicBuckets": True}
SSE = {"rules": [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "aws:kms"}}]}
GPU_OPERATOR = k8s(
    "helm.sh/v3", "Release", {"chart": "gpu-operator", "values": {}}, name="gpu-operator", namespace="gpu-system"
)


RESOURCE_CASES: list[ResourceCase] = [
    # --- KubeRay ---------------------------------------------------------------------------------------------
    rc("ray-head-no-gpu", "ok", ray()),
    rc("ray-head-no-gpu", "GPU head", ray(head=GPU), f"spec.{HEAD_LIMITS}"),
    rc("ray-head-no-gpu", "GPU head in a RayJob", ray("RayJob", head=GPU), f"spec.rayClusterSpec.{HEAD_LIMITS}"),
    rc(
        "ray-head-no-gpu",
        "GPU head in a RayService",
        ray("RayService", head=GPU),
        f"spec.rayClusterConfig.{HEAD_LIMITS}",
    ),
    rc("ray-head-no-gpu", "single-node allowed", ray(head=GPU), allowSingleNode=True),
    rc(
        "ray-head-no-gpu",
        "head on GPU nodes without num-gpus",
        ray(head_pod=GPU_TOLERATION),
        "spec.headGroupSpec.rayStartParams",
    ),
    rc(
        "ray-head-no-gpu",
        "head with num-gpus 0",
        ray(head_pod=GPU_TOLERATION, spec={"headGroupSpec": {"rayStartParams": {"num-gpus": "0"}}}),
    ),
    rc("ray-worker-bounds", "ok", ray()),
    rc(
        "ray-worker-bounds",
        "no maxReplicas",
        ray(workers=[{"group": {"maxReplicas": DELETE}}]),
        "spec.workerGroupSpecs[0].maxReplicas",
    ),
    rc(
        "ray-worker-bounds",
        "replicas above max",
        ray("RayJob", workers=[{"group": {"replicas": 5}}]),
        "spec.rayClusterSpec.workerGroupSpecs[0].replicas",
    ),
    rc(
        "ray-worker-bounds",
        "min above max",
        ray("RayService", workers=[{"group": {"minReplicas": 3, "maxReplicas": 2, "replicas": 2}}]),
        "spec.rayClusterConfig.workerGroupSpecs[0].minReplicas",
        "spec.rayClusterConfig.workerGroupSpecs[0].replicas",
    ),
    rc(
        "ray-worker-bounds",
        "duplicate group",
        ray(workers=[{}, {"group": {"groupName": "group-0"}}]),
        "spec.workerGroupSpecs[1].groupName",
    ),
    rc(
        "ray-worker-bounds",
        "above ceiling",
        ray(workers=[{"group": {"maxReplicas": 100}}]),
        "spec.workerGroupSpecs[0].maxReplicas",
    ),
    rc(
        "ray-worker-bounds", "ceiling raised by config", ray(workers=[{"group": {"maxReplicas": 100}}]), maxReplicas=128
    ),
    rc("ray-version-consistency", "ok", ray("RayService")),
    rc(
        "ray-version-consistency",
        "image differs from rayVersion",
        ray(spec={"rayVersion": "2.9.0"}),
        "spec.headGroupSpec.template.spec.containers[0].image",
        "spec.workerGroupSpecs[0].template.spec.containers[0].image",
    ),
    rc(
        "ray-version-consistency",
        "worker image differs",
        ray("RayJob", workers=[{"container": {"image": "rayproject/ray:2.9.0-gpu"}}]),
        "spec.rayClusterSpec.workerGroupSpecs[0].template.spec.containers[0].image",
    ),
    rc("ray-version-consistency", "no rayVersion", ray(spec={"rayVersion": DELETE}), "spec.rayVersion"),
    rc("rayjob-lifecycle", "ok", ray("RayJob")),
    rc(
        "rayjob-lifecycle",
        "no shutdown",
        ray("RayJob", spec={"shutdownAfterJobFinishes": False}),
        "spec.shutdownAfterJobFinishes",
    ),
    rc(
        "rayjob-lifecycle",
        "nothing set",
        ray(
            "RayJob",
            spec={
                "shutdownAfterJobFinishes": DELETE,
                "ttlSecondsAfterFinished": DELETE,
                "activeDeadlineSeconds": DELETE,
            },
        ),
        "spec.activeDeadlineSeconds",
        "spec.shutdownAfterJobFinishes",
        "spec.ttlSecondsAfterFinished",
    ),
    rc(
        "rayjob-lifecycle",
        "existing cluster needs only a deadline",
        k8s("ray.io/v1", "RayJob", {"spec": {"clusterSelector": {"ray.io/cluster": "shared"}}}),
        "spec.activeDeadlineSeconds",
    ),
    rc("ray-kueue-compat", "ok", gpu_ray("RayJob", metadata=QUEUE)),
    rc("ray-kueue-compat", "not queued", ray(spec={"enableInTreeAutoscaling": True})),
    rc(
        "ray-kueue-compat",
        "no shutdown",
        ray("RayJob", spec={"shutdownAfterJobFinishes": False}, metadata=QUEUE),
        "spec.shutdownAfterJobFinishes",
    ),
    rc(
        "ray-kueue-compat",
        "existing cluster",
        ray("RayJob", spec={"clusterSelector": {"ray.io/cluster": "x"}}, metadata=QUEUE),
        "spec.clusterSelector",
    ),
    rc(
        "ray-kueue-compat",
        "no cluster spec",
        k8s("ray.io/v1", "RayJob", {"spec": {"shutdownAfterJobFinishes": True}}, labels=QUEUE["labels"]),
        "spec.rayClusterSpec",
    ),
    rc(
        "ray-kueue-compat",
        "autoscaling",
        ray(spec={"enableInTreeAutoscaling": True}, metadata=QUEUE),
        "spec.enableInTreeAutoscaling",
    ),
    rc(
        "ray-kueue-compat",
        "elastic without gates",
        ray("RayService", spec={"rayClusterConfig": {"enableInTreeAutoscaling": True}}, metadata=ELASTIC),
        "spec.rayClusterConfig.headGroupSpec.template.spec.schedulingGates",
        "spec.rayClusterConfig.workerGroupSpecs[0].template.spec.schedulingGates",
    ),
    rc(
        "ray-kueue-compat",
        "elastic with gates",
        ray(head_pod=GATE, workers=[{"pod": GATE}], spec={"enableInTreeAutoscaling": True}, metadata=ELASTIC),
    ),
    rc(
        "ray-kueue-compat",
        "worker named head",
        ray(workers=[{"group": {"groupName": "head"}}], metadata=QUEUE),
        "spec.workerGroupSpecs[0].groupName",
    ),
    rc(
        "ray-kueue-compat",
        "18 worker groups",
        ray("RayJob", workers=[{}] * 18, metadata=QUEUE),
        "spec.rayClusterSpec.workerGroupSpecs",
    ),
    rc("ray-kueue-compat", "17 worker groups", ray("RayJob", workers=[{}] * 17, metadata=QUEUE)),
    # --- Kueue ------------------------------------------------------------------------------------------------
    rc("kueue-queue-label", "ok", gpu_ray("RayJob", metadata=QUEUE)),
    rc("kueue-queue-label", "CPU job outside managed namespaces", build("job")),
    rc("kueue-queue-label", "GPU RayCluster", gpu_ray("RayCluster"), "metadata.labels"),
    rc("kueue-queue-label", "GPU RayService", gpu_ray("RayService"), "metadata.labels"),
    rc("kueue-queue-label", "GPU InferenceService served outside Kueue", build("isvc", GPU, GPU_POD)),
    rc(
        "kueue-queue-label",
        "GPU InferenceService where serving is queued",
        build("isvc", GPU, GPU_POD),
        "metadata.labels",
        gpuKinds=["InferenceService"],
    ),
    rc("kueue-queue-label", "GPU Job", build("job", GPU, GPU_POD), "metadata.labels"),
    rc("kueue-queue-label", "managed namespace", build("job"), "metadata.labels", managedNamespaces=["ml"]),
    rc(
        "kueue-queue-label",
        "RayJob on an existing cluster",
        k8s("ray.io/v1", "RayJob", {"spec": {"clusterSelector": {"ray.io/cluster": "x"}}}),
        managedNamespaces=["ml"],
    ),
    rc(
        "kueue-limits-need-cohort",
        "ok",
        cluster_queue({"cohortName": "org", "resourceGroups": [quota_group(borrowingLimit=4, lendingLimit=2)]}),
    ),
    rc(
        "kueue-limits-need-cohort",
        "borrowing without cohort",
        cluster_queue({"resourceGroups": [quota_group(covered=("cpu",), borrowingLimit="4")]}),
        "spec.resourceGroups[0].flavors[0].resources[0].borrowingLimit",
    ),
    rc(
        "kueue-limits-need-cohort",
        "lending above quota",
        cluster_queue(
            {"cohort": "org", "resourceGroups": [quota_group(covered=("nvidia.com/gpu",), lendingLimit=16)]}, "v1beta1"
        ),
        "spec.resourceGroups[0].flavors[0].resources[0].lendingLimit",
    ),
    rc(
        "kueue-limits-need-cohort",
        "v1beta1 field in v1beta2",
        cluster_queue({"cohort": "org", "resourceGroups": [quota_group()]}),
        "spec.cohort",
    ),
    rc(
        "kueue-limits-need-cohort",
        "17 resource groups",
        cluster_queue({"resourceGroups": [quota_group()] * 17}),
        "spec.resourceGroups",
    ),
    # --- KServe -----------------------------------------------------------------------------------------------
    rc("kserve-replica-bounds", "ok", isvc()),
    rc("kserve-replica-bounds", "no minReplicas", isvc({"minReplicas": DELETE}), "spec.predictor.minReplicas"),
    rc("kserve-replica-bounds", "unbounded", isvc({"maxReplicas": DELETE}), "spec.predictor.maxReplicas"),
    rc(
        "kserve-replica-bounds",
        "max below min",
        isvc({"minReplicas": 3, "maxReplicas": 2}),
        "spec.predictor.maxReplicas",
    ),
    rc(
        "kserve-replica-bounds",
        "GPU scale to zero",
        isvc(merge(GPU_POD, {"minReplicas": 0, "containers": [merge(pod_spec()["containers"][0], GPU)]})),
        "spec.predictor.minReplicas",
    ),
    rc(
        "kserve-replica-bounds",
        "scale to zero allowed in dev",
        isvc({"minReplicas": 0, "containers": [merge(pod_spec()["containers"][0], GPU)]}),
        requireWarmGpu=False,
    ),
    rc(
        "kserve-replica-bounds",
        "canary above ceiling",
        isvc(canary=[{"trafficPercent": 10, "predictor": {"minReplicas": 1, "maxReplicas": 40}}]),
        "spec.canary[0].predictor.maxReplicas",
    ),
    rc(
        "kserve-replica-bounds",
        "transformer",
        isvc(transformer={"containers": [pod_spec()["containers"][0]]}),
        "spec.transformer.maxReplicas",
        "spec.transformer.minReplicas",
    ),
    rc("kserve-storage-uri-allowlist", "ok", model_isvc(storageUri="s3://models/llama")),
    rc(
        "kserve-storage-uri-allowlist",
        "gs",
        model_isvc(storageUri="gs://public/llama"),
        "spec.predictor.model.storageUri",
    ),
    rc(
        "kserve-storage-uri-allowlist",
        "http in storageUris",
        isvc({"storageUris": [{"uri": "http://x/m"}]}),
        "spec.predictor.storageUris[0].uri",
    ),
    rc(
        "kserve-storage-uri-allowlist",
        "bucket allowlist",
        model_isvc(storageUri="s3://other/llama"),
        "spec.predictor.model.storageUri",
        allowedStorageUris=["s3://models/"],
    ),
    # --- E. Kubernetes objects --------------------------------------------------------------------------------
    rc("k8s-no-default-namespace", "ok", build("deployment")),
    rc("k8s-no-default-namespace", "cluster-scoped ClusterQueue", cluster_queue({})),
    rc(
        "k8s-no-default-namespace",
        "no namespace",
        k8s("v1", "Service", {"spec": {}}, namespace=None),
        "metadata.namespace",
    ),
    rc("k8s-no-default-namespace", "default", build("isvc", metadata={"namespace": "default"}), "metadata.namespace"),
    rc("k8s-no-default-namespace", "LocalQueue in default", local_queue(namespace="default"), "metadata.namespace"),
    rc("k8s-service-exposure", "ok", k8s("v1", "Service", {"spec": {"type": "ClusterIP"}})),
    rc(
        "k8s-service-exposure",
        "internal load balancer",
        k8s(
            "v1",
            "Service",
            {"spec": {"type": "LoadBalancer"}},
            annotations={"service.beta.kubernetes.io/aws-load-balancer-scheme": "internal"},
        ),
    ),
    rc("k8s-service-exposure", "NodePort", k8s("v1", "Service", {"spec": {"type": "NodePort"}}), "spec.type"),
    rc(
        "k8s-service-exposure",
        "public load balancer",
        k8s("v1", "Service", {"spec": {"type": "LoadBalancer"}}),
        "spec.type",
    ),
    rc(
        "k8s-service-exposure",
        "external IPs",
        k8s("v1", "Service", {"spec": {"externalIPs": ["1.2.3.4"]}}),
        "spec.externalIPs",
    ),
    rc("k8s-ingress-tls", "ok", k8s("networking.k8s.io/v1", "Ingress", {"spec": {"tls": [{"hosts": ["a"]}]}})),
    rc(
        "k8s-ingress-tls",
        "Istio redirect and TLS",
        k8s(
            "networking.istio.io/v1",
            "Gateway",
            {
                "spec": {
                    "servers": [
                        {"port": {"protocol": "HTTP"}, "tls": {"httpsRedirect": True}},
                        {"port": {"protocol": "HTTPS"}, "tls": {"mode": "SIMPLE"}},
                    ]
                }
            },
        ),
    ),
    rc(
        "k8s-ingress-tls",
        "Gateway API not checked",
        k8s("gateway.networking.k8s.io/v1", "Gateway", {"spec": {"listeners": [{"protocol": "HTTP"}]}}),
    ),
    rc(
        "k8s-ingress-tls",
        "Ingress without TLS",
        k8s("networking.k8s.io/v1", "Ingress", {"spec": {"rules": []}}),
        "spec.tls",
    ),
    rc(
        "k8s-ingress-tls",
        "Istio plain HTTP and HTTPS without mode",
        k8s(
            "networking.istio.io/v1",
            "Gateway",
            {"spec": {"servers": [{"port": {"protocol": "HTTP"}}, {"port": {"protocol": "HTTPS"}, "tls": {}}]}},
        ),
        "spec.servers[0].tls.httpsRedirect",
        "spec.servers[1].tls.mode",
    ),
    rc(
        "k8s-rbac-least-privilege",
        "ok",
        k8s(
            "rbac.authorization.k8s.io/v1",
            "ClusterRole",
            {
                "rules": [
                    {"apiGroups": [""], "resources": ["pods", "secrets"], "verbs": ["get"], "resourceNames": ["hf"]}
                ]
            },
            namespace=None,
        ),
    ),
    rc(
        "k8s-rbac-least-privilege",
        "wildcards",
        k8s(
            "rbac.authorization.k8s.io/v1",
            "Role",
            {"rules": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}]},
        ),
        "rules[0].resources",
        "rules[0].verbs",
    ),
    rc(
        "k8s-rbac-least-privilege",
        "escalation, exec and secrets",
        k8s(
            "rbac.authorization.k8s.io/v1",
            "ClusterRole",
            {
                "rules": [
                    {"resources": ["clusterroles"], "verbs": ["escalate"]},
                    {"resources": ["pods/exec"], "verbs": ["create"]},
                    {"resources": ["secrets"], "verbs": ["list"]},
                ]
            },
            namespace=None,
        ),
        "rules[0].verbs",
        "rules[1].resources",
        "rules[2].resources",
    ),
    rc(
        "k8s-rbac-least-privilege",
        "cluster-admin binding",
        k8s(
            "rbac.authorization.k8s.io/v1",
            "ClusterRoleBinding",
            {"roleRef": {"kind": "ClusterRole", "name": "cluster-admin"}},
            namespace=None,
        ),
        "roleRef.name",
    ),
    # --- G. AWS ---------------------------------------------------------------------------------------------
    rc(
        "aws-eks-endpoint-private",
        "ok",
        aws(EKS, {"vpcConfig": {"endpointPublicAccess": False, "endpointPrivateAccess": True}}),
    ),
    rc(
        "aws-eks-endpoint-private",
        "listed CIDRs",
        aws(EKS, {"vpcConfig": {"endpointPublicAccess": True, "publicAccessCidrs": ["203.0.113.0/24"]}}),
    ),
    rc(
        "aws-eks-endpoint-private",
        "AWS default is public",
        aws(EKS, {"vpcConfig": {}}),
        "vpcConfig.endpointPublicAccess",
    ),
    rc(
        "aws-eks-endpoint-private",
        "open to the world",
        aws(EKS, {"vpcConfig": {"endpointPublicAccess": True, "publicAccessCidrs": ["0.0.0.0/0"]}}),
        "vpcConfig.endpointPublicAccess",
    ),
    rc(
        "aws-eks-secrets-encryption",
        "ok",
        aws(EKS, {"encryptionConfig": {"provider": {"keyArn": "arn:aws:kms:k"}, "resources": ["secrets"]}}),
    ),
    rc("aws-eks-secrets-encryption", "none", aws(EKS, {}), "encryptionConfig"),
    rc(
        "aws-eks-secrets-encryption",
        "no key",
        aws(EKS, {"encryptionConfig": {"resources": ["secrets"]}}),
        "encryptionConfig",
    ),
    rc("aws-eks-control-plane-logging", "ok", aws(EKS, {"enabledClusterLogTypes": LOGS})),
    rc(
        "aws-eks-control-plane-logging",
        "no audit",
        aws(EKS, {"enabledClusterLogTypes": ["api"]}),
        "enabledClusterLogTypes",
    ),
    rc("aws-eks-control-plane-logging", "none", aws(EKS, {}), "enabledClusterLogTypes"),
    rc("aws-eks-supported-version", "ok", aws(EKS, {"version": "1.34"})),
    rc("aws-eks-supported-version", "old", aws(EKS, {"version": "1.27"}), "version"),
    rc("aws-eks-supported-version", "unpinned", aws(EKS, {}), "version"),
    rc("aws-eks-nodegroup-no-ssh", "ok", node_group()),
    rc(
        "aws-eks-nodegroup-no-ssh",
        "restricted SSH",
        node_group(remoteAccess={"ec2SshKey": "k", "sourceSecurityGroupIds": ["sg-1"]}),
    ),
    rc(
        "aws-eks-nodegroup-no-ssh",
        "open SSH",
        node_group(remoteAccess={"ec2SshKey": "k"}),
        "remoteAccess.sourceSecurityGroupIds",
    ),
    rc(
        "aws-eks-nodegroup-no-ssh",
        "empty groups",
        node_group(remoteAccess={"ec2SshKey": "k", "sourceSecurityGroupIds": []}),
        "remoteAccess.sourceSecurityGroupIds",
    ),
    rc("aws-lt-imdsv2", "ok", aws(LT, {"metadataOptions": {"httpTokens": "required", "httpPutResponseHopLimit": 1}})),
    rc("aws-lt-imdsv2", "endpoint disabled", aws(LT, {"metadataOptions": {"httpEndpoint": "disabled"}})),
    rc(
        "aws-lt-imdsv2",
        "IMDSv1",
        aws(LT, {"metadataOptions": {"httpTokens": "optional"}}),
        "metadataOptions.httpTokens",
    ),
    rc("aws-lt-imdsv2", "default", aws(LT, {}), "metadataOptions.httpTokens"),
    rc(
        "aws-lt-imdsv2",
        "hop limit 2",
        aws(LT, {"metadataOptions": {"httpTokens": "required", "httpPutResponseHopLimit": 2}}),
        "metadataOptions.httpPutResponseHopLimit",
    ),
    rc(
        "aws-lt-ebs-encrypted",
        "ok",
        aws(LT, {"blockDeviceMappings": [{"deviceName": "/dev/xvda", "ebs": {"encrypted": "true"}}]}),
    ),
    rc(
        "aws-lt-ebs-encrypted",
        "string false",
        aws(LT, {"blockDeviceMappings": [{"ebs": {"encrypted": "false"}}]}),
        "blockDeviceMappings[0].ebs.encrypted",
    ),
    rc(
        "aws-lt-ebs-encrypted",
        "unset",
        aws(LT, {"blockDeviceMappings": [{"ebs": {"encrypted": True}}, {"ebs": {"volumeSize": 200}}]}),
        "blockDeviceMappings[1].ebs.encrypted",
    ),
    rc(
        "aws-lt-ebs-encrypted",
        "customer key required",
        aws(LT, {"blockDeviceMappings": [{"ebs": {"encrypted": "true"}}]}),
        "blockDeviceMappings[0].ebs.kmsKeyId",
        requireKmsKey=True,
    ),
    rc("aws-lt-no-public-ip", "ok", aws(LT, {"networkInterfaces": [{"associatePublicIpAddress": "false"}]})),
    rc(
        "aws-lt-no-public-ip",
        "string true",
        aws(LT, {"networkInterfaces": [{"associatePublicIpAddress": "true"}]}),
        "networkInterfaces[0].associatePublicIpAddress",
    ),
    rc(
        "aws-lt-no-public-ip",
        "bool true",
        aws(LT, {"networkInterfaces": [{}, {"associatePublicIpAddress": True}]}),
        "networkInterfaces[1].associatePublicIpAddress",
    ),
    rc(
        "aws-iam-no-wildcard-admin",
        "ok",
        aws(
            POLICY,
            {
                "policy": doc(
                    {"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": "arn:aws:s3:::models/*"},
                    {"Effect": "Deny", "Action": "*", "Resource": "*"},
                )
            },
        ),
    ),
    rc(
        "aws-iam-no-wildcard-admin",
        "star on star",
        aws(POLICY, {"policy": doc({"Effect": "Allow", "Action": "*", "Resource": "*"})}),
        "policy.Statement[0].Action",
    ),
    rc(
        "aws-iam-no-wildcard-admin",
        "IAM admin as an object",
        aws(
            POLICY,
            {
                "policy": {
                    "Version": "2012-10-17",
                    "Statement": [{"Effect": "Allow", "Action": "iam:*", "Resource": ["*"]}],
                }
            },
        ),
        "policy.Statement[0].Action",
    ),
    rc(
        "aws-iam-no-wildcard-admin",
        "PassRole anywhere",
        aws("aws:iam/rolePolicy:RolePolicy", {"policy": doc({"Action": ["iam:PassRole"], "Resource": "*"})}),
        "policy.Statement[0].Action",
    ),
    rc(
        "aws-iam-no-wildcard-admin",
        "NotAction",
        aws(POLICY, {"policy": doc({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"})}),
        "policy.Statement[0].NotAction",
    ),
    rc(
        "aws-iam-no-wildcard-admin",
        "AdministratorAccess",
        aws(
            "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
            {"policyArn": "arn:aws:iam::aws:policy/AdministratorAccess"},
        ),
        "policyArn",
    ),
    rc(
        "aws-iam-no-wildcard-admin",
        "role inline and managed",
        aws(
            ROLE,
            {
                "inlinePolicies": [{"name": "x", "policy": doc({"Effect": "Allow", "Action": "*", "Resource": "*"})}],
                "managedPolicyArns": ["arn:aws:iam::aws:policy/AdministratorAccess"],
            },
        ),
        "inlinePolicies[0].policy.Statement[0].Action",
        "managedPolicyArns[0]",
    ),
    rc(
        "aws-iam-trust-scoped",
        "ok",
        aws(
            ROLE,
            {
                "assumeRolePolicy": doc(
                    {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"},
                    {
                        "Effect": "Allow",
                        "Principal": {"Federated": OIDC},
                        "Action": "sts:AssumeRoleWithWebIdentity",
                        "Condition": {
                            "StringEquals": {
                                f"{ISSUER}:sub": "system:serviceaccount:ml:trainer",
                                f"{ISSUER}:aud": "sts.amazonaws.com",
                            }
                        },
                    },
                )
            },
        ),
    ),  # fmt: skip
    rc(
        "aws-iam-trust-scoped",
        "anyone",
        aws(
            ROLE, {"assumeRolePolicy": doc({"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"})}
        ),
        "assumeRolePolicy.Statement[0].Principal",
    ),
    rc(
        "aws-iam-trust-scoped",
        "IRSA wildcard subject and no audience",
        aws(
            ROLE,
            {
                "assumeRolePolicy": doc(
                    {
                        "Effect": "Allow",
                        "Principal": {"Federated": OIDC},
                        "Action": "sts:AssumeRoleWithWebIdentity",
                        "Condition": {"StringLike": {f"{ISSUER}:sub": "system:serviceaccount:*"}},
                    }
                )
            },
        ),
        "assumeRolePolicy.Statement[0].Condition",
        "assumeRolePolicy.Statement[0].Condition",
    ),
    rc(
        "aws-iam-trust-scoped",
        "web identity without conditions",
        aws(
            ROLE,
            {
                "assumeRolePolicy": doc(
                    {
                        "Effect": "Allow",
                        "Principal": {"Federated": "arn:aws:mock:::oidc"},
                        "Action": "sts:AssumeRoleWithWebIdentity",
                    }
                )
            },
        ),
        "assumeRolePolicy.Statement[0].Condition",
        "assumeRolePolicy.Statement[0].Condition",
    ),
    rc("aws-kms-rotation", "ok", aws(KMS, {"enableKeyRotation": True})),
    rc("aws-kms-rotation", "asymmetric", aws(KMS, {"customerMasterKeySpec": "RSA_2048"})),
    rc("aws-kms-rotation", "unset", aws(KMS, {}), "enableKeyRotation"),
    rc(
        "aws-kms-rotation",
        "off",
        aws(KMS, {"enableKeyRotation": False, "keySpec": "SYMMETRIC_DEFAULT"}),
        "enableKeyRotation",
    ),
    rc(
        "aws-kms-policy-safe",
        "ok",
        aws(
            KMS,
            {
                "description": "EKS secrets",
                "policy": doc(
                    {
                        "Effect": "Allow",
                        "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
                        "Action": "kms:*",
                        "Resource": "*",
                    }
                ),
            },
        ),
    ),
    rc(
        "aws-kms-policy-safe",
        "bypass and undescribed",
        aws(KMS, {"bypassPolicyLockoutSafetyCheck": True}),
        "bypassPolicyLockoutSafetyCheck",
        "description",
    ),
    rc(
        "aws-kms-policy-safe",
        "public key policy",
        aws(
            KMS,
            {
                "description": "d",
                "isEnabled": False,
                "policy": doc({"Effect": "Allow", "Principal": "*", "Action": "kms:Decrypt"}),
            },
        ),
        "isEnabled",
        "policy.Statement[0].Principal",
    ),
    rc(
        "aws-ecr-hygiene",
        "ok",
        aws(
            ECR,
            {
                "imageTagMutability": "IMMUTABLE",
                "imageScanningConfiguration": {"scanOnPush": True},
                "encryptionConfigurations": [{"encryptionType": "KMS"}],
            },
        ),
    ),
    rc(
        "aws-ecr-hygiene",
        "defaults",
        aws(ECR, {}),
        "encryptionConfigurations",
        "imageScanningConfiguration.scanOnPush",
        "imageTagMutability",
    ),
    rc(
        "aws-ecr-hygiene",
        "public policy",
        aws(
            "aws:ecr/repositoryPolicy:RepositoryPolicy",
            {"policy": doc({"Effect": "Allow", "Principal": "*", "Action": "ecr:*"})},
        ),
        "policy.Statement[0].Principal",
    ),
    rc("eks-gpu-ami", "ok", node_group()),
    rc("eks-gpu-ami", "CPU group", node_group("m6i.xlarge", amiType="AL2023_x86_64_STANDARD")),
    rc("eks-gpu-ami", "custom AMI", node_group(amiType="CUSTOM", launchTemplate={"id": "lt-1", "version": "1"})),
    rc("eks-gpu-ami", "standard AMI", node_group(amiType="AL2023_x86_64_STANDARD"), "amiType"),
    rc("eks-gpu-ami", "default AMI", node_group("p5.48xlarge", amiType=DELETE), "amiType"),
    rc("eks-gpu-ami", "GPU family outside the catalogue", node_group("g4dn.xlarge", amiType="AL2_x86_64"), "amiType"),
    rc("eks-gpu-taint", "ok", node_group()),
    rc("eks-gpu-taint", "CPU group", node_group("m6i.xlarge", taints=[], labels={})),
    rc("eks-gpu-taint", "untainted", node_group(taints=[]), "taints"),
    rc(
        "eks-gpu-taint",
        "NO_EXECUTE and no pool",
        node_group(taints=[{"key": "nvidia.com/gpu", "effect": "NO_EXECUTE"}], labels=DELETE),
        "labels",
        "taints",
    ),
    rc("eks-gpu-scaling-bounds", "ok", node_group()),
    rc(
        "eks-gpu-scaling-bounds",
        "desired above max",
        node_group(scalingConfig={"desiredSize": 5}),
        "scalingConfig.desiredSize",
    ),
    rc(
        "eks-gpu-scaling-bounds",
        "min above max",
        node_group(scalingConfig={"minSize": 3, "desiredSize": DELETE}),
        "scalingConfig.minSize",
    ),
    rc("eks-gpu-scaling-bounds", "GPU cost cap", node_group(max_size=32), "scalingConfig.maxSize"),
    rc("eks-gpu-scaling-bounds", "cap raised by config", node_group(max_size=32), maxGpuNodes=32),
]


def _workload(namespace: str = "ml", name: str = "work", container: dict[str, Any] | None = None) -> Resource:
    return build("deployment", container, GPU_POD if container else None, {"namespace": namespace, "name": name})


QUOTA = k8s("v1", "ResourceQuota", {"spec": {"hard": {"requests.cpu": "10"}}}, name="quota")
GPU_QUOTA = k8s("v1", "ResourceQuota", {"spec": {"hard": {"requests.nvidia.com/gpu": "8"}}}, name="quota")
NETPOL = k8s("networking.k8s.io/v1", "NetworkPolicy", {"spec": {"podSelector": {}}}, name="deny")
TOLERATING = {"tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]}

STACK_CASES: list[StackCase] = [
    sc("k8s-namespace-quota", "ok", [_workload(), QUOTA]),
    sc("k8s-namespace-quota", "system namespace", [_workload("kube-system")]),
    sc("k8s-namespace-quota", "no quota", [_workload(), _workload(name="other")], ("work", "metadata.namespace")),
    sc(
        "k8s-namespace-quota",
        "GPU workload, quota without GPUs",
        [_workload(container=GPU), QUOTA],
        ("quota", "spec.hard"),
    ),
    sc("k8s-namespace-quota", "GPU quota", [_workload(container=GPU), GPU_QUOTA]),
    sc(
        "k8s-namespace-quota",
        "LimitRange required",
        [_workload(), QUOTA],
        ("work", "metadata.namespace"),
        requireLimitRange=True,
    ),
    sc("k8s-network-policy", "ok", [_workload(), NETPOL]),
    sc(
        "k8s-network-policy",
        "Istio AuthorizationPolicy",
        [_workload(), k8s("security.istio.io/v1", "AuthorizationPolicy", {"spec": {}}, name="authz")],
    ),
    sc(
        "k8s-network-policy",
        "none, reported once per namespace",
        [_workload(), _workload(name="other"), _workload("serve", "api")],
        ("work", "metadata.namespace"),
        ("api", "metadata.namespace"),
    ),
    sc(
        "k8s-network-policy",
        "policy in another namespace",
        [_workload(), k8s("networking.k8s.io/v1", "NetworkPolicy", {"spec": {}}, name="deny", namespace="other")],
        ("work", "metadata.namespace"),
    ),
    sc(
        "aws-s3-encryption",
        "inline",
        [
            bucket(
                serverSideEncryptionConfiguration={
                    "rule": {"applyServerSideEncryptionByDefault": {"sseAlgorithm": "AES256"}}
                }
            )
        ],
    ),
    sc(
        "aws-s3-encryption",
        "companion by name",
        [
            bucket(),
            companion("bucketServerSideEncryptionConfiguration", "BucketServerSideEncryptionConfiguration", **SSE),
        ],
    ),
    sc(
        "aws-s3-encryption",
        "none",
        [bucket(), bucket("logs")],
        ("models", "serverSideEncryptionConfiguration"),
        ("logs", "serverSideEncryptionConfiguration"),
    ),
    sc(
        "aws-s3-encryption",
        "AES256 when KMS is required",
        [
            bucket(),
            companion(
                "bucketServerSideEncryptionConfigurationV2",
                "BucketServerSideEncryptionConfigurationV2",
                rules=[{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "AES256"}}],
            ),
        ],
        ("models", "serverSideEncryptionConfiguration"),
        requireKms=True,
    ),
    sc(
        "aws-s3-public-access-block",
        "ok",
        [bucket(), companion("bucketPublicAccessBlock", "BucketPublicAccessBlock", **PAB)],
    ),
    sc("aws-s3-public-access-block", "missing", [bucket()], ("models", "bucket")),
    sc(
        "aws-s3-public-access-block",
        "partial block and public ACL",
        [
            bucket(),
            companion("bucketPublicAccessBlock", "BucketPublicAccessBlock", **{**PAB, "blockPublicPolicy": False}),
            companion("bucketAclV2", "BucketAclV2", acl="public-read"),
        ],
        ("models-bucketPublicAccessBlock", "blockPublicPolicy"),
        ("models-bucketAclV2", "acl"),
    ),
    sc(
        "aws-s3-public-access-block",
        "public bucket policy",
        [
            bucket(acl="public-read"),
            companion("bucketPublicAccessBlock", "BucketPublicAccessBlock", **PAB),
            companion(
                "bucketPolicy",
                "BucketPolicy",
                policy=doc({"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject"}),
            ),
        ],
        ("models", "acl"),
        ("models-bucketPolicy", "policy.Statement[0].Principal"),
    ),
    sc(
        "aws-s3-versioning-logging",
        "ok",
        [
            bucket(),
            bucket("logs", versioning={"enabled": True}),
            companion("bucketVersioning", "BucketVersioning", versioningConfiguration={"status": "Enabled"}),
            companion("bucketLogging", "BucketLogging", targetBucket="logs", targetPrefix="models/"),
        ],
    ),  # fmt: skip
    sc("aws-s3-versioning-logging", "neither", [bucket()], ("models", "logging"), ("models", "versioning")),
    sc(
        "aws-s3-versioning-logging",
        "suspended, logging off by config",
        [
            bucket(),
            companion("bucketVersioningV2", "BucketVersioningV2", versioningConfiguration={"status": "Suspended"}),
        ],
        ("models", "versioning"),
        requireLogging=False,
    ),
    sc("gpu-max-per-pod", "ok", [node_group("g5.xlarge"), _workload(container=GPU)]),
    sc("gpu-max-per-pod", "no GPU node groups", [_workload(container=GPU)]),
    sc(
        "gpu-max-per-pod",
        "too many GPUs for the pool",
        [
            node_group("g5.12xlarge"),
            _workload(container={"resources": {"limits": {"nvidia.com/gpu": 8}}}),
            gpu_ray("RayJob", metadata=QUEUE),
        ],
        ("work", "spec.template.spec.containers"),
    ),
    sc(
        "gpu-max-per-pod",
        "selects no pool",
        [node_group(), build("isvc", GPU, {**GPU_POD, "nodeSelector": {"gpuplat.io/pool": "h100"}}, {"name": "llm"})],
        ("llm", "spec.predictor.nodeSelector"),
    ),
    sc("gpu-stack-addons", "GPU operator", [node_group(), GPU_OPERATOR]),
    sc("gpu-stack-addons", "no GPU nodes", [node_group("m6i.xlarge")]),
    sc(
        "gpu-stack-addons",
        "standalone charts",
        [
            node_group(),
            k8s("helm.sh/v3", "Release", {"chart": "nvdp/nvidia-device-plugin"}, name="dp"),
            k8s("helm.sh/v4", "Chart", {"chart": "oci://ghcr.io/x/dcgm-exporter", "values": {}}, name="dcgm"),
        ],
    ),
    sc("gpu-stack-addons", "nothing", [node_group()], ("gpu-nodes", "instanceTypes")),
    sc(
        "gpu-stack-addons",
        "exporter disabled",
        [
            node_group(),
            k8s(
                "helm.sh/v3",
                "Release",
                {"chart": "gpu-operator", "values": {"dcgmExporter": {"enabled": False}}},
                name="op",
            ),
        ],
        ("gpu-nodes", "instanceTypes"),
    ),
    sc(
        "kueue-refs-resolve",
        "ok",
        [
            *kueue_chain(),
            k8s("kueue.x-k8s.io/v1beta2", "WorkloadPriorityClass", {"value": 1000}, name="high", namespace=None),
            queued_job({"kueue.x-k8s.io/queue-name": "training", "kueue.x-k8s.io/priority-class": "high"}),
        ],
    ),  # fmt: skip
    sc(
        "kueue-refs-resolve",
        "missing ClusterQueue and flavor",
        [local_queue(target="nope"), cluster_queue({"resourceGroups": [quota_group("ghost")]})],
        ("training", "spec.clusterQueue"),
        ("cq", "spec.resourceGroups[0].flavors[0].name"),
    ),
    sc(
        "kueue-refs-resolve",
        "queue in another namespace, unknown priority",
        [
            *kueue_chain(),
            build("rayjob", metadata={"namespace": "serve", **QUEUE}),
            queued_job({"kueue.x-k8s.io/queue-name": "training", "kueue.x-k8s.io/priority-class": "urgent"}),
        ],
        ("work", "metadata.labels"),
        ("work", "metadata.labels"),
    ),
    sc("kueue-covers-gpu", "ok", [*kueue_chain(), queued_job()]),
    sc(
        "kueue-covers-gpu",
        "zero GPUs need no coverage",
        [
            *kueue_chain(covered=("cpu", "memory", "ephemeral-storage")),
            queued_job(container={"resources": {"limits": {"nvidia.com/gpu": 0}}}),
        ],
    ),
    sc(
        "kueue-covers-gpu",
        "GPU not covered",
        [*kueue_chain(covered=("cpu", "memory", "ephemeral-storage")), queued_job()],
        ("work", "metadata.labels"),
    ),
    sc(
        "kueue-covers-gpu",
        "ephemeral-storage not covered",
        [*kueue_chain(covered=("cpu", "memory", "nvidia.com/gpu")), queued_job()],
        ("work", "metadata.labels"),
    ),
    sc(
        "kueue-covers-gpu",
        "ephemeral-storage excluded",
        [*kueue_chain(covered=("cpu", "memory", "nvidia.com/gpu")), queued_job()],
        excludedResourcePrefixes=["ephemeral-storage"],
    ),
    sc("kueue-quota-within-capacity", "ok", [node_group(max_size=2), *kueue_chain(gpus=8)]),
    sc(
        "kueue-quota-within-capacity",
        "GPU quota above node groups",
        [node_group(max_size=2), *kueue_chain(gpus="9")],
        ("cq", "spec.resourceGroups[0].flavors[0].resources[2].nominalQuota"),
    ),
    sc(
        "kueue-quota-within-capacity",
        "annotated capacity, two queues",
        [
            flavor(
                annotations={
                    "gpuplat.io/pool-capacity": json.dumps({"cpu": "94", "memory": "760Gi", "nvidia.com/gpu": "16"})
                }
            ),
            cluster_queue({"resourceGroups": [quota_group(gpus=10)]}),
            cluster_queue({"resourceGroups": [quota_group(gpus=10, covered=("nvidia.com/gpu",))]}, name="cq2"),
        ],
        ("cq", "spec.resourceGroups[0].flavors[0].resources[2].nominalQuota"),
    ),  # fmt: skip
    sc("kueue-quota-within-capacity", "capacity unknown", [*kueue_chain(gpus=1000)]),
    sc("kueue-flavor-matches-pool", "ok", [node_group(), flavor()]),
    sc(
        "kueue-flavor-matches-pool",
        "tolerated instead of declared",
        [
            node_group(),
            flavor(
                nodeTaints=[],
                tolerations=[{"key": "nvidia.com/gpu", "operator": "Equal", "value": "true", "effect": "NoSchedule"}],
            ),
        ],
    ),
    sc(
        "kueue-flavor-matches-pool",
        "pool not declared as a node group",
        [node_group("g5.xlarge", labels={"gpuplat.io/pool": "other"}), flavor(nodeLabels={"x": "y"})],
    ),
    sc(
        "kueue-flavor-matches-pool",
        "label mismatch",
        [node_group(), flavor(nodeLabels={"nvidia.com/gpu.product": "NVIDIA-H100"})],
        ("gpu", "spec.nodeLabels"),
    ),
    sc(
        "kueue-flavor-matches-pool",
        "taints disagree",
        [node_group(), flavor(nodeTaints=[{"key": "dedicated", "value": "ml", "effect": "NoSchedule"}])],
        ("gpu", "spec.nodeTaints[0]"),
        ("gpu", "spec.nodeTaints"),
    ),
]
