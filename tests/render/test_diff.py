"""`tools.diff`: field-level Markdown diff of desired states, with the policy findings on the new state."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tools import diff
from tools.diff import (
    MISSING,
    EnvironmentReport,
    FieldChange,
    affected_environments,
    check_policies,
    code,
    diff_documents,
    field_changes,
    markdown,
    truncate,
)
from tools.render import Document, dump, render_documents

ROOT = Path(__file__).resolve().parents[2]


def _section(text: str, heading: str) -> list[str]:
    """The bullet lines under `#### heading` (up to the next heading)."""
    lines = text.splitlines()
    if f"#### {heading}" not in lines:
        return []
    start = lines.index(f"#### {heading}") + 1
    section = []
    for line in lines[start:]:
        if line.startswith("#"):
            break
        if line.startswith("- "):
            section.append(line)
    return section


def _report(old: list[Document], new: list[Document], environment: str = "prod") -> str:
    report = EnvironmentReport(environment, diff=diff_documents(old, new))
    check_policies(report, new, old)
    return markdown([report], "old → new")


# ---------------------------------------------------------------- the acceptance scenario


def _edit_prod(spec: dict[str, Any]) -> None:
    spec["model_services"]["qwen-2-7b"] = {
        "team": "serving",
        "pool": "l4-serve",
        "model": {"format": "huggingface", "storage_uri": "s3://example-models-prod/Qwen/Qwen2-7B-Instruct"},
        "resources": {"cpu": "8", "memory": "40Gi", "gpus": 1},
        "replicas": {"min": 1, "max": 2},
    }
    spec["model_services"]["llama-3-8b"]["replicas"]["min"] = 3
    del spec["ray_jobs"]["pretrain"]
    spec["addons"]["kueue"] = {"version": "0.19.3"}


def test_diff_of_two_specs_shows_exactly_the_added_model_the_replicas_the_removed_job_and_the_chart(spec_variant):
    old = render_documents("prod", spec=str(spec_variant("old", lambda spec: None)))
    new = render_documents("prod", spec=str(spec_variant("new", _edit_prod)))

    text = _report(old, new)

    added, removed, changed = (_section(text, heading) for heading in ("Added", "Removed", "Changed"))
    # The four edits, as a reviewer reads them.
    assert "- `InferenceService serving/qwen-2-7b`" in added
    assert "- `gpuplat:serving:ModelService workloads-qwen-2-7b`" in added
    assert "- `RayJob research/pretrain`" in removed
    assert "- `gpuplat:ray:RayJob workloads-pretrain`" in removed
    assert "- `InferenceService serving/llama-3-8b: spec.predictor.minReplicas 2 -> 3`" in changed
    assert '- `kubernetes:helm.sh/v4:Chart platform-kueue-controller: version "0.19.2" -> "0.19.3"`' in changed
    # And nothing else: everything added is the new model's, everything removed the job's or its namespace's
    # Ray plumbing. The other changes follow from the new model and the replica change: the serving team's
    # quota grows, and the model services' floor on l4-serve grows, so the Kueue quotas derived from what is
    # left shrink (both ClusterQueues, and the research ResourceQuota that counts its Kueue share).
    assert all("qwen-2-7b" in line for line in added)
    assert all("pretrain" in line or " research/" in line for line in removed)
    changed_resources = {line.split(": ", 1)[0].removeprefix("- `") for line in changed}
    assert changed_resources == {
        "InferenceService serving/llama-3-8b",
        "kubernetes:helm.sh/v4:Chart platform-kueue-controller",
        "ResourceQuota serving/serving",
        "ResourceQuota research/research",
        "ClusterQueue serving",
        "ClusterQueue research",
    }
    assert [line for line in changed if "llama-3-8b" in line or "kueue" in line] == [
        "- `InferenceService serving/llama-3-8b: spec.predictor.minReplicas 2 -> 3`",
        '- `kubernetes:helm.sh/v4:Chart platform-kueue-controller: version "0.19.2" -> "0.19.3"`',
    ]
    unchanged = len(old) - len(removed) - len(changed_resources)
    assert f"{len(added)} added, {len(removed)} removed, 6 changed, {unchanged} unchanged." in text.splitlines()
    assert "| prod | " in text


def test_the_same_spec_twice_has_no_changes(spec_variant):
    documents = render_documents("prod")
    again = render_documents("prod", spec=str(spec_variant("same", lambda spec: None)))

    text = _report(documents, again)

    assert f"No changes ({len(documents)} resources)." in text.splitlines()
    assert _section(text, "Changed") == []


# ---------------------------------------------------------------- policy findings on the new state


def _token_in_env(spec: dict[str, Any]) -> None:
    spec["model_services"]["tgi"] = {
        "team": "serving",
        "pool": "l4-serve",
        "container": {
            "image": "ghcr.io/huggingface/text-generation-inference:3.3.4",
            "env": {"HF_TOKEN": "hf_literal_token_for_the_test"},
        },
        "resources": {"cpu": "8", "memory": "40Gi", "gpus": 1},
    }


def test_a_violation_the_spec_accepts_but_the_pack_refuses_is_reported_as_new(spec_variant):
    """A literal HF_TOKEN is valid spec but breaks the mandatory rule k8s-secrets-not-in-env."""
    old = render_documents("prod")
    new = render_documents("prod", spec=str(spec_variant("token", _token_in_env)))

    text = _report(old, new)

    findings = _section(text, "Policy check (new state)")
    expected = (
        "- **new** `MANDATORY k8s-secrets-not-in-env InferenceService/serving/tgi "
        "spec.predictor.containers[0].env[1].value: literal credential in environment variable 'HF_TOKEN'"
    )  # env[0] is the HOME=/tmp the builders set for a read-only root filesystem
    assert [line for line in findings if line.startswith(expected)] != []
    # Findings the base already had are listed without the mark.
    assert all("serving/tgi" in line for line in findings if line.startswith("- **new**"))
    assert any(line.startswith("- `") for line in findings)
    assert "(policies/config/prod.json)" in text.replace("`", "")


def test_an_object_injected_into_a_render_is_diffed_and_checked(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    old_dir, new_dir = tmp_path / "old", tmp_path / "new"
    old_dir.mkdir()
    new_dir.mkdir()
    documents = render_documents("dev")
    (old_dir / "dev.yaml").write_text(dump(documents))
    debug = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "debug", "namespace": "serving"},
        "spec": {
            "selector": {"matchLabels": {"app": "debug"}},
            "template": {
                "metadata": {"labels": {"app": "debug"}},
                "spec": {
                    "containers": [{"name": "shell", "image": "busybox", "securityContext": {"privileged": True}}]
                },
            },
        },
    }
    (new_dir / "dev.yaml").write_text(dump([*documents, Document("kubernetes:apps/v1:Deployment", "debug", debug)]))

    assert diff.main([str(old_dir), str(new_dir)]) == 0

    text = capsys.readouterr().out
    assert _section(text, "Added") == ["- `Deployment serving/debug`"]
    new_findings = [line for line in _section(text, "Policy check (new state)") if line.startswith("- **new**")]
    rules = {line.split()[3] for line in new_findings}
    assert {"k8s-no-privileged", "k8s-image-tag-pinned"} <= rules
    assert all("Deployment/serving/debug" in line for line in new_findings)


# ---------------------------------------------------------------- field-level changes


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        pytest.param({"a": 1}, {"a": 1}, [], id="equal"),
        pytest.param({"spec": {"replicas": 1}}, {"spec": {"replicas": 2}}, ["spec.replicas 1 -> 2"], id="scalar"),
        pytest.param({"a": {}}, {"a": {"b": "x"}}, ['a.b (none) -> "x"'], id="added-field"),
        pytest.param({"a": {"b": [1]}}, {"a": {}}, ["a.b [1] -> (none)"], id="removed-field"),
        pytest.param(
            {"labels": {"gpuplat.io/pool": "a"}}, {"labels": {"gpuplat.io/pool": "b"}},
            ['labels["gpuplat.io/pool"] "a" -> "b"'], id="key-that-is-not-an-identifier",
        ),
        pytest.param(
            {"containers": [{"name": "main", "image": "a:1"}, {"name": "side", "image": "s:1"}]},
            {"containers": [{"name": "side", "image": "s:1"}, {"name": "main", "image": "a:2"}]},
            ['containers[name=main].image "a:1" -> "a:2"'], id="named-items-matched-by-name-not-position",
        ),
        pytest.param(
            {"groups": [{"groupName": "a", "replicas": 1}]},
            {"groups": [{"groupName": "a", "replicas": 1}, {"groupName": "b", "replicas": 2}]},
            ['groups[groupName=b] (none) -> {"groupName": "b", "replicas": 2}'], id="named-item-added",
        ),
        pytest.param({"args": ["a", "b"]}, {"args": ["a", "c"]}, ['args[1] "b" -> "c"'], id="list-same-length"),
        pytest.param({"args": ["a"]}, {"args": ["a", "b"]}, ['args ["a"] -> ["a", "b"]'], id="list-grown"),
        pytest.param(
            {"policy": '{"Statement": [{"Action": "s3:GetObject"}]}'},
            {"policy": '{"Statement": [{"Action": "s3:*"}]}'},
            ['policy(json).Statement[0].Action "s3:GetObject" -> "s3:*"'], id="embedded-json",
        ),
        pytest.param(
            {"config": "a: 1\nb: 2\n"}, {"config": "a: 1\nb: 3\n"}, ["config(yaml).b 2 -> 3"], id="embedded-yaml",
        ),
        pytest.param(
            {"config": "a: 1\nb: 2\n"}, {"config": "b: 2\na: 1\n"}, ['config "a: 1\\nb: 2\\n" -> "b: 2\\na: 1\\n"'],
            id="embedded-yaml-same-data-other-text",
        ),
        pytest.param({"a": 1}, {"a": "1"}, ['a 1 -> "1"'], id="type-change"),
    ],
)  # fmt: skip
def test_field_changes(old: Any, new: Any, expected: list[str]) -> None:
    assert [change.text() for change in field_changes(old, new)] == expected


def test_long_values_are_cut() -> None:
    change = FieldChange("data.script", "x" * 500, MISSING)

    assert change.text() == f'data.script "{"x" * 198}… -> (none)'


def test_code_spans_hold_backticks() -> None:
    assert code("plain") == "`plain`"
    assert code("a `b` c") == "``a `b` c``"
    assert code("`edge`") == "`` `edge` ``"


def test_resources_with_one_identity_in_two_api_groups_are_told_apart() -> None:
    def gateway(group: str, name: str) -> Document:
        manifest = {"apiVersion": f"{group}/v1", "kind": "Gateway", "metadata": {"name": "gw", "namespace": "a"}}
        return Document(f"kubernetes:{group}/v1:Gateway", name, manifest)

    istio, gateway_api = gateway("networking.istio.io", "istio-gw"), gateway("gateway.networking.k8s.io", "api-gw")

    result = diff_documents([istio], [istio, gateway_api])

    assert result.added == ("Gateway a/gw (gateway.networking.k8s.io)",)
    assert result.removed == ()
    assert [title for title, _ in result.changed] == []


def test_truncate_cuts_at_a_line_and_says_how_much_is_missing() -> None:
    text = "\n".join(f"line {number}" for number in range(1000))

    cut = truncate(text, 500)

    assert len(cut) <= 500
    assert cut.splitlines()[0] == "line 0"
    assert cut.rstrip().endswith("more lines not shown: the full report is in the workflow run's artifacts._")
    assert truncate(text, None) == text


# ---------------------------------------------------------------- affected environments


ENVIRONMENTS = ["dev", "staging", "prod"]


@pytest.mark.parametrize(
    ("paths", "expected"),
    [
        (["stacks/prod.yaml"], ["prod"]),
        (["Pulumi.staging.yaml", "stacks/dev.yaml"], ["dev", "staging"]),
        (["stacks/local.yaml", "Pulumi.local.yaml"], []),
        (["components/model_service.py"], ENVIRONMENTS),
        (["__main__.py"], ENVIRONMENTS),
        (["policies/rules/images.py"], ENVIRONMENTS),
        (["requirements.lock"], ENVIRONMENTS),
        (["Pulumi.yaml"], ENVIRONMENTS),
        (["README.md", "docs/review-flow.md", "tests/render/test_diff.py", "tools/render.py"], []),
        (["stacks/dev.yaml.orig", "stacks/old/prod.yaml"], []),
    ],
)
def test_affected_environments(paths: list[str], expected: list[str]) -> None:
    assert affected_environments(paths, ENVIRONMENTS) == expected


# ---------------------------------------------------------------- two git revisions


def _project_copy(into: Path) -> Path:
    """This checkout's files (tracked and untracked, not ignored) as a fresh one-commit repository."""
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT, check=True,
                            capture_output=True, text=True).stdout  # fmt: skip
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file():
            (into / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, into / name)
    _git(into, "init", "-q", "-b", "main")
    _git(into, "add", "-A")
    _git(into, "commit", "-q", "-m", "base")
    return into


