"""Section E: identity, secrets, network exposure and RBAC."""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import lru_cache

from policies.k8s import group_of, is_unknown, mapping, mappings, text, texts
from policies.model import NONE, Found, Param, Params, Resource, Rule, Stack, Violation, violation
from policies.walker import POD_KINDS, Container, PodSpec

NAMESPACED_KINDS = POD_KINDS | frozenset({
    "Service", "ConfigMap", "Secret", "ServiceAccount", "Role", "RoleBinding", "LocalQueue", "NetworkPolicy",
    "ResourceQuota", "LimitRange", "PersistentVolumeClaim", "Ingress", "PodDisruptionBudget",
    "HorizontalPodAutoscaler", "ServiceMonitor", "PodMonitor", "PrometheusRule", "VirtualService",
    "DestinationRule", "Gateway", "AuthorizationPolicy", "PeerAuthentication", "ServingRuntime",
    "Certificate", "Issuer",
})  # fmt: skip

# Names that say "this is a credential" (HF_TOKEN, WANDB_API_KEY, AWS_SECRET_ACCESS_KEY, DB_PASSWORD, ...);
# `TOKENIZERS_PARALLELISM` and `MAX_TOKENS` do not match.
SECRET_NAME = re.compile(r"(?i)(^|_)(TOKEN|SECRET|PASSWORD|PASSWD|API_?KEY|ACCESS_?KEY|PRIVATE_?KEY|CREDENTIALS?)($|_)")
# Values that are credentials whatever the variable is called.
SECRET_VALUE = re.compile(
    r"^(hf_[A-Za-z0-9]{30,}|AKIA[0-9A-Z]{16}|sk-[A-Za-z0-9_-]{20,}|gh[pousr]_[A-Za-z0-9]{36,}|xox[abpr]-)"
)
INTERNAL_LB_ANNOTATIONS = {
    "service.beta.kubernetes.io/aws-load-balancer-internal": "true",
    "service.beta.kubernetes.io/aws-load-balancer-scheme": "internal",
}
ESCALATION_VERBS = frozenset({"bind", "escalate", "impersonate"})
EXEC_RESOURCES = frozenset({"pods/exec", "pods/attach"})
READ_VERBS = frozenset({"get", "list", "watch", "*"})


def sa_token_automount(pod: PodSpec, resource: Resource, params: Params) -> Found:
    if pod.role == "ray-head" and pod.cluster.get("enableInTreeAutoscaling") is True:
        return NONE  # the autoscaler sidecar in the head pod talks to the API server
    if pod.spec.get("automountServiceAccountToken") is False:
        return NONE
    message = "service account token is mounted; set false unless the pod calls the API"
    return violation(f"{pod.path}.automountServiceAccountToken", message)


def no_default_sa(pod: PodSpec, resource: Resource, params: Params) -> Found:
    name = pod.spec.get("serviceAccountName", pod.spec.get("serviceAccount"))
    if is_unknown(name) or (text(name) and name != "default"):
        return NONE
    return violation(f"{pod.path}.serviceAccountName", "runs as the namespace's default service account")


def no_default_namespace(resource: Resource, params: Params) -> Found:
    namespace = resource.metadata.get("namespace")
    if is_unknown(namespace) or (text(namespace) and namespace != "default"):
        return NONE
    if namespace == "default":
        return violation("metadata.namespace", "uses the default namespace")
    return violation("metadata.namespace", "no namespace set (lands in the provider's or the default namespace)")


@lru_cache(maxsize=4096)
def _secret_name(name: str) -> bool:
    return bool(SECRET_NAME.search(name))


@lru_cache(maxsize=4096)
def _secret_value(value: str) -> bool:
    return bool(SECRET_VALUE.match(value))


def secrets_not_in_env(c: Container, pod: PodSpec, resource: Resource, params: Params) -> Found:
    allow_refs = params["allowSecretKeyRef"]
    env = c.spec.get("env")
    if not env and (allow_refs or not c.spec.get("envFrom")):
        return NONE
    found = []
    for index, variable in mappings(env):
        value = text(variable.get("value"))
        if not value and allow_refs:
            continue  # most variables: nothing to check, not even the name
        name = text(variable.get("name")) or ""
        if value and (_secret_name(name) or _secret_value(value)):
            found.append(
                Violation(f"{c.path}.env[{index}].value", f"literal credential in environment variable {name!r}")
            )
        if not allow_refs and "secretKeyRef" in mapping(variable.get("valueFrom")):
            message = f"secret exposed as environment variable {name!r}; mount it as a file"
            found.append(Violation(f"{c.path}.env[{index}].valueFrom.secretKeyRef", message))
    if not allow_refs:
        for index, source in mappings(c.spec.get("envFrom")):
            if "secretRef" in source:
                message = "whole secret exposed as environment variables; mount it as a file"
                found.append(Violation(f"{c.path}.envFrom[{index}].secretRef", message))
    return found


def service_exposure(resource: Resource, params: Params) -> Iterator[Violation]:
    service_type = resource.spec.get("type")
    if service_type == "NodePort":
        yield Violation("spec.type", "NodePort opens a port on every node; expose through the Istio gateway")
    elif service_type == "LoadBalancer":
        annotations = resource.annotations
        internal = any(annotations.get(key) == value for key, value in INTERNAL_LB_ANNOTATIONS.items())
        if not (internal and params["allowInternalLoadBalancers"]):
            yield Violation("spec.type", "public LoadBalancer; expose through the Istio gateway or mark it internal")
    if texts(resource.spec.get("externalIPs")):
        yield Violation("spec.externalIPs", "externalIPs can hijack traffic (CVE-2020-8554)")


