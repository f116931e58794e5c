"""Spec validation: shipped stacks are valid; each kind of mistake is reported at its exact path, all at once."""

from __future__ import annotations

import copy
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from components.spec import SpecError, StackSettings, load_platform, validate_file

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = sorted(path.stem for path in (ROOT / "stacks").glob("*.yaml"))

BASE: dict = {
    "cluster": {"mode": "eks", "eks": {"region": "us-east-1"}},
    "node_pools": {
        "system": {"system": True, "instance_types": ["m6i.xlarge"], "min_nodes": 1, "max_nodes": 3},
        "l4": {"instance_types": ["g6.12xlarge"], "max_nodes": 2},
    },
    "queueing": {"priority_classes": {"batch": {"value": 100}}},
    "teams": {"ml": {}, "ops": {"pools": ["system"]}},
    "model_services": {
        "llm": {
            "team": "ml",
            "pool": "l4",
            "model": {"format": "huggingface", "storage_uri": "s3://models/llm"},
            "resources": {"cpu": "4", "memory": "16Gi", "gpus": 1},
            "replicas": {"min": 1, "max": 2},
        }
    },
    "ray_clusters": {
        "train": {"team": "ml", "worker_groups": {"gpu": {"pool": "l4", "resources": {"gpus": 1}}}}
    },
    "ray_jobs": {
        "tune": {
            "team": "ml",
            "entrypoint": "python tune.py",
            "priority_class": "batch",
            "cluster": {"worker_groups": {"gpu": {"pool": "l4", "resources": {"gpus": 4}}}},
        }
    },
}


def write(tmp_path: Path, spec: object, name: str = "test.yaml") -> str:
    path = tmp_path / name
    path.write_text(spec if isinstance(spec, str) else yaml.safe_dump(spec), encoding="utf-8")
    return str(path)


def paths_of(tmp_path: Path, spec: object) -> list[str]:
    return sorted({problem.path for problem in validate_file(write(tmp_path, spec), "test")})


def mutate(change: Callable[[dict], None]) -> dict:
    spec = copy.deepcopy(BASE)
    change(spec)
    return spec


def _set(path: str, value: object) -> Callable[[dict], None]:
    def change(spec: dict) -> None:
        *parents, last = path.split(".")
        node = spec
        for key in parents:
            node = node.setdefault(key, {})
        node[last] = value

    return change


def _delete(path: str) -> Callable[[dict], None]:
    def change(spec: dict) -> None:
        *parents, last = path.split(".")
        node = spec
        for key in parents:
            node = node[key]
        del node[last]

    return change


