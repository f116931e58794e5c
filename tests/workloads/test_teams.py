"""Team guard rails: namespace labels, the derived ResourceQuota, LimitRange, NetworkPolicies, identity."""

from __future__ import annotations

from components.builders import queues, serving, teams
from components.builders.common import Footprint
from components.builders.context import BuildContext
from components.capacity import pool_capacity
from components.quantity import cpu_millis, memory_bytes
from tests.workloads.support import context, spec_of, stack_platform

MODEL = {"team": "ml", "pool": "l4", "model": {"format": "huggingface", "storage_uri": "s3://m/llm"},
         "resources": {"cpu": "8", "memory": "40Gi", "gpus": 1}, "replicas": {"min": 1, "max": 3},
         "allowed_namespaces": ["research-ns"]}


def test_namespace_injects_the_mesh_and_audits_restricted_pod_security() -> None:
    labels = teams.namespace(context(), "research")["metadata"]["labels"]
    assert teams.namespace(context(), "research")["metadata"]["name"] == "research-ns"
    assert labels["istio-injection"] == "enabled" and labels["gpuplat.io/team"] == "research"
    assert labels["pod-security.kubernetes.io/warn"] == labels["pod-security.kubernetes.io/audit"] == "restricted"
    assert "pod-security.kubernetes.io/enforce" not in labels  # istio-init needs NET_ADMIN
    plain = teams.namespace(context(istio=False), "research")["metadata"]["labels"]
    assert "istio-injection" not in plain and plain["pod-security.kubernetes.io/enforce"] == "baseline"


def test_quota_is_kueue_admissible_plus_model_services_at_max() -> None:
    spec = spec_of(model_services={"llm": MODEL})
    ctx = context(spec)
    breakdown = teams.quota_breakdown(ctx, "ml")
    admissible = queues.admissible(spec)["ml"]
    assert breakdown.queued == admissible["cpu"].total + admissible["l4"].total + admissible["system"].total
    # 3 max replicas + 1 surge pod, each 8 CPU + sidecar, 40Gi + sidecar, 1 GPU.
    pod = Footprint(8100, 40 * 2**30 + 128 * 2**20, 1)
    assert breakdown.serving_requests == breakdown.serving_limits == pod.times(4)
    hard = teams.resource_quota(ctx, "ml")["spec"]["hard"]
    assert set(hard) == {"requests.cpu", "requests.memory", "requests.nvidia.com/gpu", "limits.cpu", "limits.memory"}
    assert hard["requests.nvidia.com/gpu"] == str(4 + 4)  # half of the 8 L4 GPUs + 4 serving pods
    assert cpu_millis(hard["requests.cpu"]) == breakdown.requests.cpu_millis
    assert memory_bytes(hard["limits.memory"]) == breakdown.limits.memory_bytes


def test_quota_includes_borrowing_from_the_cohort() -> None:
    spec = spec_of(teams={"ml": {"queue": {"cohort": "c", "borrowing_limit_percent": 50}},
                          "research": {"namespace": "research-ns", "queue": {"cohort": "c"}}})
    l4 = pool_capacity(spec.node_pools["l4"])
    assert l4 is not None
    gpus = teams.quota_breakdown(context(spec), "ml").queued.gpus
    assert gpus == l4.gpus // 2 + l4.gpus // 2 // 2  # nominal 4 + borrow at most 50% of it


def test_without_kueue_ray_workloads_count_at_their_maximum() -> None:
    cluster = {"team": "ml", "worker_groups": {"gpu": {"pool": "l4", "replicas": {"min": 0, "max": 2},
                                                       "resources": {"cpu": "4", "memory": "16Gi", "gpus": 1}}}}
    spec = spec_of(ray_clusters={"train": cluster})
    breakdown = teams.quota_breakdown(context(spec, kueue=False), "ml")
    assert breakdown.queued == Footprint()
    assert breakdown.unqueued_ray == Footprint(2000 + 2 * 4000, 8 * 2**30 + 2 * 16 * 2**30, 2)
    assert teams.quota_breakdown(context(spec), "ml").unqueued_ray == Footprint()


