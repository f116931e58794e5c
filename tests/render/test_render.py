"""`tools.render`: the desired state of a stack as YAML documents, with every secret value masked."""

from __future__ import annotations

from pathlib import Path

import pulumi
import pulumi_kubernetes as k8s
import pytest
import yaml

from tools import render
from tools.mock_runtime import record
from tools.render import SECRET, Document, documents_of, dump, load, render_documents, render_stack

ROOT = Path(__file__).resolve().parents[2]


def _by_title(documents: list[Document]) -> dict[str, Document]:
    return {document.title(): document for document in documents}


# ---------------------------------------------------------------- secrets


def _program_with_secrets() -> None:
    provider = k8s.Provider("cluster", kubeconfig="apiVersion: v1\nusers: [{name: u, user: {token: KUBE-TOKEN}}]")
    k8s.core.v1.Secret(
        "hf",
        metadata={"name": "hf", "namespace": "serving"},
        string_data={"HF_TOKEN": "hf_PLAIN_SECRET_DATA"},
        opts=pulumi.ResourceOptions(provider=provider),
    )
    k8s.core.v1.ConfigMap(
        "settings",
        metadata={"name": "settings", "namespace": "serving"},
        data={"endpoint": "https://example.internal", "password": pulumi.Output.secret("OUTPUT-SECRET-VALUE")},
    )
    k8s.core.v1.ConfigMap(
        "marked",
        metadata={"name": "marked", "namespace": "serving"},
        data={"license": "LICENSE-KEY-IN-MARKED-OUTPUT"},
        opts=pulumi.ResourceOptions(additional_secret_outputs=["data"]),
    )
    k8s.helm.v4.Chart(
        "chart",
        chart="example",
        version="1.2.3",
        values={"replicas": 2, "auth": {"password": pulumi.Output.secret("CHART-VALUES-SECRET")}},
    )


def test_every_kind_of_secret_is_masked_and_its_value_absent_from_the_render() -> None:
    documents = documents_of(record(_program_with_secrets))
    text = dump(documents)

    for value in ("KUBE-TOKEN", "hf_PLAIN_SECRET_DATA", "OUTPUT-SECRET-VALUE", "LICENSE-KEY-IN-MARKED-OUTPUT",
                  "CHART-VALUES-SECRET"):  # fmt: skip
        assert value not in text
    by_title = _by_title(documents)
    assert by_title["pulumi:providers:kubernetes cluster"].props["kubeconfig"] == SECRET  # credentials, even plain
    assert by_title["Secret serving/hf"].props["stringData"] == SECRET  # Secret payloads, even plain
    # A secret inside a property makes the whole top-level property secret (Pulumi's granularity).
    assert by_title["ConfigMap serving/settings"].props["data"] == SECRET
    assert by_title["ConfigMap serving/settings"].props["metadata"] == {"name": "settings", "namespace": "serving"}
    assert by_title["ConfigMap serving/marked"].props["data"] == SECRET  # additional_secret_outputs
    chart = by_title["kubernetes:helm.sh/v4:Chart chart"].props
    assert chart["values"] == SECRET
    assert chart["version"] == "1.2.3"


def test_mask_secrets_replaces_the_rpc_secret_wrapper_at_any_depth() -> None:
    wrapped = {"4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", "value": "s3cr3t"}
    props = {"a": [1, {"b": wrapped}], "c": wrapped, "d": "plain"}

    assert render.mask_secrets(props) == {"a": [1, {"b": SECRET}], "c": SECRET, "d": "plain"}


