"""Case tables for the pod-template rules: each case patches the good container (`container`) or pod
(`pod`), lists the exact paths it must produce (`{c}` = target container, `{p}` = target pod) and runs
on every workload shape (Deployment, RayCluster worker group, RayJob, RayService head, InferenceService
predictor) unless `shapes` says otherwise. `expect == []` marks a compliant case.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from policy_fixtures import DELETE, GOOD_IMAGE, GPU, GPU_POD, WORKLOAD_SHAPES, merge


@dataclass(frozen=True)
class PodCase:
    rule: str
    name: str
    expect: tuple[str, ...]
    container: dict[str, Any] = field(default_factory=dict)
    pod: dict[str, Any] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)
    shapes: tuple[str, ...] = WORKLOAD_SHAPES


def case(rule: str, name: str, *expect: str, **fields: Any) -> PodCase:
    return PodCase(rule, name, expect, **fields)


GPU2 = {"resources": {"requests": {"nvidia.com/gpu": 2}, "limits": {"nvidia.com/gpu": 2}}}
SHM_POD = merge(GPU_POD, {"volumes": [{"name": "shm", "emptyDir": {"medium": "Memory", "sizeLimit": "8Gi"}}]})
SHM_MOUNT = merge(GPU2, {"volumeMounts": [{"name": "shm", "mountPath": "/dev/shm"}]})
INIT = {"initContainers": [{"name": "init", "image": GOOD_IMAGE}]}
GPU_TOLERATION = {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}
SERVING = ("deployment", "statefulset", "isvc")

POD_CASES: list[PodCase] = [
    # --- A. resources -------------------------------------------------------------------------------------
    case("k8s-container-requests", "ok"),
    case(
        "k8s-container-requests", "no requests", "{c}.resources.requests", container={"resources": {"requests": DELETE}}
    ),
    case(
        "k8s-container-requests",
        "no memory",
        "{c}.resources.requests",
        container={"resources": {"requests": {"memory": DELETE}}},
    ),
    case("k8s-container-requests", "init container", "{p}.initContainers[0].resources.requests", pod=INIT),
    case("k8s-container-memory-limit", "ok"),
    case(
        "k8s-container-memory-limit",
        "no memory limit",
        "{c}.resources.limits",
        container={"resources": {"limits": {"memory": DELETE}}},
    ),
    case("k8s-container-memory-limit", "no resources", "{c}.resources.limits", container={"resources": DELETE}),
    case("k8s-container-cpu-limit", "ok"),
    case(
        "k8s-container-cpu-limit",
        "no cpu limit",
        "{c}.resources.limits",
        container={"resources": {"limits": {"cpu": DELETE}}},
    ),
    case("k8s-container-cpu-limit", "no resources", "{c}.resources.limits", container={"resources": DELETE}),
    case("k8s-limit-request-ratio", "ok"),
    case(
        "k8s-limit-request-ratio",
        "cpu ratio 16",
        "{c}.resources.limits",
        container={"resources": {"limits": {"cpu": 16}}},
    ),
    case(
        "k8s-limit-request-ratio",
        "memory above request",
        "{c}.resources.limits",
        container={"resources": {"limits": {"memory": "4Gi"}}},
    ),
    case(
        "k8s-limit-request-ratio",
        "limit below request",
        "{c}.resources.limits",
        container={"resources": {"limits": {"memory": "1Gi"}}},
    ),
    case(
        "k8s-limit-request-ratio",
        "config allows 2x memory",
        container={"resources": {"limits": {"memory": "4Gi"}}},
        params={"maxMemoryRatio": 2},
    ),
    case(
        "k8s-limit-request-ratio",
        "millicores",
        container={"resources": {"requests": {"cpu": "500m"}, "limits": {"cpu": "1500m"}}},
    ),
    case("k8s-resource-max", "ok"),
    case(
        "k8s-resource-max",
        "cpu above ceiling",
        "{c}.resources.limits",
        container={"resources": {"limits": {"cpu": "64"}}},
    ),
    case(
        "k8s-resource-max",
        "memory above ceiling",
        "{c}.resources.limits",
        container={"resources": {"limits": {"memory": "512Gi"}}},
    ),
    case(
        "k8s-resource-max",
        "16 GPUs per pod",
        "{p}.containers",
        container={"resources": {"requests": {"nvidia.com/gpu": "16"}, "limits": {"nvidia.com/gpu": 16.0}}},
    ),
    case(
        "k8s-resource-max",
        "config raises the GPU ceiling",
        container={"resources": {"limits": {"nvidia.com/gpu": 16}}},
        params={"maxGpuPerPod": 16},
    ),
    case(
        "k8s-resource-max",
        "request checked without limit",
        "{c}.resources.requests",
        container={"resources": {"limits": DELETE, "requests": {"memory": "300Gi"}}},
    ),
    case("k8s-ephemeral-storage", "ok", pod={"volumes": [{"name": "cache", "emptyDir": {"sizeLimit": "10Gi"}}]}),
    case(
        "k8s-ephemeral-storage",
        "no request",
        "{c}.resources.requests",
        container={"resources": {"requests": {"ephemeral-storage": DELETE}}},
    ),
    case(
        "k8s-ephemeral-storage",
        "neither",
        "{c}.resources.requests",
        "{c}.resources.limits",
        container={"resources": {"requests": {"ephemeral-storage": DELETE}, "limits": {"ephemeral-storage": DELETE}}},
    ),
    case(
        "k8s-ephemeral-storage",
        "emptyDir without sizeLimit",
        "{p}.volumes[0].emptyDir",
        pod={"volumes": [{"name": "cache", "emptyDir": {}}]},
    ),
    # --- B. images ----------------------------------------------------------------------------------------
    case("k8s-image-tag-pinned", "digest"),
    case("k8s-image-tag-pinned", "tag", container={"image": "nvcr.io/nvidia/pytorch:24.10-py3"}),
    case("k8s-image-tag-pinned", "no tag", "{c}.image", container={"image": "nvcr.io/nvidia/pytorch"}),
    case("k8s-image-tag-pinned", "latest", "{c}.image", container={"image": "nvcr.io/nvidia/pytorch:latest"}),
    case(
        "k8s-image-tag-pinned",
        "registry port is not a tag",
        "{c}.image",
        container={"image": "registry.local:5000/app"},
    ),
    case("k8s-image-digest", "digest"),
    case("k8s-image-digest", "tag only", "{c}.image", container={"image": "nvcr.io/nvidia/pytorch:24.10-py3"}),
    case("k8s-image-digest", "untagged", "{c}.image", container={"image": "nginx"}),
    case("k8s-image-registry-allowlist", "ECR"),
    case("k8s-image-registry-allowlist", "Docker Hub library", "{c}.image", container={"image": "nginx:1.27"}),
    case(
        "k8s-image-registry-allowlist", "unknown registry", "{c}.image", container={"image": "evil.example.com/miner:1"}
    ),
    case(
        "k8s-image-registry-allowlist",
        "config allows library images",
        container={"image": "nginx:1.27"},
        params={"allowedRegistries": ["docker.io/library/", "*.dkr.ecr.*.amazonaws.com/"]},
    ),
    case("k8s-image-registry-allowlist", "rayproject short name", container={"image": "rayproject/ray:2.40.0-gpu"}),
    case("k8s-image-pull-policy", "digest and IfNotPresent"),
    case(
        "k8s-image-pull-policy",
        "mutable tag",
        "{c}.imagePullPolicy",
        container={"image": "nvcr.io/nvidia/pytorch:24.10-py3"},
    ),
    case(
        "k8s-image-pull-policy",
        "mutable tag with Always",
        container={"image": "nvcr.io/nvidia/pytorch:24.10-py3", "imagePullPolicy": "Always"},
    ),
    case(
        "k8s-image-pull-policy",
        "GPU with Always",
        "{c}.imagePullPolicy",
        container={**GPU, "imagePullPolicy": "Always"},
        pod=GPU_POD,
    ),
    # --- D. pod security ----------------------------------------------------------------------------------
    case("k8s-no-privileged", "ok"),
    case(
        "k8s-no-privileged",
        "privileged",
        "{c}.securityContext.privileged",
        container={"securityContext": {"privileged": True}},
    ),
    case(
        "k8s-no-privileged",
        "privileged init",
        "{p}.initContainers[0].securityContext.privileged",
        pod={"initContainers": [{"name": "i", "securityContext": {"privileged": True}}]},
    ),
    case("k8s-no-host-namespaces", "ok", pod={"hostNetwork": False}),
    case("k8s-no-host-namespaces", "hostNetwork", "{p}.hostNetwork", pod={"hostNetwork": True}),
    case(
        "k8s-no-host-namespaces",
        "hostPID and hostIPC",
        "{p}.hostPID",
        "{p}.hostIPC",
        pod={"hostPID": True, "hostIPC": True},
    ),
    case(
        "k8s-no-host-ports",
        "ok",
        container={"ports": [{"containerPort": 8000}, {"containerPort": 9000, "hostPort": 0}]},
    ),
    case(
        "k8s-no-host-ports",
        "hostPort",
        "{c}.ports[0].hostPort",
        container={"ports": [{"containerPort": 80, "hostPort": 80}]},
    ),
    case(
        "k8s-no-host-ports",
        "second port",
        "{c}.ports[1].hostPort",
        container={"ports": [{"containerPort": 80}, {"containerPort": 81, "hostPort": 8081}]},
    ),
    case("k8s-no-hostpath", "ok", pod={"volumes": [{"name": "c", "configMap": {"name": "c"}}]}),
    case(
        "k8s-no-hostpath",
        "host path",
        "{p}.volumes[0].hostPath",
        pod={"volumes": [{"name": "data", "hostPath": {"path": "/data"}}]},
    ),
    case(
        "k8s-no-hostpath",
        "CRI socket",
        "{p}.volumes[1].hostPath",
        pod={
            "volumes": [
                {"name": "c", "emptyDir": {}},
                {"name": "sock", "hostPath": {"path": "/run/containerd/containerd.sock"}},
            ]
        },
    ),
    case("k8s-capabilities", "ok"),
    case(
        "k8s-capabilities",
        "SYS_ADMIN",
        "{c}.securityContext.capabilities.add",
        container={"securityContext": {"capabilities": {"add": ["SYS_ADMIN"]}}},
    ),
    case(
        "k8s-capabilities",
        "no drop ALL",
        "{c}.securityContext.capabilities.drop",
        container={"securityContext": {"capabilities": {"drop": ["NET_RAW"]}}},
    ),
    case(
        "k8s-capabilities",
        "baseline allows CHOWN",
        container={"securityContext": {"capabilities": {"add": ["CHOWN"], "drop": DELETE}}},
        params={"profile": "baseline"},
    ),
    case(
        "k8s-capabilities",
        "baseline refuses CAP_NET_ADMIN",
        "{c}.securityContext.capabilities.add",
        container={"securityContext": {"capabilities": {"add": ["CAP_NET_ADMIN"]}}},
        params={"profile": "baseline"},
    ),
    case("k8s-no-privilege-escalation", "ok"),
    case(
        "k8s-no-privilege-escalation",
        "allowed",
        "{c}.securityContext.allowPrivilegeEscalation",
        container={"securityContext": {"allowPrivilegeEscalation": True}},
    ),
    case(
        "k8s-no-privilege-escalation",
        "unset",
        "{c}.securityContext.allowPrivilegeEscalation",
        container={"securityContext": {"allowPrivilegeEscalation": DELETE}},
    ),
    case("k8s-run-as-non-root", "ok"),
    case("k8s-run-as-non-root", "pod level only", container={"securityContext": {"runAsNonRoot": DELETE}}),
    case(
        "k8s-run-as-non-root", "UID 0", "{c}.securityContext.runAsUser", container={"securityContext": {"runAsUser": 0}}
    ),
    case(
        "k8s-run-as-non-root",
        "nowhere",
        "{c}.securityContext.runAsNonRoot",
        container={"securityContext": {"runAsNonRoot": DELETE}},
        pod={"securityContext": {"runAsNonRoot": DELETE}},
    ),
    case(
        "k8s-run-as-non-root", "pod UID 0", "{p}.securityContext.runAsUser", pod={"securityContext": {"runAsUser": 0}}
    ),
    case("k8s-seccomp", "ok"),
    case(
        "k8s-seccomp",
        "unset",
        "{c}.securityContext.seccompProfile",
        container={"securityContext": {"seccompProfile": DELETE}},
        pod={"securityContext": {"seccompProfile": DELETE}},
    ),
    case(
        "k8s-seccomp",
        "container unconfined",
        "{c}.securityContext.seccompProfile",
        container={"securityContext": {"seccompProfile": {"type": "Unconfined"}}},
    ),
    case(
        "k8s-seccomp",
        "pod unconfined",
        "{p}.securityContext.seccompProfile",
        container={"securityContext": {"seccompProfile": DELETE}},
        pod={"securityContext": {"seccompProfile": {"type": "Unconfined"}}},
    ),
    case(
        "k8s-pss-misc", "ok", pod={"securityContext": {"sysctls": [{"name": "net.ipv4.tcp_syncookies", "value": "1"}]}}
    ),
    case(
        "k8s-pss-misc",
        "procMount",
        "{c}.securityContext.procMount",
        container={"securityContext": {"procMount": "Unmasked"}},
    ),
    case(
        "k8s-pss-misc",
        "unsafe sysctl",
        "{p}.securityContext.sysctls[0].name",
        pod={"securityContext": {"sysctls": [{"name": "kernel.msgmax", "value": "1"}]}},
    ),
    case(
        "k8s-pss-misc",
        "SELinux user",
        "{c}.securityContext.seLinuxOptions.user",
        container={"securityContext": {"seLinuxOptions": {"user": "system_u"}}},
    ),
    case(
        "k8s-pss-misc",
        "AppArmor unconfined",
        "{p}.securityContext.appArmorProfile.type",
        pod={"securityContext": {"appArmorProfile": {"type": "Unconfined"}}},
    ),
    case("k8s-readonly-rootfs", "ok"),
    case(
        "k8s-readonly-rootfs",
        "writable",
        "{c}.securityContext.readOnlyRootFilesystem",
        container={"securityContext": {"readOnlyRootFilesystem": False}},
    ),
    case(
        "k8s-readonly-rootfs",
        "unset",
        "{c}.securityContext.readOnlyRootFilesystem",
        container={"securityContext": DELETE},
    ),
    case(
        "k8s-volume-types",
        "ok",
        pod={"volumes": [{"name": "a", "emptyDir": {}}, {"name": "b", "persistentVolumeClaim": {"claimName": "b"}}]},
    ),
    case(
        "k8s-volume-types",
        "hostPath",
        "{p}.volumes[0].hostPath",
        pod={"volumes": [{"name": "a", "hostPath": {"path": "/"}}]},
    ),
    case(
        "k8s-volume-types",
        "nfs",
        "{p}.volumes[1].nfs",
        pod={
            "volumes": [
                {"name": "a", "secret": {"secretName": "a"}},
                {"name": "b", "nfs": {"server": "x", "path": "/"}},
            ]
        },
    ),
    # --- E. identity and secrets ------------------------------------------------------------------------
    case("k8s-sa-token-automount", "ok"),
    case(
        "k8s-sa-token-automount",
        "unset",
        "{p}.automountServiceAccountToken",
        pod={"automountServiceAccountToken": DELETE},
    ),
    case(
        "k8s-sa-token-automount", "true", "{p}.automountServiceAccountToken", pod={"automountServiceAccountToken": True}
    ),
    case("k8s-no-default-sa", "ok"),
    case("k8s-no-default-sa", "unset", "{p}.serviceAccountName", pod={"serviceAccountName": DELETE}),
    case("k8s-no-default-sa", "default", "{p}.serviceAccountName", pod={"serviceAccountName": "default"}),
    case(
        "k8s-secrets-not-in-env",
        "ok",
        container={
            "env": [
                {"name": "TOKENIZERS_PARALLELISM", "value": "false"},
                {"name": "HF_TOKEN", "valueFrom": {"secretKeyRef": {"name": "hf", "key": "token"}}},
            ]
        },
    ),
    case(
        "k8s-secrets-not-in-env",
        "HF_TOKEN literal",
        "{c}.env[0].value",
        container={"env": [{"name": "HF_TOKEN", "value": "hf_x"}]},
    ),
    case(
        "k8s-secrets-not-in-env",
        "AWS key under any name",
        "{c}.env[1].value",
        container={"env": [{"name": "A", "value": "1"}, {"name": "CONFIG", "value": "AKIAABCDEFGHIJKLMNOP"}]},
    ),
    case(
        "k8s-secrets-not-in-env",
        "secretKeyRef refused by config",
        "{c}.env[0].valueFrom.secretKeyRef",
        "{c}.envFrom[0].secretRef",
        container={
            "env": [{"name": "WANDB_API_KEY", "valueFrom": {"secretKeyRef": {"name": "w", "key": "k"}}}],
            "envFrom": [{"secretRef": {"name": "all"}}],
        },
        params={"allowSecretKeyRef": False},
    ),
    # --- H. GPU -----------------------------------------------------------------------------------------------
    case("gpu-limit-equals-request", "ok", container=GPU, pod=GPU_POD),
    case(
        "gpu-limit-equals-request",
        "int, float and string agree",
        container={"resources": {"requests": {"nvidia.com/gpu": "2"}, "limits": {"nvidia.com/gpu": 2.0}}},
        pod=GPU_POD,
    ),
    case(
        "gpu-limit-equals-request",
        "request without limit",
        "{c}.resources.limits",
        container={"resources": {"requests": {"nvidia.com/gpu": 1}}},
    ),
    case(
        "gpu-limit-equals-request",
        "fraction",
        "{c}.resources.limits",
        container={"resources": {"limits": {"nvidia.com/gpu": "0.5"}}},
    ),
    case(
        "gpu-limit-equals-request",
        "request differs",
        "{c}.resources.requests",
        container={"resources": {"requests": {"nvidia.com/gpu": 2}, "limits": {"nvidia.com/gpu": 1}}},
    ),
    case(
        "gpu-limit-equals-request",
        "MIG slice too",
        "{c}.resources.limits",
        container={"resources": {"requests": {"nvidia.com/mig-1g.10gb": "1"}}},
    ),
    case("gpu-single-device-type", "ok", container=GPU),
    case(
        "gpu-single-device-type",
        "GPU and MIG",
        "{c}.resources.limits",
        container={"resources": {"limits": {"nvidia.com/gpu": 1, "nvidia.com/mig-1g.10gb": 1}}},
    ),
    case(
        "gpu-single-device-type",
        "two MIG profiles",
        "{c}.resources.limits",
        container={"resources": {"limits": {"nvidia.com/mig-1g.10gb": 1, "nvidia.com/mig-3g.40gb": 1}}},
    ),
    case(
        "gpu-single-device-type",
        "MIG profile not offered",
        "{c}.resources.limits",
        container={"resources": {"limits": {"nvidia.com/mig-3g.40gb": 1}}},
        params={"allowedMigProfiles": ["mig-1g.10gb"]},
    ),
    case("gpu-toleration", "ok", container=GPU, pod=GPU_POD),
    case("gpu-toleration", "Exists without key", container=GPU, pod={"tolerations": [{"operator": "Exists"}]}),
    case("gpu-toleration", "none", "{p}.tolerations", container=GPU),
    case(
        "gpu-toleration",
        "wrong effect",
        "{p}.tolerations",
        container=GPU,
        pod={"tolerations": [{**GPU_TOLERATION, "effect": "NoExecute"}]},
    ),
    case("gpu-node-selection", "ok", container=GPU, pod=GPU_POD),
    case(
        "gpu-node-selection",
        "required affinity",
        container=GPU,
        pod={
            "affinity": {
                "nodeAffinity": {
                    "requiredDuringSchedulingIgnoredDuringExecution": {
                        "nodeSelectorTerms": [
                            {
                                "matchExpressions": [
                                    {"key": "nvidia.com/gpu.product", "operator": "In", "values": ["NVIDIA-L4"]}
                                ]
                            }
                        ]
                    }
                }
            }
        },
    ),
    case(
        "gpu-node-selection", "Kueue-managed", container=GPU, metadata={"labels": {"kueue.x-k8s.io/queue-name": "gpu"}}
    ),
    case("gpu-node-selection", "no selector", "{p}.nodeSelector", container=GPU),
    case(
        "gpu-node-selection",
        "unrelated selector",
        "{p}.nodeSelector",
        container=GPU,
        pod={"nodeSelector": {"kubernetes.io/os": "linux"}},
    ),
    case("gpu-no-stray-tolerations", "ok"),
    case("gpu-no-stray-tolerations", "GPU pod may tolerate", container=GPU, pod=GPU_POD),
    case(
        "gpu-no-stray-tolerations",
        "void devices",
        container={"env": [{"name": "NVIDIA_VISIBLE_DEVICES", "value": "void"}]},
        pod={"tolerations": [GPU_TOLERATION]},
    ),
    case("gpu-no-stray-tolerations", "GPU taint", "{p}.tolerations[0]", pod={"tolerations": [GPU_TOLERATION]}),
    case(
        "gpu-no-stray-tolerations",
        "tolerates everything",
        "{p}.tolerations[1]",
        pod={"tolerations": [{"key": "dedicated", "operator": "Exists"}, {"operator": "Exists"}]},
    ),
    case("gpu-shm", "ok", container=SHM_MOUNT, pod=SHM_POD),
    case("gpu-shm", "single GPU needs none", container=GPU, pod=GPU_POD),
    case("gpu-shm", "no /dev/shm", "{c}.volumeMounts", container=GPU2, pod=GPU_POD),
    case(
        "gpu-shm",
        "disk-backed",
        "{p}.volumes[0].emptyDir",
        container=SHM_MOUNT,
        pod=merge(GPU_POD, {"volumes": [{"name": "shm", "emptyDir": {}}]}),
    ),
    case("gpu-memory-guaranteed", "ok", container=GPU, pod=GPU_POD),
    case(
        "gpu-memory-guaranteed",
        "burstable memory",
        "{c}.resources.requests",
        container=merge(GPU, {"resources": {"limits": {"memory": "4Gi"}}}),
    ),
    case(
        "gpu-memory-guaranteed",
        "no cpu request",
        "{c}.resources.requests",
        container={"resources": {"requests": {"nvidia.com/gpu": 1, "cpu": DELETE}, "limits": {"nvidia.com/gpu": 1}}},
    ),
    case("gpu-priority-class", "ok", container=GPU, pod=GPU_POD),
    case(
        "gpu-priority-class",
        "Kueue priority label",
        container=GPU,
        metadata={"labels": {"kueue.x-k8s.io/priority-class": "high"}},
    ),
    case("gpu-priority-class", "unset", "{p}.priorityClassName", container=GPU),
    case(
        "gpu-priority-class",
        "not allowed",
        "{p}.priorityClassName",
        container=GPU,
        pod=GPU_POD,
        params={"allowedPriorityClasses": ["serving"]},
    ),
    case("gpu-no-privileged-device-access", "ok", container=GPU, pod=GPU_POD),
    case(
        "gpu-no-privileged-device-access",
        "privileged GPU",
        "{c}.securityContext.privileged",
        container=merge(GPU, {"securityContext": {"privileged": True}}),
    ),
    case(
        "gpu-no-privileged-device-access",
        "device host path",
        "{p}.volumes[0].hostPath",
        pod={"volumes": [{"name": "dev", "hostPath": {"path": "/dev/nvidia0"}}]},
    ),
    case(
        "gpu-no-privileged-device-access",
        "visible devices without limit",
        "{c}.env[0].value",
        container={"env": [{"name": "NVIDIA_VISIBLE_DEVICES", "value": "all"}]},
    ),
    case(
        "gpu-serving-startup-probe",
        "ok",
        container=merge(GPU, {"livenessProbe": {"httpGet": {"path": "/"}}, "startupProbe": {"httpGet": {"path": "/"}}}),
        shapes=SERVING,
    ),
    case(
        "gpu-serving-startup-probe",
        "long initial delay",
        container=merge(GPU, {"livenessProbe": {"initialDelaySeconds": 600}}),
        shapes=SERVING,
    ),
    case(
        "gpu-serving-startup-probe",
        "no startupProbe",
        "{c}.livenessProbe",
        container=merge(GPU, {"livenessProbe": {"httpGet": {"path": "/"}}}),
        shapes=SERVING,
    ),
    case(
        "gpu-serving-startup-probe",
        "short delay",
        "{c}.livenessProbe",
        container=merge(GPU, {"livenessProbe": {"initialDelaySeconds": 30}}),
        shapes=SERVING,
    ),
]