def ingress_tls(resource: Resource, params: Params) -> Iterator[Violation]:
    if resource.kind == "Ingress":
        if not mappings(resource.spec.get("tls")):
            yield Violation("spec.tls", "Ingress without TLS")
        return
    if group_of(resource.type) != "networking.istio.io":
        return  # Gateway API Gateways are not checked here
    for index, server in mappings(resource.spec.get("servers")):
        protocol = text(mapping(server.get("port")).get("protocol")) or ""
        tls = mapping(server.get("tls"))
        if protocol.upper() == "HTTP" and tls.get("httpsRedirect") is not True:
            yield Violation(f"spec.servers[{index}].tls.httpsRedirect", "plain HTTP server without an HTTPS redirect")
        elif protocol.upper() in ("HTTPS", "TLS") and not tls.get("mode"):
            yield Violation(f"spec.servers[{index}].tls.mode", f"{protocol} server without a TLS mode")


def rbac_least_privilege(resource: Resource, params: Params) -> Iterator[Violation]:
    if resource.kind in ("RoleBinding", "ClusterRoleBinding"):
        if mapping(resource.props.get("roleRef")).get("name") == "cluster-admin":
            yield Violation("roleRef.name", "binds cluster-admin")
        return
    for index, rule in mappings(resource.props.get("rules")):
        verbs, resources = set(texts(rule.get("verbs"))), set(texts(rule.get("resources")))
        path = f"rules[{index}]"
        if "*" in verbs:
            yield Violation(f"{path}.verbs", "wildcard verb")
        if "*" in resources:
            yield Violation(f"{path}.resources", "wildcard resource")
        if verbs & ESCALATION_VERBS:
            yield Violation(
                f"{path}.verbs", f"privilege escalation verbs {', '.join(sorted(verbs & ESCALATION_VERBS))}"
            )
        if resources & EXEC_RESOURCES and verbs & {"create", "*"}:
            yield Violation(
                f"{path}.resources", f"shell access through {', '.join(sorted(resources & EXEC_RESOURCES))}"
            )
        if "secrets" in resources and verbs & READ_VERBS and not texts(rule.get("resourceNames")):
            yield Violation(f"{path}.resources", "reads every secret (name them in resourceNames)")


# --- stack: every namespace with workloads has a NetworkPolicy or an Istio AuthorizationPolicy ----------


def network_policy(stack: Stack, params: Params) -> Iterator[Violation]:
    skipped = set(texts(params["ignoreNamespaces"]))
    skipped |= {r.namespace or "default" for r in stack.of_kind("NetworkPolicy", "AuthorizationPolicy")}
    reported: set[str] = set()
    for resource in stack.with_pods():
        namespace = resource.namespace or "default"
        if namespace not in skipped and namespace not in reported:
            reported.add(namespace)
            yield Violation(
                "metadata.namespace", f"namespace {namespace!r} has no NetworkPolicy or AuthorizationPolicy", resource
            )


RULES = [
    Rule(
        "k8s-sa-token-automount",
        "Pods do not mount a service account token unless they call the API (Ray head with autoscaling is allowed).",
        "medium",
        "advisory",
        "pod",
        sa_token_automount,
        POD_KINDS,
    ),
    Rule(
        "k8s-no-default-sa",
        "Pods run as an explicit service account, not `default`.",
        "medium",
        "advisory",
        "pod",
        no_default_sa,
        POD_KINDS,
    ),
    Rule(
        "k8s-no-default-namespace",
        "Namespaced objects set metadata.namespace, and not to `default`.",
        "medium",
        "mandatory",
        "resource",
        no_default_namespace,
        NAMESPACED_KINDS,
    ),
    Rule(
        "k8s-secrets-not-in-env",
        "No literal credentials in environment variables (HF_TOKEN, WANDB_API_KEY, ...); optionally no "
        "secretKeyRef either.",
        "high",
        "mandatory",
        "container",
        secrets_not_in_env,
        POD_KINDS,
        params={"allowSecretKeyRef": Param(True, "boolean", "allow env vars from secretKeyRef / envFrom secretRef")},
    ),
    Rule(
        "k8s-service-exposure",
        "No NodePort, externalIPs or public LoadBalancer Services (ingress goes through the Istio gateway).",
        "high",
        "mandatory",
        "resource",
        service_exposure,
        frozenset({"Service"}),
        params={"allowInternalLoadBalancers": Param(True, "boolean", "allow LoadBalancers annotated as internal")},
    ),
    Rule(
        "k8s-network-policy",
        "Every namespace with workloads is covered by a NetworkPolicy or an Istio AuthorizationPolicy.",
        "medium",
        "advisory",
        "stack",
        network_policy,
        params={
            "ignoreNamespaces": Param(
                ["kube-system", "kube-public", "kube-node-lease"], "strings", "namespaces not checked"
            )
        },
    ),
    Rule(
        "k8s-ingress-tls",
        "Ingresses and Istio Gateways serve TLS (plain HTTP only to redirect).",
        "medium",
        "advisory",
        "resource",
        ingress_tls,
        frozenset({"Ingress", "Gateway"}),
    ),
    Rule(
        "k8s-rbac-least-privilege",
        "RBAC has no wildcards, escalation verbs, exec/attach, blanket secret reads or cluster-admin bindings.",
        "high",
        "mandatory",
        "resource",
        rbac_least_privilege,
        frozenset({"Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding"}),
    ),
]