def test_shipped_quotas_cover_what_each_team_can_be_admitted_and_run() -> None:
    for environment in ("dev", "prod", "staging", "local"):
        platform = stack_platform(environment)
        ctx = BuildContext.from_platform(platform)
        for team in platform.spec.teams:
            hard = teams.resource_quota(ctx, team)["spec"]["hard"]
            queue = queues.admissible(platform.spec).get(queues.cluster_queue_name(platform.spec, team), {})
            nominal_gpus = sum(a.nominal.gpus for a in queue.values())
            assert int(hard["requests.nvidia.com/gpu"]) >= nominal_gpus
            assert cpu_millis(hard["limits.cpu"]) >= cpu_millis(hard["requests.cpu"])


def test_limit_range_defaults_and_largest_node() -> None:
    limit = teams.limit_range(context(spec_of(teams={"ml": {"pools": ["system", "cpu"]}})), "ml")["spec"]["limits"][0]
    assert limit["default"] == limit["defaultRequest"] == {"cpu": "500m", "memory": "512Mi"}
    assert limit["type"] == "Container"
    assert limit["max"]["cpu"] == "15490m"  # one m6i.4xlarge after the reserve (the larger of the two pools)


def test_network_policies_default_deny_then_exact_allows() -> None:
    cluster = {"team": "ml", "worker_groups": {"cpu": {"pool": "cpu"}}}
    ctx = context(spec_of(model_services={"llm": MODEL}, ray_clusters={"train": cluster}))
    policies = teams.network_policies(ctx, "ml")
    assert list(policies) == ["default-deny-ingress", "allow-gateway-to-models", "allow-llm-clients",
                              "allow-ray-in-namespace", "allow-kuberay-to-ray-head", "allow-gateway-to-ray",
                              "allow-monitoring"]
    assert policies["default-deny-ingress"]["spec"] == {"podSelector": {}, "policyTypes": ["Ingress"]}
    gateway = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "istio-ingress"}},
               "podSelector": {"matchLabels": {"istio": "ingressgateway"}}}
    assert policies["allow-gateway-to-models"]["spec"] == {
        "podSelector": {"matchExpressions": [{"key": serving.ISVC_LABEL, "operator": "Exists"}]},
        "policyTypes": ["Ingress"],
        "ingress": [{"from": [gateway], "ports": [{"protocol": "TCP", "port": 8080}]}],
    }
    assert policies["allow-llm-clients"]["spec"]["ingress"][0]["from"] == [
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "research-ns"}}}]
    assert policies["allow-ray-in-namespace"]["spec"]["ingress"] == [{"from": [{"podSelector": {}}]}]
    assert policies["allow-kuberay-to-ray-head"]["spec"]["ingress"][0]["ports"] == [
        {"protocol": "TCP", "port": 8265}, {"protocol": "TCP", "port": 52365}]
    assert policies["allow-monitoring"]["spec"]["ingress"] == [
        {"from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}]}]
    # A team without workloads and without add-ons keeps only the deny.
    bare = teams.network_policies(context(istio=False, monitoring=False), "research")
    assert list(bare) == ["default-deny-ingress"]


def test_service_account_and_local_queues() -> None:
    account = teams.service_account(context(), "research")
    assert account["metadata"]["name"] == "workloads" and account["metadata"]["namespace"] == "research-ns"
    assert account["automountServiceAccountToken"] is False
    assert {name: q["spec"]["clusterQueue"] for name, q in teams.local_queues(context(), "research").items()} == {
        "gpu": "research", "default": "research"}
    assert teams.local_queues(context(kueue=False), "research") == {}


def test_mesh_lets_a_teams_pods_call_each_other_and_nothing_without_istio() -> None:
    policy = teams.mesh_policy(context(), "ml")
    assert policy is not None
    assert policy["metadata"]["namespace"] == "ml"
    assert policy["spec"] == {"action": "ALLOW", "rules": [{"from": [{"source": {"namespaces": ["ml"]}}]}]}
    assert teams.mesh_policy(context(istio=False), "ml") is None