def test_the_kubeconfig_of_an_existing_cluster_never_reaches_the_render(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text("apiVersion: v1\nkind: Config\nusers:\n- name: me\n  user: {token: LOCAL-CLUSTER-TOKEN}\n")

    documents = render_documents("local", config={"gpuplat:kubeconfig": str(kubeconfig)})

    providers = [document for document in documents if document.type == "pulumi:providers:kubernetes"]
    assert [provider.props["kubeconfig"] for provider in providers] == [SECRET]
    assert "LOCAL-CLUSTER-TOKEN" not in dump(documents)


# ---------------------------------------------------------------- the render of a real stack


def test_render_stack_returns_type_name_and_plain_props_of_every_resource() -> None:
    records = render_stack("prod")

    assert all(isinstance(token, str) and isinstance(name, str) and isinstance(props, dict)
               for token, name, props in records)  # fmt: skip
    by_kind = {}
    for token, name, props in records:
        by_kind.setdefault(token, []).append((name, props))
    services = {
        props["metadata"]["name"]: props
        for _, props in by_kind["kubernetes:serving.kserve.io/v1beta1:InferenceService"]
    }
    assert set(services) == {"llama-3-8b", "llama-3-70b", "mistral-7b", "embeddings"}
    llama = services["llama-3-8b"]
    assert (llama["apiVersion"], llama["kind"], llama["metadata"]["namespace"]) == (
        "serving.kserve.io/v1beta1", "InferenceService", "serving",
    )  # fmt: skip
    # Protobuf numbers come back as ints where they are whole, as in the manifest.
    assert llama["spec"]["predictor"]["minReplicas"] == 2
    assert type(llama["spec"]["predictor"]["minReplicas"]) is int
    # Components and cloud resources are there too, not only Kubernetes objects.
    assert "gpuplat:workloads:Workloads" in by_kind
    assert "aws:eks/cluster:Cluster" in by_kind
    assert "kubernetes:helm.sh/v4:Chart" in by_kind


def test_a_render_reads_back_to_the_same_documents() -> None:
    documents = render_documents("prod")

    text = dump(documents)

    assert load(text) == documents
    assert text.startswith("# pulumi: ")


def test_kubernetes_objects_are_their_manifests_and_other_resources_type_name_inputs() -> None:
    documents = render_documents("prod")
    text = dump(documents)
    bodies = list(yaml.safe_load_all(text))

    service = next(body for body in bodies if body.get("kind") == "InferenceService")
    assert list(service)[:3] == ["apiVersion", "kind", "metadata"]
    chart = next(body for body in bodies if body.get("type") == "kubernetes:helm.sh/v4:Chart")
    assert set(chart) == {"type", "name", "inputs"}
    assert len(bodies) == len(documents)


def test_the_stack_file_config_applies_as_the_engine_would_apply_it() -> None:
    """Pulumi.local.yaml sets gpuplat:kubeContext; the provider of the local stack gets that context."""
    documents = render_documents("local")

    provider = next(document for document in documents if document.type == "pulumi:providers:kubernetes")
    assert provider.props["context"] == "kind-gpuplat"
    assert render.stack_file_config("local")["gpuplat:kubeContext"] == "kind-gpuplat"


def test_encrypted_stack_config_is_passed_as_the_secret_placeholder(tmp_path: Path) -> None:
    (tmp_path / "Pulumi.dev.yaml").write_text(
        "config:\n  gpuplat:skipAwait: true\n  preinstalledAddons: [kserve]\n  gpuplat:token:\n    secure: AAABAxyz\n"
    )

    assert render.stack_file_config("dev", root=tmp_path) == {
        "gpuplat:skipAwait": "true",
        "gpuplat:preinstalledAddons": '["kserve"]',
        "gpuplat:token": SECRET,
    }


def test_identity_ignores_the_api_version_of_kubernetes_objects() -> None:
    queue = {"apiVersion": "kueue.x-k8s.io/v1beta1", "kind": "ClusterQueue", "metadata": {"name": "serving"}}
    old = Document("kubernetes:kueue.x-k8s.io/v1beta1:ClusterQueue", "queues-serving", queue)
    new = Document("kubernetes:kueue.x-k8s.io/v1beta2:ClusterQueue", "queues-serving",
                   {**queue, "apiVersion": "kueue.x-k8s.io/v1beta2"})  # fmt: skip
    chart = Document("kubernetes:helm.sh/v4:Chart", "platform-kueue", {"chart": "kueue", "version": "1"})

    assert old.identity() == new.identity() == ("kubernetes", "ClusterQueue", "", "serving")
    assert new.title() == "ClusterQueue serving"
    assert chart.identity() == ("resource", "kubernetes:helm.sh/v4:Chart", "platform-kueue")
    assert not chart.is_kubernetes_object


# ---------------------------------------------------------------- command line


def test_cli_writes_one_file_per_environment(tmp_path: Path) -> None:
    assert render.main(["local", "prod", "--out", str(tmp_path)]) == 0

    assert sorted(path.name for path in tmp_path.iterdir()) == ["local.yaml", "prod.yaml"]
    assert load((tmp_path / "prod.yaml").read_text()) == render_documents("prod")


def test_cli_prints_one_environment_with_a_spec_override(spec_variant, capsys: pytest.CaptureFixture[str]) -> None:
    spec = spec_variant("fewer", lambda spec: spec["model_services"].pop("embeddings"))

    assert render.main(["prod", "--spec", str(spec)]) == 0

    titles = {document.title() for document in load(capsys.readouterr().out)}
    assert "InferenceService serving/llama-3-8b" in titles
    assert "InferenceService research/embeddings" not in titles


def test_cli_reports_an_invalid_spec_in_one_line_and_fails(spec_variant, capsys: pytest.CaptureFixture[str]) -> None:
    spec = spec_variant("bad", lambda spec: spec["model_services"]["llama-3-8b"].update(pool="no-such-pool"))

    assert render.main(["prod", "--spec", str(spec)]) == 1

    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("error: prod: the program failed under mocks:")
    assert "model_services.llama-3-8b.pool" in captured.err
    assert "Traceback" not in captured.err


def test_cli_refuses_several_environments_on_stdout() -> None:
    with pytest.raises(SystemExit) as exit_info:
        render.main(["local", "prod"])
    assert exit_info.value.code == 2
