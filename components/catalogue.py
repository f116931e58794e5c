"""Instance catalogue: what one node of each EC2 instance type offers, and what is left for pods.

The program needs per-node capacity for two things: refusing a workload that cannot fit on one node of
its pool (an error before deploy instead of a Pending pod after), and deriving Kueue quotas from the
real pools. Figures are AWS's published specifications. Types missing here must declare `capacity:`
in the spec. This module is plain Python (no pydantic) so the policy pack can import it too.
"""

from __future__ import annotations

from dataclasses import dataclass

GIB = 1024**3
MIB = 1024**2


@dataclass(frozen=True)
class InstanceType:
    """Published capacity of one node. `gpu_product` is the `nvidia.com/gpu.product` GFD label value."""

    vcpu: int
    memory_gib: float
    gpus: int = 0
    gpu_model: str = ""
    gpu_memory_gib: int = 0
    gpu_product: str = ""
    arch: str = "x86_64"
    mig_capable: bool = False
    max_pods: int = 110

    @property
    def is_gpu(self) -> bool:
        return self.gpus > 0


@dataclass(frozen=True)
class Allocatable:
    """What the scheduler can place on one node after the system reserve (cpu in millicores, memory in bytes)."""

    cpu_millis: int
    memory_bytes: int
    gpus: int


def _family(
    prefix: str,
    sizes: dict[str, tuple[int, float, int]],
    *,
    gpu_model: str = "",
    gpu_memory_gib: int = 0,
    gpu_product: str = "",
    arch: str = "x86_64",
    mig_capable: bool = False,
) -> dict[str, InstanceType]:
    return {
        f"{prefix}.{size}": InstanceType(
            vcpu=vcpu,
            memory_gib=memory,
            gpus=gpus,
            gpu_model=gpu_model if gpus else "",
            gpu_memory_gib=gpu_memory_gib if gpus else 0,
            gpu_product=gpu_product if gpus else "",
            arch=arch,
            mig_capable=mig_capable,
        )
        for size, (vcpu, memory, gpus) in sizes.items()
    }


_G5_G6_SIZES = {
    "xlarge": (4, 16, 1),
    "2xlarge": (8, 32, 1),
    "4xlarge": (16, 64, 1),
    "8xlarge": (32, 128, 1),
    "12xlarge": (48, 192, 4),
    "16xlarge": (64, 256, 1),
    "24xlarge": (96, 384, 4),
    "48xlarge": (192, 768, 8),
}
_G6E_SIZES = {
    "xlarge": (4, 32, 1),
    "2xlarge": (8, 64, 1),
    "4xlarge": (16, 128, 1),
    "8xlarge": (32, 256, 1),
    "12xlarge": (48, 384, 4),
    "16xlarge": (64, 512, 1),
    "24xlarge": (96, 768, 4),
    "48xlarge": (192, 1536, 8),
}
_G5G_SIZES = {
    "xlarge": (4, 8, 1),
    "2xlarge": (8, 16, 1),
    "4xlarge": (16, 32, 1),
    "8xlarge": (32, 64, 1),
    "16xlarge": (64, 128, 2),
    "metal": (64, 128, 2),
}
_GENERAL_SIZES = {
    "large": (2, 8, 0),
    "xlarge": (4, 16, 0),
    "2xlarge": (8, 32, 0),
    "4xlarge": (16, 64, 0),
    "8xlarge": (32, 128, 0),
}
_COMPUTE_SIZES = {k: (v, m / 2, 0) for k, (v, m, _) in _GENERAL_SIZES.items()}
_MEMORY_SIZES = {k: (v, m * 2, 0) for k, (v, m, _) in _GENERAL_SIZES.items()}

