"""Section D: Pod Security Standards (baseline and restricted), on every pod template including CRD-nested ones.

Node agents that really need host access (DCGM exporter, device plugin) are exempted in config, never by
weakening a rule.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from policies.k8s import mapping, mappings, number, text, texts
from policies.model import NONE, Found, Param, Params, Resource, Rule, Violation, violation
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
HOST_NAMESPACES = ("hostNetwork", "hostPID", "hostIPC")
APPARMOR_ANNOTATION = "container.apparmor.security.beta.kubernetes.io/"


def no_privileged(c: Container, pod: PodSpec, resource: Resource, params: Params) -> Found:
    if c.security.get("privileged") is not True:
        return NONE
    return violation(f"{c.path}.securityContext.privileged", "privileged container")


def no_host_namespaces(pod: PodSpec, resource: Resource, params: Params) -> Found:
    found = []
    for field in HOST_NAMESPACES:
        if pod.spec.get(field) is True:
            found.append(Violation(f"{pod.path}.{field}", f"{field} shares the node's namespace"))
    return found


def no_host_ports(c: Container, pod: PodSpec, resource: Resource, params: Params) -> Found:
    ports = c.spec.get("ports")
    if not ports:
        return NONE
    found = []
    for index, port in mappings(ports):
        host_port = port.get("hostPort")
        if host_port and number(host_port):  # most ports have no hostPort: no number() to parse
            found.append(Violation(f"{c.path}.ports[{index}].hostPort", f"hostPort {host_port!r} binds a node port"))
    return found


def no_hostpath(pod: PodSpec, resource: Resource, params: Params) -> Found:
    volumes = pod.spec.get("volumes")
    if not volumes:
        return NONE
    found = []
    for index, volume in mappings(volumes):
        if "hostPath" in volume:
            path = text(mapping(volume.get("hostPath")).get("path")) or ""
            what = "the container runtime socket" if path.endswith(CRI_SOCKETS) else f"host path {path!r}"
            found.append(
                Violation(f"{pod.path}.volumes[{index}].hostPath", f"volume {volume.get('name')!r} mounts {what}")
            )
    return found


def _capability(name: str) -> str:
    return name.upper().removeprefix("CAP_")


def capabilities(c: Container, pod: PodSpec, resource: Resource, params: Params) -> Found:
    caps = mapping(c.security.get("capabilities"))
    add, drop = caps.get("add"), caps.get("drop")
    restricted = params["profile"] == "restricted"
    if not add and (not restricted or (type(drop) is list and "ALL" in drop)):
        return NONE  # the common, compliant case
    allowed = frozenset({"NET_BIND_SERVICE"}) if restricted else BASELINE_CAPABILITIES
    path = f"{c.path}.securityContext.capabilities"
    found = []
    added = sorted({_capability(cap) for cap in texts(add)} - allowed)
    if added:
        found.append(Violation(f"{path}.add", f"adds capabilities {', '.join(added)}"))
    if restricted and "ALL" not in {_capability(cap) for cap in texts(drop)}:
        found.append(Violation(f"{path}.drop", "does not drop ALL capabilities"))
    return found


def no_privilege_escalation(c: Container, pod: PodSpec, resource: Resource, params: Params) -> Found:
    if c.security.get("allowPrivilegeEscalation") is False:
        return NONE
    return violation(f"{c.path}.securityContext.allowPrivilegeEscalation", "allowPrivilegeEscalation is not false")


def _root_uid(uid: Any) -> bool:
    """`runAsUser: 0` (most UIDs are unset and need no parsing)."""
    return uid is not None and number(uid) == 0


def run_as_non_root(pod: PodSpec, resource: Resource, params: Params) -> Found:
    found = []
    if _root_uid(pod.security.get("runAsUser")):
        found.append(Violation(f"{pod.path}.securityContext.runAsUser", "pod runs as UID 0"))
    pod_non_root = pod.security.get("runAsNonRoot")
    for c in pod.containers:
        security = c.security
        if _root_uid(security.get("runAsUser")):
            found.append(Violation(f"{c.path}.securityContext.runAsUser", "container runs as UID 0"))
        if security.get("runAsNonRoot", pod_non_root) is not True:
            message = "runAsNonRoot is not true on the container or the pod"
            found.append(Violation(f"{c.path}.securityContext.runAsNonRoot", message))
    return found


SECCOMP_PROFILES = ("RuntimeDefault", "Localhost")


def _seccomp_type(context: Mapping[str, Any]) -> str | None:
    return text(mapping(context.get("seccompProfile")).get("type"))


def seccomp(c: Container, pod: PodSpec, resource: Resource, params: Params) -> Found:
    own = _seccomp_type(c.security)
    if own in SECCOMP_PROFILES:
        return NONE  # the container's own profile wins: the pod's need not be read
    pod_profile = _seccomp_type(pod.security)
    effective = own or pod_profile
    if effective in SECCOMP_PROFILES:
        return NONE
    at = pod.path if own is None and pod_profile is not None else c.path
    return violation(
        f"{at}.securityContext.seccompProfile",
        f"seccomp profile {effective or 'unset'} (want RuntimeDefault or Localhost)",
    )


def _hardening(context: Mapping[str, Any], owner: str, what: str) -> list[Violation]:
    """SELinux, AppArmor and Windows hostProcess settings of the security context of a pod or container
    (`owner` is its path; paths are built only for what is found)."""
    found: list[Violation] = []
    options = context.get("seLinuxOptions")
    if options:
        options = mapping(options)
        path = f"{owner}.securityContext.seLinuxOptions"
        if options.get("type") is not None and options.get("type") not in SELINUX_TYPES:
            found.append(Violation(f"{path}.type", f"SELinux type {options.get('type')!r} is not allowed"))
        for field in ("user", "role"):
            if options.get(field):
                found.append(Violation(f"{path}.{field}", f"SELinux {field} must not be set"))
    if context.get("appArmorProfile") and mapping(context["appArmorProfile"]).get("type") == "Unconfined":
        found.append(Violation(f"{owner}.securityContext.appArmorProfile.type", "AppArmor profile Unconfined"))
    if context.get("windowsOptions") and mapping(context["windowsOptions"]).get("hostProcess") is True:
        found.append(Violation(f"{owner}.securityContext.windowsOptions.hostProcess", f"Windows hostProcess {what}"))
    return found


def pss_misc(pod: PodSpec, resource: Resource, params: Params) -> Found:
    found = _hardening(pod.security, pod.path, "pod")
    sysctls = pod.security.get("sysctls")
    if sysctls:
        for index, sysctl in mappings(sysctls):
            if sysctl.get("name") not in SAFE_SYSCTLS:
                path = f"{pod.path}.securityContext.sysctls[{index}].name"
                found.append(Violation(path, f"unsafe sysctl {sysctl.get('name')!r}"))
    annotations = pod.metadata.get("annotations")
    if annotations:
        for key, value in mapping(annotations).items():
            if value == "unconfined" and isinstance(key, str) and key.startswith(APPARMOR_ANNOTATION):
                found.append(Violation(f"{pod.metadata_path}.annotations", f"annotation {key} is unconfined"))
    for c in pod.containers:
        found += _hardening(c.security, c.path, "container")
        proc_mount = c.security.get("procMount")
        if proc_mount not in (None, "Default"):
            found.append(Violation(f"{c.path}.securityContext.procMount", f"procMount {proc_mount!r} unmasks /proc"))
    return found


def readonly_rootfs(c: Container, pod: PodSpec, resource: Resource, params: Params) -> Found:
    if c.section == "ephemeralContainers" or c.security.get("readOnlyRootFilesystem") is True:
        return NONE
    message = "root filesystem is writable (mount emptyDir volumes for model and compile caches)"
    return violation(f"{c.path}.securityContext.readOnlyRootFilesystem", message)


def volume_types(pod: PodSpec, resource: Resource, params: Params) -> Found:
    volumes = pod.spec.get("volumes")
    if not volumes:
        return NONE
    found = []
    for index, volume in mappings(volumes):
        for key in volume:
            if key not in RESTRICTED_VOLUMES:
                message = f"volume type {key} is outside the restricted set"
                found.append(Violation(f"{pod.path}.volumes[{index}].{key}", message))
    return found


RULES = [
    Rule(
        "k8s-no-privileged",
        "Containers are not privileged (GPUs come through resource limits, not device access).",
        "critical",
        "mandatory",
        "container",
        no_privileged,
        POD_KINDS,
    ),
    Rule(
        "k8s-no-host-namespaces",
        "Pods do not share the node's network, PID or IPC namespace.",
        "critical",
        "mandatory",
        "pod",
        no_host_namespaces,
        POD_KINDS,
    ),
    Rule(
        "k8s-no-host-ports",
        "Containers do not bind host ports.",
        "high",
        "mandatory",
        "container",
        no_host_ports,
        POD_KINDS,
    ),
    Rule(
        "k8s-no-hostpath",
        "Pods do not mount host paths (node agents are exempted in config).",
        "high",
        "mandatory",
        "pod",
        no_hostpath,
        POD_KINDS,
    ),
    Rule(
        "k8s-capabilities",
        "Containers drop ALL capabilities and add none beyond the profile (restricted: NET_BIND_SERVICE only).",
        "high",
        "mandatory",
        "container",
        capabilities,
        POD_KINDS,
        params={"profile": Param("restricted", "string", "'restricted' or 'baseline' Pod Security Standard")},
    ),
    Rule(
        "k8s-no-privilege-escalation",
        "Containers set allowPrivilegeEscalation: false.",
        "high",
        "mandatory",
        "container",
        no_privilege_escalation,
        POD_KINDS,
    ),
    Rule(
        "k8s-run-as-non-root",
        "Containers run as non-root (runAsNonRoot: true, runAsUser not 0).",
        "high",
        "mandatory",
        "pod",
        run_as_non_root,
        POD_KINDS,
    ),
    Rule(
        "k8s-seccomp",
        "Containers run under the RuntimeDefault or a Localhost seccomp profile.",
        "medium",
        "advisory",
        "container",
        seccomp,
        POD_KINDS,
    ),
    Rule(
        "k8s-pss-misc",
        "No unconfined AppArmor, custom SELinux user/role/type, unmasked procMount, unsafe sysctls or Windows "
        "hostProcess.",
        "medium",
        "mandatory",
        "pod",
        pss_misc,
        POD_KINDS,
    ),
    Rule(
        "k8s-readonly-rootfs",
        "Containers have a read-only root filesystem.",
        "medium",
        "advisory",
        "container",
        readonly_rootfs,
        POD_KINDS,
    ),
    Rule(
        "k8s-volume-types",
        "Pods use only the restricted volume types.",
        "medium",
        "advisory",
        "pod",
        volume_types,
        POD_KINDS,
    ),
]
