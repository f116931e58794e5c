"""The offline checker: formats, exit codes, directories, malformed input, `--stack`, and a property test
that random documents never make the rule library raise.
"""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from policy_fixtures import build

from policies.check import main
from policies.engine import Engine
from policies.manifests import InputError, parse
from policies.model import Resource
from policies.registry import BY_ID

PRIVILEGED = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "web", "namespace": "ml"},
    "spec": {
        "template": {
            "spec": {"containers": [{"name": "c", "image": "nginx:1.27", "securityContext": {"privileged": True}}]}
        }
    },
}
ONLY_TWO = {"all": "disabled", "k8s-no-privileged": "mandatory", "k8s-image-digest": "advisory"}
PATH = "spec.template.spec.containers[0]"
PRIVILEGED_LINE = (
    f"MANDATORY k8s-no-privileged Deployment/ml/web {PATH}.securityContext.privileged: privileged container"
)
DIGEST_LINE = (
    f"ADVISORY k8s-image-digest Deployment/ml/web {PATH}.image: image 'nginx:1.27' is not pinned by @sha256 digest"
)


def write(path: Path, *documents: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump_all(documents))
    return path


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "only-two.json"
    path.write_text(json.dumps(ONLY_TWO))
    return path


def test_text_output_and_exit_1_on_mandatory(tmp_path: Path, config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    manifest = write(tmp_path / "web.yaml", PRIVILEGED)
    assert main(["--config", str(config), str(manifest)]) == 1
    out, err = capsys.readouterr()
    assert out.splitlines() == [DIGEST_LINE, PRIVILEGED_LINE]  # rule catalogue order
    assert "1 mandatory, 1 advisory" in err


def test_json_output(tmp_path: Path, config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    manifest = write(tmp_path / "web.yaml", PRIVILEGED)
    assert main(["--config", str(config), "--format", "json", str(manifest)]) == 1
    assert json.loads(capsys.readouterr().out)[1] == {
        "rule": "k8s-no-privileged",
        "level": "mandatory",
        "kind": "Deployment",
        "namespace": "ml",
        "name": "web",
        "path": "spec.template.spec.containers[0].securityContext.privileged",
        "message": "privileged container",
    }


def test_exit_0_with_advisory_only(tmp_path: Path, config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    harmless = json.loads(json.dumps(PRIVILEGED))
    harmless["spec"]["template"]["spec"]["containers"][0]["securityContext"] = {}
    assert main(["--config", str(config), "--format", "json", str(write(tmp_path / "a.yaml", harmless))]) == 0
    assert [f["rule"] for f in json.loads(capsys.readouterr().out)] == ["k8s-image-digest"]


def test_directory_lists_and_non_kubernetes_documents(
    tmp_path: Path, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = json.loads(json.dumps(PRIVILEGED))
    other["metadata"]["name"] = "api"
    write(tmp_path / "manifests" / "a.yaml", PRIVILEGED, None, {"just": "data"})
    write(tmp_path / "manifests" / "nested" / "b.yml", {"apiVersion": "v1", "kind": "List", "items": [other]})
    (tmp_path / "manifests" / "notes.txt").write_text("not: [yaml")
    assert main(["--config", str(config), "--format", "json", str(tmp_path / "manifests")]) == 1
    out, err = capsys.readouterr()
    assert sorted({f["name"] for f in json.loads(out)}) == ["api", "web"]
    assert "document 3: not a Kubernetes object" in err


def test_the_same_rules_as_the_pack_on_crd_nested_templates(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ray = build("raycluster", {"securityContext": {"privileged": True}})
    assert main(["--format", "json", str(write(tmp_path / "ray.yaml", dict(ray.props)))]) == 1
    privileged = [f for f in json.loads(capsys.readouterr().out) if f["rule"] == "k8s-no-privileged"]
    assert [(f["kind"], f["path"]) for f in privileged] == [
        ("RayCluster", "spec.workerGroupSpecs[1].template.spec.containers[0].securityContext.privileged")
    ]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("apiVersion: v1\nkind: Pod\nspec: [unclosed\n", "bad.yaml: line 4 invalid YAML"),
        ("a: 1\n\tb: 2\n", "bad.yaml: line 2 invalid YAML"),
        (b"\xff\xfe\x00bad", "bad.yaml: cannot read"),
    ],
)
def test_malformed_input_exits_2_with_a_clear_message(
    tmp_path: Path, content: str | bytes, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    assert main([str(path)]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_missing_path_and_bad_config_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    manifest = write(tmp_path / "web.yaml", PRIVILEGED)
    assert main([str(tmp_path / "nope.yaml")]) == 2
    assert "no such file or directory" in capsys.readouterr().err
    for bad, expected in [
        ({"k8s-no-such-rule": "mandatory"}, "unknown rules: k8s-no-such-rule"),
        ({"k8s-no-privileged": {"exemptions": [{"name": "x"}]}}, "every exemption needs a reason"),
        ({"k8s-resource-max": {"maxGpuPerPod": "eight"}}, "k8s-resource-max.maxGpuPerPod: expected a number"),
        ({"all": "strict"}, "'strict' is not one of"),
    ]:
        config = tmp_path / "bad.json"
        config.write_text(json.dumps(bad))
        assert main(["--config", str(config), str(manifest)]) == 2
        assert expected in capsys.readouterr().err
    (tmp_path / "bad.json").write_text("{")
    assert main(["--config", str(tmp_path / "bad.json"), str(manifest)]) == 2
    assert "not valid JSON" in capsys.readouterr().err


def test_stack_without_renderer_exits_2(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setitem(sys.modules, "tools.render", None)  # makes the import fail like a missing module
    assert main(["--stack", "dev"]) == 2
    assert "--stack needs tools/render.py with render_stack(env)" in capsys.readouterr().err


def _renderer(monkeypatch: pytest.MonkeyPatch, render: Any) -> list[str]:
    calls: list[str] = []
    module = types.ModuleType("tools.render")

    def render_stack(env: str) -> Any:
        calls.append(env)
        return render(env)

    module.render_stack = render_stack  # type: ignore[attr-defined]  # a stand-in module declares no attributes
    monkeypatch.setitem(sys.modules, "tools.render", module)
    return calls


def test_stack_renders_under_the_environment_config(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    digest_only = build("deployment", {"image": "nvcr.io/nvidia/pytorch:24.10-py3"})
    quota = (
        "kubernetes:core/v1:ResourceQuota",
        "quota",
        {"metadata": {"name": "q", "namespace": "ml"}, "spec": {"hard": {}}},
    )
    policy = (
        "kubernetes:networking.k8s.io/v1:NetworkPolicy",
        "deny",
        {"metadata": {"name": "deny", "namespace": "ml"}},
    )
    calls = _renderer(monkeypatch, lambda env: [(digest_only.type, "trainer", dict(digest_only.props)), quota, policy])
    assert main(["--stack", "prod", "--format", "json"]) == 0  # prod keeps k8s-image-digest advisory
    assert calls == ["prod"]
    rules = {(f["rule"], f["level"]) for f in json.loads(capsys.readouterr().out)}
    assert ("k8s-image-digest", "advisory") in rules and ("k8s-image-pull-policy", "advisory") in rules


def test_stack_render_failure_exits_2(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    def fail(env: str) -> Any:
        raise RuntimeError("stacks/dev.yaml: model_services.x.gpus: too many")

    _renderer(monkeypatch, fail)
    assert main(["--stack", "dev"]) == 2
    assert "rendering the stack failed: RuntimeError: stacks/dev.yaml" in capsys.readouterr().err


def test_no_input_is_a_usage_error() -> None:
    with pytest.raises(SystemExit) as exited:
        main([])
    assert exited.value.code == 2


# --- property-based: random documents never make the library raise ----------------------------------------

FIELDS = [
    "spec", "template", "containers", "initContainers", "ephemeralContainers", "resources", "limits", "requests",
    "nvidia.com/gpu", "cpu", "memory", "image", "securityContext", "privileged", "tolerations", "key", "effect",
    "operator", "volumes", "hostPath", "emptyDir", "path", "env", "name", "value", "headGroupSpec",
    "workerGroupSpecs", "rayClusterSpec", "rayClusterConfig", "submitterPodTemplate", "predictor", "model", "canary",
    "metadata", "labels", "annotations", "namespace", "rules", "verbs", "resourceGroups", "flavors", "nominalQuota",
    "coveredResources", "policy", "Statement", "vpcConfig", "blockDeviceMappings", "ebs", "encrypted",
    "scalingConfig", "maxSize", "instanceTypes", "taints", "nodeLabels", "nodeSelector", "affinity", "ports",
    "hostPort", "minReplicas", "maxReplicas", "replicas", "groupName", "clusterQueue", "kueue.x-k8s.io/queue-name",
    "storageUri", "livenessProbe", "capabilities",
]  # fmt: skip
WORDS = [
    "",
    "1",
    "0.5",
    "500m",
    "2Gi",
    "*",
    "true",
    "Always",
    "nvidia.com/gpu",
    "NoSchedule",
    "Exists",
    "x:latest",
    "[",
]
SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 20), st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(WORDS), st.text(max_size=8),
)  # fmt: skip
DOCUMENTS = st.recursive(
    SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(st.sampled_from(FIELDS), children, max_size=6)
    ),
    max_leaves=40,
)
KUBERNETES_KINDS = [
    "apps/v1:Deployment", "ray.io/v1:RayCluster", "ray.io/v1:RayJob", "ray.io/v1:RayService", "core/v1:Pod",
    "serving.kserve.io/v1beta1:InferenceService", "core/v1:Service", "batch/v1:CronJob", "helm.sh/v3:Release",
    "kueue.x-k8s.io/v1beta2:ClusterQueue", "kueue.x-k8s.io/v1beta2:LocalQueue", "kueue.x-k8s.io/v1beta2:ResourceFlavor",
    "rbac.authorization.k8s.io/v1:ClusterRole", "networking.istio.io/v1:Gateway",
]  # fmt: skip
TOKENS = sorted(
    {f"kubernetes:{kind}" for kind in KUBERNETES_KINDS} | {t for r in BY_ID.values() for t in r.kinds if ":" in t}
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents=st.lists(st.tuples(st.sampled_from(TOKENS), DOCUMENTS), min_size=1, max_size=4))
def test_random_documents_never_raise(documents: list[tuple[str, Any]]) -> None:
    resources = [
        Resource(token, f"r{i}", props if isinstance(props, dict) else {"spec": props})
        for i, (token, props) in enumerate(documents)
    ]
    for finding in Engine().run(resources):
        assert finding.rule in BY_ID and finding.level in ("mandatory", "advisory")


@settings(max_examples=200, deadline=None)
@given(
    text=st.one_of(
        st.text(max_size=200), DOCUMENTS.map(lambda d: yaml.safe_dump({"apiVersion": "v1", "kind": "Pod", "spec": d}))
    )
)
def test_random_text_is_read_or_refused_cleanly(text: str) -> None:
    try:
        resources = parse(text, "fuzz.yaml", [])
    except InputError as error:
        assert str(error).startswith("fuzz.yaml:")
        return
    Engine().run(resources)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a node of a document (keys and list indexes)."""
    children = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else []
    return [prefix] + [path for key, child in children for path in _paths(child, (*prefix, key))]


GOOD_DOCUMENTS = [
    (build(shape).type, dict(build(shape).props))
    for shape in ("deployment", "raycluster", "rayjob", "rayservice", "isvc", "isvc-canary", "cronjob")
]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_good_documents_with_a_random_subtree_never_raise(data: st.DataObject) -> None:
    """Random values deep inside real templates reach the paths random top-level documents rarely do."""
    token, props = data.draw(st.sampled_from(GOOD_DOCUMENTS))
    document = json.loads(json.dumps(props))
    for _ in range(data.draw(st.integers(1, 3))):
        path = data.draw(st.sampled_from(_paths(document)[1:]))
        parent = document
        for key in path[:-1]:
            parent = parent[key]
        parent[path[-1]] = data.draw(DOCUMENTS)
    Engine().run([Resource(token, "fuzzed", document)])
