"""Section D: Pod Security Standards (baseline and restricted), on every pod template including CRD-nested ones.

Node agents that really need host access (DCGM exporter, device plugin) are exempted in config, never by
weakening a rule.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from policies.k8s import mapping, mappings, number, text, texts
from policies.model import Param, Params, Resource, Rule, Violation
from policies.walker import POD_KINDS, Container, PodSpec

# PSS baseline: capabilities a container may add (kubernetes.io/docs/concepts/security/pod-security-standards).
BASELINE_CAPABILITIES = frozenset({
    "AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD", "NET_BIND_SERVICE",
    "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT",
})  # fmt: skip
SAFE_SYSCTLS = frozenset({
    "kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.tcp_syncookies", "net.ipv4.ping_group_range", "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout", "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
})  # fmt: skip
SELINUX_TYPES = frozenset({"", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"})
RESTRICTED_VOLUMES = frozenset({
    "name", "configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim", "projected", "secret",
})  # fmt: skip
CRI_SOCKETS = ("docker.sock", "containerd.sock", "crio.sock", "cri-dockerd.sock")


def _containers(resource: Resource) -> Iterator[tuple[PodSpec, Container, Mapping[str, Any]]]:
    for pod in resource.pods:
        for container in pod.containers:
            yield pod, container, mapping(container.spec.get("securityContext"))


def _pod_context(pod: PodSpec) -> Mapping[str, Any]:
    return mapping(pod.spec.get("securityContext"))


def no_privileged(resource: Resource, params: Params) -> Iterator[Violation]:
    for _, container, context in _containers(resource):
        if context.get("privileged") is True:
            yield Violation(f"{container.path}.securityContext.privileged", "privileged container")


def no_host_namespaces(resource: Resource, params: Params) -> Iterator[Violation]:
    for pod in resource.pods:
        for field in ("hostNetwork", "hostPID", "hostIPC"):
            if pod.spec.get(field) is True:
                yield Violation(f"{pod.path}.{field}", f"{field} shares the node's namespace")


def no_host_ports(resource: Resource, params: Params) -> Iterator[Violation]:
    for _, container, _ in _containers(resource):
        for index, port in mappings(container.spec.get("ports")):
            if number(port.get("hostPort")):
                yield Violation(
                    f"{container.path}.ports[{index}].hostPort", f"hostPort {port.get('hostPort')!r} binds a node port"
                )


def no_hostpath(resource: Resource, params: Params) -> Iterator[Violation]:
    for pod in resource.pods:
        for index, volume in mappings(pod.spec.get("volumes")):
            if "hostPath" in volume:
                path = text(mapping(volume.get("hostPath")).get("path")) or ""
                what = "the container runtime socket" if path.endswith(CRI_SOCKETS) else f"host path {path!r}"
                yield Violation(f"{pod.path}.volumes[{index}].hostPath", f"volume {volume.get('name')!r} mounts {what}")


def _capability(name: str) -> str:
    return name.upper().removeprefix("CAP_")


def capabilities(resource: Resource, params: Params) -> Iterator[Violation]:
    restricted = params["profile"] == "restricted"
    allowed = frozenset({"NET_BIND_SERVICE"}) if restricted else BASELINE_CAPABILITIES
    for _, container, context in _containers(resource):
        caps = mapping(context.get("capabilities"))
        path = f"{container.path}.securityContext.capabilities"
        added = sorted({_capability(cap) for cap in texts(caps.get("add"))} - allowed)
        if added:
            yield Violation(f"{path}.add", f"adds capabilities {', '.join(added)}")
        if restricted and "ALL" not in {_capability(cap) for cap in texts(caps.get("drop"))}:
            yield Violation(f"{path}.drop", "does not drop ALL capabilities")


def no_privilege_escalation(resource: Resource, params: Params) -> Iterator[Violation]:
    for _, container, context in _containers(resource):
        if context.get("allowPrivilegeEscalation") is not False:
            yield Violation(
                f"{container.path}.securityContext.allowPrivilegeEscalation", "allowPrivilegeEscalation is not false"
            )


def run_as_non_root(resource: Resource, params: Params) -> Iterator[Violation]:
    for pod in resource.pods:
        pod_context = _pod_context(pod)
        if number(pod_context.get("runAsUser")) == 0:
            yield Violation(f"{pod.path}.securityContext.runAsUser", "pod runs as UID 0")
        for container in pod.containers:
            context = mapping(container.spec.get("securityContext"))
            path = f"{container.path}.securityContext"
            if number(context.get("runAsUser")) == 0:
                yield Violation(f"{path}.runAsUser", "container runs as UID 0")
            non_root = context.get("runAsNonRoot", pod_context.get("runAsNonRoot"))
            if non_root is not True:
                yield Violation(f"{path}.runAsNonRoot", "runAsNonRoot is not true on the container or the pod")


def seccomp(resource: Resource, params: Params) -> Iterator[Violation]:
    for pod in resource.pods:
        pod_profile = text(mapping(_pod_context(pod).get("seccompProfile")).get("type"))
        for container in pod.containers:
            own = text(mapping(mapping(container.spec.get("securityContext")).get("seccompProfile")).get("type"))
            effective = own or pod_profile
            if effective in ("RuntimeDefault", "Localhost"):
                continue
            at_pod = own is None and pod_profile is not None
            path = (
                f"{pod.path}.securityContext.seccompProfile"
                if at_pod
                else f"{container.path}.securityContext.seccompProfile"
            )
            yield Violation(path, f"seccomp profile {effective or 'unset'} (want RuntimeDefault or Localhost)")


def _selinux(options: Mapping[str, Any], path: str) -> Iterator[Violation]:
    if text(options.get("type")) not in SELINUX_TYPES and options.get("type") is not None:
        yield Violation(f"{path}.seLinuxOptions.type", f"SELinux type {options.get('type')!r} is not allowed")
    for field in ("user", "role"):
        if options.get(field):
            yield Violation(f"{path}.seLinuxOptions.{field}", f"SELinux {field} must not be set")


def pss_misc(resource: Resource, params: Params) -> Iterator[Violation]:
    for pod in resource.pods:
        pod_context = _pod_context(pod)
        pod_path = f"{pod.path}.securityContext"
        yield from _selinux(mapping(pod_context.get("seLinuxOptions")), pod_path)
        if mapping(pod_context.get("appArmorProfile")).get("type") == "Unconfined":
            yield Violation(f"{pod_path}.appArmorProfile.type", "AppArmor profile Unconfined")
        if mapping(pod_context.get("windowsOptions")).get("hostProcess") is True:
            yield Violation(f"{pod_path}.windowsOptions.hostProcess", "Windows hostProcess pod")
        for index, sysctl in mappings(pod_context.get("sysctls")):
            if sysctl.get("name") not in SAFE_SYSCTLS:
                yield Violation(f"{pod_path}.sysctls[{index}].name", f"unsafe sysctl {sysctl.get('name')!r}")
        for key, value in mapping(pod.metadata.get("annotations")).items():
            if (
                isinstance(key, str)
                and key.startswith("container.apparmor.security.beta.kubernetes.io/")
                and value == "unconfined"
            ):
                yield Violation(f"{pod.metadata_path}.annotations", f"annotation {key} is unconfined")
        for container in pod.containers:
            context = mapping(container.spec.get("securityContext"))
            path = f"{container.path}.securityContext"
            yield from _selinux(mapping(context.get("seLinuxOptions")), path)
            if mapping(context.get("appArmorProfile")).get("type") == "Unconfined":
                yield Violation(f"{path}.appArmorProfile.type", "AppArmor profile Unconfined")
            if context.get("procMount") not in (None, "Default"):
                yield Violation(f"{path}.procMount", f"procMount {context.get('procMount')!r} unmasks /proc")
            if mapping(context.get("windowsOptions")).get("hostProcess") is True:
                yield Violation(f"{path}.windowsOptions.hostProcess", "Windows hostProcess container")


def readonly_rootfs(resource: Resource, params: Params) -> Iterator[Violation]:
    for _, container, context in _containers(resource):
        if container.section != "ephemeralContainers" and context.get("readOnlyRootFilesystem") is not True:
            yield Violation(
                f"{container.path}.securityContext.readOnlyRootFilesystem",
                "root filesystem is writable (mount emptyDir volumes for model and compile caches)",
            )


def volume_types(resource: Resource, params: Params) -> Iterator[Violation]:
    for pod in resource.pods:
        for index, volume in mappings(pod.spec.get("volumes")):
            for key in volume:
                if key not in RESTRICTED_VOLUMES:
                    yield Violation(
                        f"{pod.path}.volumes[{index}].{key}", f"volume type {key} is outside the restricted set"
                    )


RULES = [
    Rule(
        "k8s-no-privileged",
        "Containers are not privileged (GPUs come through resource limits, not device access).",
        "critical",
        "mandatory",
        POD_KINDS,
        no_privileged,
    ),
    Rule(
        "k8s-no-host-namespaces",
        "Pods do not share the node's network, PID or IPC namespace.",
        "critical",
        "mandatory",
        POD_KINDS,
        no_host_namespaces,
    ),
    Rule(
        "k8s-no-host-ports",
        "Containers do not bind host ports.",
        "high",
        "mandatory",
        POD_KINDS,
        no_host_ports,
    ),
    Rule(
        "k8s-no-hostpath",
        "Pods do not mount host paths (node agents are exempted in config).",
        "high",
        "mandatory",
        POD_KINDS,
        no_hostpath,
    ),
    Rule(
        "k8s-capabilities",
        "Containers drop ALL capabilities and add none beyond the profile (restricted: NET_BIND_SERVICE only).",
        "high",
        "mandatory",
        POD_KINDS,
        capabilities,
        params={"profile": Param("restricted", "string", "'restricted' or 'baseline' Pod Security Standard")},
    ),
    Rule(
        "k8s-no-privilege-escalation",
        "Containers set allowPrivilegeEscalation: false.",
        "high",
        "mandatory",
        POD_KINDS,
        no_privilege_escalation,
    ),
    Rule(
        "k8s-run-as-non-root",
        "Containers run as non-root (runAsNonRoot: true, runAsUser not 0).",
        "high",
        "mandatory",
        POD_KINDS,
        run_as_non_root,
    ),
    Rule(
        "k8s-seccomp",
        "Containers run under the RuntimeDefault or a Localhost seccomp profile.",
        "medium",
        "advisory",
        POD_KINDS,
        seccomp,
    ),
    Rule(
        "k8s-pss-misc",
        "No unconfined AppArmor, custom SELinux user/role/type, unmasked procMount, unsafe sysctls or Windows "
        "hostProcess.",
        "medium",
        "mandatory",
        POD_KINDS,
        pss_misc,
    ),
    Rule(
        "k8s-readonly-rootfs",
        "Containers have a read-only root filesystem.",
        "medium",
        "advisory",
        POD_KINDS,
        readonly_rootfs,
    ),
    Rule(
        "k8s-volume-types",
        "Pods use only the restricted volume types.",
        "medium",
        "advisory",
        POD_KINDS,
        volume_types,
    ),
]