def _git(repo: Path, *arguments: str) -> str:
    command = ["git", "-c", "user.name=test", "-c", "user.email=test@example.invalid", *arguments]
    return subprocess.run(command, cwd=repo, check=True, capture_output=True, text=True).stdout


def test_two_revisions_are_materialised_rendered_and_diffed(tmp_path: Path) -> None:
    repo = _project_copy(tmp_path / "repo")
    spec = repo / "stacks" / "dev.yaml"
    text = spec.read_text()
    assert "    max_nodes: 4\n" in text
    spec.write_text(text.replace("    max_nodes: 4\n", "    max_nodes: 5\n", 1))
    _git(repo, "commit", "-q", "-am", "dev: one more system node at most")
    renders = tmp_path / "renders"

    reports = diff.reports_from_revisions("HEAD~1", "HEAD", ["dev", "prod"], repo=repo, renders_dir=renders)

    dev, prod = reports
    assert (dev.environment, prod.environment) == ("dev", "prod")
    assert dev.error is None and dev.diff is not None
    assert any(change.path == "scalingConfig.maxSize" and (change.old, change.new) == (4, 5)
               for _, changes in dev.diff.changed for change in changes)  # fmt: skip
    assert prod.diff is not None and prod.diff.empty
    assert dev.findings is not None and dev.new_findings == set()
    assert sorted(path.relative_to(renders).as_posix() for path in renders.rglob("*.yaml")) == [
        "base/dev.yaml", "base/prod.yaml", "head/dev.yaml", "head/prod.yaml",
    ]  # fmt: skip
    assert diff.affected_environments(diff.changed_paths("HEAD~1", "HEAD", repo), ENVIRONMENTS) == ["dev"]


def test_a_head_that_cannot_render_is_reported_and_fails(tmp_path: Path) -> None:
    repo = _project_copy(tmp_path / "repo")
    spec = repo / "stacks" / "dev.yaml"
    spec.write_text(spec.read_text() + "\nunknown_section: {}\n")
    _git(repo, "commit", "-q", "-am", "break dev")

    (report,) = diff.reports_from_revisions("HEAD~1", "HEAD", ["dev"], repo=repo)
    text = markdown([report], "test")

    assert report.diff is None
    assert report.error is not None and "stacks/dev.yaml: unknown_section: unknown key" in report.error
    assert "**The new state cannot be rendered:**" in text.splitlines()
    assert "| dev | **render failed** |" in text