INSTANCE_TYPES: dict[str, InstanceType] = {
    **_family("g5", _G5_G6_SIZES, gpu_model="A10G", gpu_memory_gib=24, gpu_product="NVIDIA-A10G"),
    **_family("g6", _G5_G6_SIZES, gpu_model="L4", gpu_memory_gib=24, gpu_product="NVIDIA-L4"),
    **_family("g6e", _G6E_SIZES, gpu_model="L40S", gpu_memory_gib=48, gpu_product="NVIDIA-L40S"),
    **_family(
        "g5g", _G5G_SIZES, gpu_model="T4G", gpu_memory_gib=16, gpu_product="NVIDIA-T4G", arch="arm64"
    ),
    "p4d.24xlarge": InstanceType(
        vcpu=96, memory_gib=1152, gpus=8, gpu_model="A100", gpu_memory_gib=40,
        gpu_product="NVIDIA-A100-SXM4-40GB", mig_capable=True, max_pods=250,
    ),
    "p4de.24xlarge": InstanceType(
        vcpu=96, memory_gib=1152, gpus=8, gpu_model="A100", gpu_memory_gib=80,
        gpu_product="NVIDIA-A100-SXM4-80GB", mig_capable=True, max_pods=250,
    ),
    "p5.48xlarge": InstanceType(
        vcpu=192, memory_gib=2048, gpus=8, gpu_model="H100", gpu_memory_gib=80,
        gpu_product="NVIDIA-H100-80GB-HBM3", mig_capable=True, max_pods=250,
    ),
    "p5e.48xlarge": InstanceType(
        vcpu=192, memory_gib=2048, gpus=8, gpu_model="H200", gpu_memory_gib=141,
        gpu_product="NVIDIA-H200", mig_capable=True, max_pods=250,
    ),
    "p5en.48xlarge": InstanceType(
        vcpu=192, memory_gib=2048, gpus=8, gpu_model="H200", gpu_memory_gib=141,
        gpu_product="NVIDIA-H200", mig_capable=True, max_pods=250,
    ),
    **_family("m5", _GENERAL_SIZES),
    **_family("m6i", _GENERAL_SIZES),
    **_family("m7i", _GENERAL_SIZES),
    **_family("c6i", _COMPUTE_SIZES),
    **_family("r6i", _MEMORY_SIZES),
    **_family("m7g", _GENERAL_SIZES, arch="arm64"),
}

# Per-node pod overhead of the platform's own DaemonSets (device plugin, DCGM exporter, node exporter,
# kube-proxy, VPC CNI): a fixed budget so that the fit check stays conservative.
DAEMONSET_RESERVE_CPU_MILLIS = 400
DAEMONSET_RESERVE_MEMORY_BYTES = 1 * GIB
EVICTION_HARD_MEMORY_BYTES = 100 * MIB


def kube_reserved_cpu_millis(vcpu: int) -> int:
    """EKS AMI kube-reserved CPU: 6% of the first core, 1% of the second, 0.5% of the next two, 0.25% above."""
    cores = [60, 10, 5, 5]
    reserved = sum(cores[: min(vcpu, 4)])
    if vcpu > 4:
        reserved += (vcpu - 4) * 2.5
    return int(reserved + 0.999)


def kube_reserved_memory_bytes(max_pods: int) -> int:
    """EKS AMI kube-reserved memory: 255 MiB + 11 MiB per pod the node may run."""
    return (255 + 11 * max_pods) * MIB


def allocatable(instance: InstanceType) -> Allocatable:
    """Per-node allocatable: capacity minus kube-reserved, eviction threshold and the DaemonSet budget."""
    cpu = instance.vcpu * 1000 - kube_reserved_cpu_millis(instance.vcpu) - DAEMONSET_RESERVE_CPU_MILLIS
    memory = (
        int(instance.memory_gib * GIB)
        - kube_reserved_memory_bytes(instance.max_pods)
        - EVICTION_HARD_MEMORY_BYTES
        - DAEMONSET_RESERVE_MEMORY_BYTES
    )
    return Allocatable(cpu_millis=max(cpu, 0), memory_bytes=max(memory, 0), gpus=instance.gpus)


def lookup(instance_type: str) -> InstanceType | None:
    return INSTANCE_TYPES.get(instance_type)
