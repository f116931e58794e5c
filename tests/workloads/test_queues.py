"""Kueue objects from the pools: flavors that match the pools exactly, quotas that add up to capacity,
the v1beta2 shape (cohortName, top-level priority value) and the CEL rules the schema validator skips."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from components import pools
from components.builders import queues
from components.capacity import RESOURCE_NAMES, queue_capacity
from components.quantity import cpu_millis, memory_bytes
from components.spec.models import PlatformSpec
from tests.workloads.support import STACKS, spec_of, stack_platform

LABELS = {
    "app.kubernetes.io/component": "queueing",
    "app.kubernetes.io/part-of": "gpuplat",
    "app.kubernetes.io/managed-by": "pulumi",
}


def _amount(resource: str, value: object) -> int:
    if resource == "cpu":
        return cpu_millis(value)
    if resource == "memory":
        return memory_bytes(value)
    return int(value)  # type: ignore[call-overload]


def test_gpu_flavor_carries_the_pools_labels_taints_tolerations_and_capacity() -> None:
    flavor = queues.resource_flavor(spec_of(), "l4")
    assert flavor == {
        "apiVersion": "kueue.x-k8s.io/v1beta2",
        "kind": "ResourceFlavor",
        "metadata": {
            "name": "l4",
            "labels": {"app.kubernetes.io/name": "resource-flavor", "app.kubernetes.io/instance": "l4", **LABELS},
            "annotations": {
                "gpuplat.io/pool": "l4",
                "gpuplat.io/pool-capacity": '{"cpu": "94820m", "memory": "388038Mi", "nvidia.com/gpu": "8"}',
            },
        },
        "spec": {
            "nodeLabels": {"gpuplat.io/pool": "l4", "gpuplat.io/accelerator": "nvidia",
                           "nvidia.com/gpu.product": "NVIDIA-L4"},
            "nodeTaints": [{"key": "nvidia.com/gpu", "value": "true", "effect": "NoSchedule"}],
            "tolerations": [{"key": "nvidia.com/gpu", "operator": "Equal", "value": "true", "effect": "NoSchedule"}],
        },
    }


def test_cpu_flavor_has_no_taints_and_a_zero_gpu_capacity() -> None:
    flavor = queues.resource_flavor(spec_of(), "cpu")
    assert flavor["spec"] == {"nodeLabels": {"gpuplat.io/pool": "cpu"}}
    assert json.loads(flavor["metadata"]["annotations"]["gpuplat.io/pool-capacity"])["nvidia.com/gpu"] == "0"


def test_flavors_match_every_shipped_pool_exactly() -> None:
    for environment in STACKS:
        spec = stack_platform(environment).spec
        for name, flavor in queues.resource_flavors(spec).items():
            pool = spec.node_pools[name]
            assert flavor["spec"]["nodeLabels"] == pools.node_labels(name, pool)
            assert flavor["spec"].get("tolerations", []) == pools.tolerations(pool)
            taints = [(t["key"], t.get("value", ""), t["effect"]) for t in flavor["spec"].get("nodeTaints", [])]
            assert taints == [(t.key, t.value, t.effect) for t in pools.node_taints(pool)]
            # A pod placed with the pool's selector is admissible to this flavor (Kueue matches on nodeLabels).
            assert pools.node_selector(name).items() <= flavor["spec"]["nodeLabels"].items()


def test_cluster_queue_per_team_with_nominal_quotas_per_flavor() -> None:
    queue = queues.cluster_queues(spec_of())["research"]
    assert queue["metadata"]["name"] == "research"
    assert queue["spec"]["namespaceSelector"] == {"matchLabels": {"kubernetes.io/metadata.name": "research-ns"}}
    assert "cohortName" not in queue["spec"] and "cohort" not in queue["spec"]
    (group,) = queue["spec"]["resourceGroups"]
    assert group["coveredResources"] == ["cpu", "memory", "nvidia.com/gpu"]
    l4 = next(flavor for flavor in group["flavors"] if flavor["name"] == "l4")
    # Two teams share the 8 GPUs, 94820m and 388038Mi of the L4 pool evenly.
    assert l4["resources"] == [
        {"name": "cpu", "nominalQuota": "47410m"},
        {"name": "memory", "nominalQuota": "194019Mi"},
        {"name": "nvidia.com/gpu", "nominalQuota": 4},
    ]


def test_prod_nominal_quotas_of_each_flavor_add_up_to_exactly_the_pool_queue_capacity() -> None:
    spec = stack_platform("prod").spec
    totals: dict[str, dict[str, int]] = {}
    for queue in queues.cluster_queues(spec).values():
        for group in queue["spec"]["resourceGroups"]:
            for flavor in group["flavors"]:
                for entry in flavor["resources"]:
                    pool_totals = totals.setdefault(flavor["name"], dict.fromkeys(RESOURCE_NAMES, 0))
                    pool_totals[entry["name"]] += _amount(entry["name"], entry["nominalQuota"])
    for pool_name, pool_totals in totals.items():
        capacity = queue_capacity(spec, pool_name)
        assert capacity is not None
        assert pool_totals == {"cpu": capacity.cpu_millis, "memory": capacity.memory_bytes,
                               "nvidia.com/gpu": capacity.gpus}, pool_name
    assert set(totals) == set(spec.node_pools)


def test_prod_cohort_uses_cohort_name_and_percent_limits() -> None:
    spec = stack_platform("prod").spec
    serving, research = queues.cluster_queues(spec)["serving"], queues.cluster_queues(spec)["research"]
    assert serving["spec"]["cohortName"] == research["spec"]["cohortName"] == "ml"
    assert serving["spec"]["preemption"] == {"withinClusterQueue": "LowerPriority", "reclaimWithinCohort": "Any"}
    l4 = {flavor["name"]: flavor for flavor in serving["spec"]["resourceGroups"][0]["flavors"]}["l4-serve"]
    gpu = l4["resources"][2]
    # l4-serve: 24 GPUs less the serving floor of 11 (min replicas, canary doubled) = 13, split 7 / 6.
    assert gpu == {"name": "nvidia.com/gpu", "nominalQuota": 6, "lendingLimit": 3}  # lending_limit_percent: 50
    h100 = {f["name"]: f for f in research["spec"]["resourceGroups"][0]["flavors"]}["h100-train"]
    assert h100["resources"][2] == {"name": "nvidia.com/gpu", "nominalQuota": 32, "borrowingLimit": 16}


def test_shared_mode_has_one_queue_for_every_namespace_and_local_queues_feed_it() -> None:
    spec = spec_of(queueing={"mode": "shared"})
    assert list(queues.cluster_queues(spec)) == ["shared"]
    shared = queues.cluster_queues(spec)["shared"]
    assert shared["spec"]["namespaceSelector"] == {}
    flavors = shared["spec"]["resourceGroups"][0]["flavors"]
    assert [f["name"] for f in flavors] == ["cpu", "l4", "system"]
    assert flavors[1]["resources"][2] == {"name": "nvidia.com/gpu", "nominalQuota": 8}  # the whole pool
    assert queues.local_queue(spec, "research", "gpu") == {
        "apiVersion": "kueue.x-k8s.io/v1beta2",
        "kind": "LocalQueue",
        "metadata": {"name": "gpu", "namespace": "research-ns", "labels": {
            "app.kubernetes.io/name": "local-queue", "app.kubernetes.io/instance": "gpu", **LABELS}},
        "spec": {"clusterQueue": "shared"},
    }


def test_workload_priority_class_has_a_top_level_value_and_no_spec() -> None:
    spec = spec_of()
    manifest = queues.workload_priority_class("batch", spec.queueing.priority_classes["batch"])
    assert manifest["value"] == 100 and manifest["description"] == "experiments"
    assert "spec" not in manifest and manifest["apiVersion"] == "kueue.x-k8s.io/v1beta2"


def test_admissible_borrowing_is_bounded_by_the_limit_and_by_what_the_others_lend() -> None:
    spec = spec_of(teams={
        "a": {"queue": {"cohort": "pool", "borrowing_limit_percent": 100}},
        "b": {"queue": {"cohort": "pool", "lending_limit_percent": 25}},
        "c": {},
    })
    result = queues.admissible(spec)
    # L4: 8 GPUs split 3/3/2. a may borrow 100% of its 3, but b lends only 25% of its 3 (0 whole GPUs).
    assert result["a"]["l4"].nominal.gpus == 3 and result["a"]["l4"].borrowable.gpus == 0
    # b has no borrowing limit: it can borrow everything a lends (a sets no lending limit).
    assert result["b"]["l4"].borrowable.gpus == result["a"]["l4"].nominal.gpus
    # c is in no cohort: nothing to borrow.
    assert result["c"]["l4"].borrowable.gpus == 0


# ------------------------------------------------------------------------------------ properties


@st.composite
def _specs(draw: st.DrawFn) -> PlatformSpec:
    team_count = draw(st.integers(1, 4))
    teams = {}
    for index in range(team_count):
        queue: dict = {}
        if draw(st.booleans()):
            queue["cohort"] = "shared-pool"
            if draw(st.booleans()):
                queue["borrowing_limit_percent"] = draw(st.integers(0, 100))
            if draw(st.booleans()):
                queue["lending_limit_percent"] = draw(st.integers(0, 100))
        teams[f"team-{index}"] = {"queue": queue, **({"pools": ["system", "l4"]} if draw(st.booleans()) else {})}
    node_pools = {
        "system": {"system": True, "instance_types": ["m6i.xlarge"], "max_nodes": draw(st.integers(1, 5))},
        "l4": {"instance_types": ["g6.12xlarge"], "max_nodes": draw(st.integers(1, 9))},
        "h100": {"instance_types": ["p5.48xlarge"], "max_nodes": draw(st.integers(1, 7))},
    }
    return spec_of(node_pools=node_pools, teams=teams)


@settings(max_examples=60, deadline=None)
@given(_specs())
def test_every_cluster_queue_satisfies_the_crd_cel_rules_and_quotas_add_up(spec: PlatformSpec) -> None:
    totals: dict[str, list[int]] = {}
    for queue in queues.cluster_queues(spec).values():
        has_cohort = "cohortName" in queue["spec"]
        for group in queue["spec"]["resourceGroups"]:
            for flavor in group["flavors"]:
                # CEL: one entry per covered resource, in order.
                assert [entry["name"] for entry in flavor["resources"]] == group["coveredResources"]
                for entry in flavor["resources"]:
                    # CEL: borrowingLimit must be nil when the cohort is empty (lending likewise).
                    assert has_cohort or ("borrowingLimit" not in entry and "lendingLimit" not in entry)
                    nominal = _amount(entry["name"], entry["nominalQuota"])
                    if "lendingLimit" in entry:  # webhook: lendingLimit <= nominalQuota
                        assert _amount(entry["name"], entry["lendingLimit"]) <= nominal
                    totals.setdefault(flavor["name"], [0, 0, 0])[RESOURCE_NAMES.index(entry["name"])] += nominal
    for pool_name, (cpu, memory, gpus) in totals.items():
        capacity = queue_capacity(spec, pool_name)
        assert capacity is not None
        assert (cpu, memory, gpus) == (capacity.cpu_millis, capacity.memory_bytes, capacity.gpus)
