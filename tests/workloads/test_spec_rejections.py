"""Workload specs the loader must refuse, each reported with the file, the dotted path and the reason."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.spec import SpecError
from components.spec.loader import StackSettings, load_platform, validate_file
from tests.workloads.support import BASE

VALID: dict[str, Any] = {
    **copy.deepcopy(BASE),
    "model_services": {"llm": {
        "team": "ml", "pool": "l4",
        "model": {"format": "huggingface", "storage_uri": "s3://models/llm"},
        "resources": {"cpu": "8", "memory": "40Gi", "gpus": 1},
        "replicas": {"min": 1, "max": 2},
    }},
    "ray_jobs": {"tune": {
        "team": "ml", "entrypoint": "python tune.py",
        "cluster": {"worker_groups": {"gpu": {"pool": "l4", "resources": {"cpu": "8", "memory": "32Gi", "gpus": 1}}}},
    }},
}


def _write(tmp_path: Path, spec: dict[str, Any]) -> str:
    path = tmp_path / "workloads.yaml"
    path.write_text(yaml.safe_dump(spec), encoding="utf-8")
    return str(path)


def _with(change: dict[str, Any]) -> dict[str, Any]:
    """VALID with `change` merged in (nested dicts merged, everything else replaced)."""
    def merge(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
        for key, value in update.items():
            base[key] = merge(base.get(key, {}), value) if isinstance(value, dict) else value
        return base
    return merge(copy.deepcopy(VALID), copy.deepcopy(change))


def test_the_base_spec_is_valid(tmp_path: Path) -> None:
    assert validate_file(_write(tmp_path, VALID)) == []


@pytest.mark.parametrize(("change", "path", "reason"), [
    pytest.param(
        {"model_services": {"llm": {"resources": {"gpus": 8}}}},
        "model_services.llm.resources", "8 GPUs per pod do not fit (4 GPUs per node)",
        id="model-needs-more-gpus-than-a-node-has"),
    pytest.param(
        {"ray_jobs": {"tune": {"cluster": {"worker_groups": {"gpu": {"pool": "cpu"}}}}}},
        "ray_jobs.tune.cluster.worker_groups.gpu.resources.gpus", "asks for 1 GPUs but pool 'cpu' has no GPUs",
        id="ray-gpu-worker-group-on-a-cpu-pool"),
    pytest.param(
        {"ray_jobs": {"tune": {"cluster": {"autoscaling": True}}}},
        "ray_jobs.tune.cluster.autoscaling", "Kueue rejects in-tree autoscaling on a queued Ray cluster",
        id="queued-ray-job-with-in-tree-autoscaling"),
    pytest.param(
        {"model_services": {"llm": {"canary": {"traffic_percent": 101, "storage_uri": "s3://models/llm-v2"}}}},
        "model_services.llm.canary.traffic_percent", "less than or equal to 100",
        id="canary-percent-above-100"),
    pytest.param(
        {"model_services": {"llm": {"canary": {"traffic_percent": -5, "storage_uri": "s3://models/llm-v2"}}}},
        "model_services.llm.canary.traffic_percent", "greater than or equal to 0",
        id="canary-percent-below-0"),
    pytest.param(
        {"model_services": {"llm": {"replicas": {"min": 3, "max": 2}}}},
        "model_services.llm.replicas.min", "min 3 is greater than max 2",
        id="model-min-replicas-above-max"),
    pytest.param(
        {"ray_jobs": {"tune": {"cluster": {"worker_groups": {"gpu": {"replicas": {"min": 2, "max": 1}}}}}}},
        "ray_jobs.tune.cluster.worker_groups.gpu.replicas.min", "min 2 is greater than max 1",
        id="worker-min-replicas-above-max"),
    pytest.param(
        {"teams": {"ml": {"queue": {"quotas": {"l4": {"gpus": 9}}}}}},
        "teams.ml.queue.quotas.l4.gpus", "quotas total 9 but pool 'l4' can give Kueue only 7",
        id="queue-quota-above-pool-capacity"),
])
def test_rejected_with_file_path_and_reason(tmp_path: Path, change: dict[str, Any], path: str, reason: str) -> None:
    spec_file = _write(tmp_path, _with(change))
    problems = validate_file(spec_file)
    matching = [problem for problem in problems if problem.path == path]
    assert matching, f"no problem at {path}: {[str(p) for p in problems]}"
    assert reason in matching[0].message
    assert matching[0].file == spec_file
    assert str(matching[0]).startswith(f"{spec_file}: {path}: ")


def test_over_committed_quota_refuses_to_load_with_a_clear_error(tmp_path: Path) -> None:
    spec = _with({"teams": {"ml": {"queue": {"quotas": {"l4": {"gpus": 6}}}},
                            "research": {"queue": {"quotas": {"l4": {"gpus": 4}}}}}})
    settings = StackSettings(environment="test", spec_file=_write(tmp_path, spec))
    with pytest.raises(SpecError) as raised:
        load_platform(settings)
    assert "teams.ml.queue.quotas.l4.gpus" in raised.value.paths
    assert "teams.research.queue.quotas.l4.gpus" in raised.value.paths
    # 8 GPUs in the pool, one held by the model service's min replica.
    assert ("quotas total 10 but pool 'l4' can give Kueue only 7 (2 nodes at most, less the model services' "
            "min replicas)") in str(raised.value)