INVALID: list[tuple[str, Callable[[dict], None], list[str]]] = [
    ("unknown top-level key", _set("clusters", {}), ["clusters"]),
    ("unknown nested key (autoscaling typo)", _set("model_services.llm.autoscaling", {}),
     ["model_services.llm.autoscaling"]),
    ("cluster mode not allowed", _set("cluster.mode", "gke"), ["cluster.mode"]),
    ("eks mode without eks block", _delete("cluster.eks"), ["cluster.eks"]),
    ("VPC too small for its subnets", _set("cluster.eks.vpc", {"cidr": "10.0.0.0/26"}), ["cluster.eks.vpc.cidr"]),
    ("duplicate access entry", _set("cluster.eks.access_entries", [{"principal_arn": "arn:aws:iam::1:role/a"}] * 2),
     ["cluster.eks.access_entries[1].principal_arn"]),
    ("existing mode with eks block", _set("cluster.mode", "existing"), ["cluster.eks"]),
    ("pool name not DNS-1123", _set("node_pools.GPU_pool", {"instance_types": ["g6.xlarge"], "max_nodes": 1}),
     ["node_pools.GPU_pool (key)"]),
    ("min nodes above max", _set("node_pools.l4.min_nodes", 3), ["node_pools.l4.desired_nodes"]),
    ("desired above max", _set("node_pools.l4.desired_nodes", 5), ["node_pools.l4.desired_nodes"]),
    ("max nodes zero", _set("node_pools.l4.max_nodes", 0), ["node_pools.l4.max_nodes"]),
    ("unknown instance type without capacity", _set("node_pools.l4.instance_types", ["x9.huge"]),
     ["node_pools.l4.capacity"]),
    ("two system pools", _set("node_pools.l4.system", True), ["node_pools", "node_pools.l4.system"]),
    ("MIG on a GPU without MIG", _set("node_pools.l4.mig_strategy", "single"), ["node_pools.l4.mig_strategy"]),
    ("time-slicing on a CPU pool", _set("node_pools.system.time_slicing_replicas", 4),
     ["node_pools.system.time_slicing_replicas"]),
    ("team pool unknown", _set("teams.ops.pools", ["nope"]), ["teams.ops.pools[0]"]),
    ("team namespace reserved", _set("teams.ops.namespace", "kube-system"), ["teams.ops.namespace"]),
    ("two teams one namespace", _set("teams.ops.namespace", "ml"), ["teams.ops.namespace"]),
    ("borrowing limit without cohort", _set("teams.ml.queue", {"borrowing_limit_percent": 20}),
     ["teams.ml.queue.cohort"]),
    ("queue quota above pool capacity", _set("teams.ml.queue", {"quotas": {"l4": {"gpus": 9}}}),
     ["teams.ml.queue.quotas.l4.gpus"]),
    ("model service unknown team", _set("model_services.llm.team", "nobody"), ["model_services.llm.team"]),
    ("model service unknown pool", _set("model_services.llm.pool", "h100"), ["model_services.llm.pool"]),
    ("model service pool not allowed for team", _set("model_services.llm.team", "ops"),
     ["model_services.llm.pool"]),
    ("model needs more GPUs than a node has", _set("model_services.llm.resources.gpus", 8),
     ["model_services.llm.resources"]),
    ("model memory does not fit a node", _set("model_services.llm.resources.memory", "500Gi"),
     ["model_services.llm.resources"]),
    ("GPU request on a CPU pool", _set("model_services.llm.pool", "system"),
     ["model_services.llm.resources.gpus"]),
    ("request-based scaling in Standard mode", _set("model_services.llm.scaling", {"metric": "rps", "target": 5}),
     ["model_services.llm.scaling.metric"]),
    ("min replicas above max", _set("model_services.llm.replicas", {"min": 3, "max": 2}),
     ["model_services.llm.replicas.min"]),
    ("canary percent above 100", _set("model_services.llm.canary", {"traffic_percent": 120,
                                                                     "storage_uri": "s3://models/v2"}),
     ["model_services.llm.canary.traffic_percent"]),
    ("canary without new model", _set("model_services.llm.canary", {"traffic_percent": 10}),
     ["model_services.llm.canary.storage_uri"]),
    ("both model and container", _set("model_services.llm.container", {"image": "vllm/vllm-openai:v0.11.0"}),
     ["model_services.llm"]),
    ("unpinned image", _set("model_services.llm", {"team": "ml", "pool": "l4",
                                                   "container": {"image": "vllm/vllm-openai"}}),
     ["model_services.llm.container.image"]),
    ("bad storage URI scheme", _set("model_services.llm.model.storage_uri", "ftp://x"),
     ["model_services.llm.model.storage_uri"]),
    ("bad quantity", _set("model_services.llm.resources.memory", "lots"), ["model_services.llm.resources.memory"]),
    ("allowed namespace unknown", _set("model_services.llm.allowed_namespaces", ["ghost"]),
     ["model_services.llm.allowed_namespaces[0]"]),
    ("Ray worker group with GPUs on a CPU pool", _set("ray_clusters.train.worker_groups.gpu.pool", "system"),
     ["ray_clusters.train.worker_groups.gpu.resources.gpus"]),
    ("Ray head with GPUs", _set("ray_clusters.train.head", {"resources": {"gpus": 1}}),
     ["ray_clusters.train.head.resources.gpus"]),
    ("Ray worker group named head", _set("ray_clusters.train.worker_groups.head", {"pool": "system"}),
     ["ray_clusters.train.worker_groups.head"]),
    ("queued RayJob with in-tree autoscaling", _set("ray_jobs.tune.cluster.autoscaling", True),
     ["ray_jobs.tune.cluster.autoscaling"]),
    ("queued RayJob that is not shut down", _set("ray_jobs.tune.shutdown_after_job_finishes", False),
     ["ray_jobs.tune.shutdown_after_job_finishes"]),
    ("unknown local queue", _set("ray_jobs.tune.queue", "fast"), ["ray_jobs.tune.queue"]),
    ("unknown priority class", _set("ray_jobs.tune.priority_class", "urgent"), ["ray_jobs.tune.priority_class"]),
    ("Ray worker needs more GPUs than a node has", _set("ray_jobs.tune.cluster.worker_groups.gpu.resources.gpus", 5),
     ["ray_jobs.tune.cluster.worker_groups.gpu.resources"]),
    ("Ray without worker groups", _set("ray_clusters.train.worker_groups", {}),
     ["ray_clusters.train.worker_groups"]),
    ("two workloads with one name in a namespace", _set("ray_clusters.llm", {
        "team": "ml", "worker_groups": {"cpu": {"pool": "system"}}}), ["ray_clusters.llm"]),
    ("model services without KServe", _set("addons.kserve", {"enabled": False}), ["model_services"]),
    ("KServe without cert-manager", _set("addons.cert_manager", {"enabled": False}),
     ["addons.cert_manager.enabled"]),
]


@pytest.mark.parametrize("environment", SHIPPED)
def test_shipped_stack_is_valid(environment: str) -> None:
    assert validate_file(str(ROOT / "stacks" / f"{environment}.yaml")) == []


def test_base_spec_of_these_tests_is_valid(tmp_path: Path) -> None:
    assert paths_of(tmp_path, BASE) == []


