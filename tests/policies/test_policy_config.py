"""Per-environment config: enforcement levels, ceilings, registries and exemptions, for both drivers."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from policy_fixtures import GPU_POD, build, k8s

from policies.config import ConfigError, Exemption, load, read, rule_settings
from policies.engine import Engine
from policies.model import Resource
from policies.registry import BY_ID, RULES

POLICIES_DIR = Path(__file__).resolve().parents[2] / "policies"
ENVIRONMENTS = ("local", "dev", "staging", "prod")
# Heuristics and hygiene that stay advisory even in staging and prod (see policies/README.md).
ADVISORY_IN_PRODUCTION = {
    "k8s-container-cpu-limit",
    "k8s-image-digest",
    "k8s-image-pull-policy",
    "gpu-node-selection",
    "gpu-priority-class",
    "gpu-shm",
    "gpu-serving-startup-probe",
    "ray-version-consistency",
    "k8s-ephemeral-storage",
}


def env(name: str) -> Engine:
    return Engine(read(POLICIES_DIR / "config" / f"{name}.json", BY_ID))


def rules_reported(engine: Engine, resource: Resource) -> dict[str, str]:
    return {finding.rule: finding.level for finding in engine.check_resource(resource)}


@pytest.mark.parametrize("name", ENVIRONMENTS)
def test_enforcement_per_environment(name: str) -> None:
    levels = {
        rule_id: setting.level for rule_id, setting in read(POLICIES_DIR / "config" / f"{name}.json", BY_ID).items()
    }
    if name in ("local", "dev"):
        assert set(levels.values()) == {"advisory"}
    else:
        assert {rule for rule, level in levels.items() if level != "mandatory"} == ADVISORY_IN_PRODUCTION


def test_gpu_ceiling_per_environment() -> None:
    six_gpus = build("deployment", {"resources": {"limits": {"nvidia.com/gpu": 6}}}, GPU_POD)
    assert rules_reported(env("dev"), six_gpus)["k8s-resource-max"] == "advisory"
    assert "k8s-resource-max" not in rules_reported(env("prod"), six_gpus)


def test_memory_ceiling_per_environment() -> None:
    """Production ceilings admit a whole p5.48xlarge (192 vCPU, 2 TiB) for one training container; dev does not."""
    big = build(
        "raycluster", {"resources": {"requests": {"memory": "1800Gi"}, "limits": {"memory": "1800Gi", "cpu": "180"}}}
    )
    assert rules_reported(env("dev"), big)["k8s-resource-max"] == "advisory"
    assert "k8s-resource-max" not in rules_reported(env("staging"), big)
    huge = build("raycluster", {"resources": {"requests": {"memory": "3Ti"}, "limits": {"memory": "3Ti"}}})
    assert rules_reported(env("prod"), huge)["k8s-resource-max"] == "mandatory"


def test_allowed_registries_per_environment() -> None:
    hub = build("isvc", {"image": "nginx:1.27"})
    assert rules_reported(env("dev"), hub).get("k8s-image-registry-allowlist") is None
    assert rules_reported(env("prod"), hub)["k8s-image-registry-allowlist"] == "mandatory"


def test_exemption_suppresses_exactly_its_resource_and_rule() -> None:
    agent = {
        "securityContext": {"privileged": True},
        "image": "nvcr.io/nvidia/k8s/dcgm-exporter:4.5.3-4.8.2-ubuntu22.04",
    }
    hostpath = {"volumes": [{"name": "dev", "hostPath": {"path": "/var/lib/kubelet/pod-resources"}}]}

    def daemonset(name: str, namespace: str, kind: str = "daemonset") -> Resource:
        return build(kind, agent, hostpath, {"name": name, "namespace": namespace})

    prod = env("prod")
    exempted = rules_reported(prod, daemonset("nvidia-dcgm-exporter", "gpu-system"))
    assert not {"k8s-no-privileged", "k8s-no-hostpath", "k8s-volume-types"} & set(exempted)
    assert exempted["k8s-image-digest"] == "advisory"  # not an exempted rule
    for other in (
        daemonset("nvidia-dcgm-exporter", "ml"),
        daemonset("dcgm", "gpu-system"),
        daemonset("nvidia-x", "gpu-system", "deployment"),
    ):
        assert {"k8s-no-privileged", "k8s-no-hostpath"} <= set(rules_reported(prod, other))


def test_exemption_globs_and_urns() -> None:
    resource = Resource(
        "kubernetes:apps/v1:DaemonSet",
        "dcgm",
        {"metadata": {"name": "nvidia-dcgm-exporter", "namespace": "gpu-system"}},
        "urn:pulumi:prod::gpuplat::gpuplat:gpu:Addon$kubernetes:apps/v1:DaemonSet::dcgm",
    )
    assert Exemption("r", type="kubernetes:apps/v1:DaemonSet", name="dcgm").matches(resource)  # Pulumi name
    assert Exemption("r", urn="*gpuplat:gpu:Addon$*").matches(resource)
    assert not Exemption("r", urn="*other*").matches(resource)
    assert not Exemption("r", type="Deployment").matches(resource)
    assert not Exemption("r", urn="urn:*").matches(Resource(resource.type, "dcgm", resource.props))  # YAML has no URN


def test_all_shorthand_and_overrides() -> None:
    settings = load(
        {"all": {"enforcementLevel": "disabled"}, "k8s-no-privileged": "mandatory", "gpu-shm": {"minGpus": 4.0}}, BY_ID
    )
    assert settings["k8s-no-privileged"].level == "mandatory"
    assert settings["gpu-shm"].level == "disabled" and settings["gpu-shm"].params == {"minGpus": 4}
    assert (
        Engine(settings).check_resource(build("deployment", {"securityContext": {"privileged": True}}))[0].rule
        == "k8s-no-privileged"
    )


def test_sdk_config_floats_and_lenient_pack_settings() -> None:
    rule = BY_ID["ray-kueue-compat"]
    assert rule_settings(rule, {"maxPodSets": 18.0}).params == {"maxPodSets": 18}
    with pytest.raises(ConfigError, match="expected a integer"):
        rule_settings(rule, {"maxPodSets": 17.5})
    with pytest.raises(ConfigError, match="unknown settings"):
        rule_settings(rule, {"maxPodsets": 18})
    assert rule_settings(rule, {"maxPodsets": 18}, strict=False).params == {"maxPodSets": 18}


def test_namespaced_rule_sees_service_in_config_env() -> None:
    gateway = k8s(
        "v1", "Service", {"spec": {"type": "LoadBalancer"}}, name="istio-ingressgateway", namespace="istio-ingress"
    )
    assert "k8s-service-exposure" not in rules_reported(env("prod"), gateway)
    assert (
        rules_reported(env("prod"), k8s("v1", "Service", {"spec": {"type": "LoadBalancer"}}, name="debug"))[
            "k8s-service-exposure"
        ]
        == "mandatory"
    )


def test_readme_lists_every_rule_with_its_levels() -> None:
    """The README table is the documentation of record: id, severity and the level in each environment."""
    readme = (POLICIES_DIR / "README.md").read_text()
    rows = {
        m.group(1): m.group(0) for m in re.finditer(r"^\| `([a-z0-9]+-[a-z0-9-]+)` \| (?!`).*$", readme, re.MULTILINE)
    }
    assert set(rows) == {rule.id for rule in RULES}
    for rule in RULES:
        cells = [cell.strip() for cell in rows[rule.id].strip("|").split("|")]
        production = "advisory" if rule.id in ADVISORY_IN_PRODUCTION else "mandatory"
        assert cells[2:5] == [rule.severity, "advisory", production], rule.id
        assert cells[5:7] == [rule.level, rule.scope], rule.id
    parameters = set(re.findall(r"^\| `([a-z0-9-]+)` \| `(\w+)` \| `([^`]*)` \|", readme, re.MULTILINE))
    assert parameters == {(r.id, n, json.dumps(p.default)) for r in RULES for n, p in r.params.items()}