@pytest.mark.parametrize(("case", "change", "expected"), INVALID, ids=[case for case, _, _ in INVALID])
def test_invalid_spec_reports_exact_paths(tmp_path: Path, case: str, change, expected: list[str]) -> None:
    assert paths_of(tmp_path, mutate(change)) == sorted(expected)


def test_at_least_25_distinct_invalid_specs() -> None:
    assert len({case for case, _, _ in INVALID}) >= 25


def test_several_problems_are_reported_together(tmp_path: Path) -> None:
    spec = mutate(lambda s: None)
    for change in (
        _set("ray_clusters.train.bogus", 1),  # structural
        _set("model_services.llm.replicas", {"min": 3, "max": 2}),  # cross-field
        _set("ray_jobs.tune.priority_class", "urgent"),  # reference
        _set("teams.ml.queue", {"quotas": {"l4": {"gpus": 9}}}),  # capacity
    ):
        change(spec)
    assert paths_of(tmp_path, spec) == sorted([
        "ray_clusters.train.bogus",
        "model_services.llm.replicas.min",
        "ray_jobs.tune.priority_class",
        "teams.ml.queue.quotas.l4.gpus",
    ])


def test_broken_entry_does_not_hide_other_entries_problems(tmp_path: Path) -> None:
    spec = mutate(_set("model_services.llm.resources.cpu", "many"))
    spec["model_services"]["other"] = {"team": "nobody", "pool": "l4", "model": BASE["model_services"]["llm"]["model"]}
    assert paths_of(tmp_path, spec) == ["model_services.llm.resources.cpu", "model_services.other.team"]


def test_message_names_file_path_and_reason(tmp_path: Path) -> None:
    spec_file = write(tmp_path, mutate(_set("model_services.llm.resources.gpus", 8)))
    [problem] = validate_file(spec_file, "test")
    assert str(problem) == (
        f"{spec_file}: model_services.llm.resources: 8 GPUs per pod do not fit (4 GPUs per node) "
        "in pool 'l4' (after the system reserve)"
    )


def test_duplicate_yaml_key_is_an_error(tmp_path: Path) -> None:
    text = yaml.safe_dump(BASE).replace("teams:\n", "teams:\n  ml: {}\n", 1)
    [problem] = validate_file(write(tmp_path, text), "test")
    assert "duplicate key 'ml'" in problem.message


@pytest.mark.parametrize(("text", "reason"), [
    ("cluster: [unclosed", "invalid YAML"),
    ("- a list", "must be a YAML mapping"),
])
def test_unreadable_spec_is_one_clear_problem(tmp_path: Path, text: str, reason: str) -> None:
    [problem] = validate_file(write(tmp_path, text), "test")
    assert reason in problem.message


def test_missing_file_is_a_problem_not_a_traceback() -> None:
    [problem] = validate_file("stacks/does-not-exist.yaml", "test")
    assert problem.message.startswith("cannot read spec file")


def test_preinstalled_addon_names_are_checked(tmp_path: Path) -> None:
    settings = StackSettings(environment="test", spec_file=write(tmp_path, BASE),
                             preinstalled_addons=frozenset({"kserve", "knative"}))
    with pytest.raises(SpecError) as raised:
        load_platform(settings)
    assert raised.value.paths == ["gpuplat:preinstalledAddons"]


def test_preinstalled_addon_counts_as_present(tmp_path: Path) -> None:
    spec = mutate(_set("addons.kserve", {"enabled": False}))
    settings = StackSettings(environment="test", spec_file=write(tmp_path, spec),
                             preinstalled_addons=frozenset({"kserve"}))
    platform = load_platform(settings)
    assert platform.addon_present("kserve") and not platform.addon_installed("kserve")


def test_spec_object_is_frozen(tmp_path: Path) -> None:
    platform = load_platform(StackSettings(environment="test", spec_file=write(tmp_path, BASE)))
    with pytest.raises(Exception, match="frozen"):
        platform.spec.node_pools["l4"].max_nodes = 10  # type: ignore[misc]


def test_validate_command_prints_problems_and_exits_non_zero(tmp_path: Path) -> None:
    bad = write(tmp_path, mutate(_set("model_services.llm.replicas", {"min": 3, "max": 2})), "bad.yaml")
    result = subprocess.run([sys.executable, "-m", "components.spec", "validate", bad], cwd=ROOT,
                            capture_output=True, text=True, check=False)
    assert result.returncode == 1
    assert result.stdout.strip() == f"{bad}: model_services.llm.replicas.min: min 3 is greater than max 2"
    assert "Traceback" not in result.stderr


def test_validate_command_accepts_shipped_stacks() -> None:
    files = [f"stacks/{environment}.yaml" for environment in SHIPPED]
    result = subprocess.run([sys.executable, "-m", "components.spec", "validate", *files], cwd=ROOT,
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout
