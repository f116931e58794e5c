"""End-to-end (issue #6): the `local` stack's platform objects on a real kube-apiserver, through the real engine.

The real `pulumi` CLI, Python language host and pulumi-kubernetes provider (built by
`scripts/install-engine`) deploy the `local` stack -- its team, Kueue queues, model service and Ray
workloads -- onto the loopback API server of `scripts/local-apiserver`, so every object passes the real
API server's validation (built-in types and the pinned CRDs' structural schemas, CEL rules included).

The set-up is what a cluster with the add-ons installed by other means looks like:
- the add-ons' CRDs are server-side applied from the pinned reference files (`crd_apply.py`), as their
  charts would;
- every add-on whose chart cannot be fetched here is listed in `gpuplat:preinstalledAddons` (GPU support
  is already off in `stacks/local.yaml`), and `gpuplat:skipAwait` is true since nothing ever becomes ready
  without nodes;
- the `istio-ingress` namespace exists: a pre-installed Istio's ingress gateway lives there, and the stack
  puts the Ray dashboards' AuthorizationPolicies next to it.

The project runs from a copy in a temporary directory (Pulumi.yaml's `virtualenv` made absolute, the
repository's venv), with a file backend there and the stack named `local` (the program derives the
environment and the default spec file from the stack name), so nothing in the work tree is touched and
concurrent runs do not share state. The stack is destroyed and removed in the module fixture's `finally`.

The tests run in file order against one deployed stack: objects accepted and present, no drift, a
one-model change diffs only where it should, the policy pack blocks a seeded violation under the prod
configuration, and destroy removes everything.
"""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.spec.rules import ADDON_NAMES
from tests.e2e import crd_apply
from tests.support.reference import reference_dir

REPO = Path(__file__).resolve().parents[2]
VENV = REPO / "venv"
POLICIES = REPO / "policies"
STACK = "local"
PROJECT_PATHS = ("Pulumi.yaml", "__main__.py", "components", "stacks", "dashboards")

# Every add-on whose chart cannot be fetched here; GPU support is disabled in stacks/local.yaml itself.
PREINSTALLED = ("kuberay", "kueue", "cert_manager", "kserve", "monitoring", "istio")
# Namespaces a pre-installed add-on brings along that the stack's objects are created in.
PREINSTALLED_NAMESPACES = ("istio-ingress",)

# What the local spec must produce on the API server, at least (kind, namespace or None, name). Every other
# Kubernetes object in the stack's state is checked too (see `test_objects_accepted_by_the_api_server`).
REQUIRED_OBJECTS = (
    ("Namespace", None, "ml"),
    ("ResourceQuota", "ml", "ml"),
    ("LocalQueue", "ml", "default"),
    ("ClusterQueue", None, "ml"),
    ("ResourceFlavor", None, "local"),
    ("InferenceService", "ml", "iris"),
    ("RayCluster", "ml", "sandbox"),
    ("RayJob", "ml", "pi"),
    ("RayService", "ml", "echo"),
)

SEEDED_RULE = "k8s-image-registry-allowlist"
SEEDED_IMAGE = "registry.example.com/ml/ray:2.49.2-py311"
MANDATORY = re.compile(r"\[mandatory\]\s+\[severity: [a-z]+\]\s+([a-z0-9-]+)")


def _emit(config: pytest.Config, log: Path, title: str, text: str) -> None:
    """Show a block on the terminal even while pytest captures output, and append it to the run's log."""
    block = f"\n===== {title} =====\n{text.rstrip()}\n"
    with log.open("a", encoding="utf-8") as f:
        f.write(block)
    capman = config.pluginmanager.getplugin("capturemanager")
    if capman is None:
        print(block)
        return
    with capman.global_and_fixture_disabled():
        sys.stdout.write(block)
        sys.stdout.flush()


def _summary(output: str) -> str:
    """The CLI's closing block: from the last `Policies:` (policy runs) or `Resources:` to the end."""
    for marker in ("Policies:", "Resources:"):
        index = output.rfind(marker)
        if index >= 0:
            return output[index:]
    return output[-2000:]


@dataclass
class LocalStack:
    """A copy of the project with the `local` stack on a file backend, and how to drive it."""

    project: Path
    env: dict[str, str]
    api: crd_apply.KubeAccess
    kubeconfig: Path
    log: Path
    config: pytest.Config
    team_namespaces: tuple[str, ...] = ()
    timings: dict[str, float] = field(default_factory=dict)
    destroyed: bool = False
    stand_in_actions: list[str] = field(default_factory=list)
    """What the controller stand-in had to do during `up` and `destroy` (see `crd_apply.ControllerStandIn`)."""

    @property
    def stack_file(self) -> Path:
        return self.project / f"Pulumi.{STACK}.yaml"

    def pulumi(self, *args: str, check: bool = True, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        start = time.monotonic()
        # `stack init` names the stack as its argument; every other command selects it with --stack.
        selector = () if args[:2] == ("stack", "init") else ("--stack", STACK)
        proc = subprocess.run(
            ["pulumi", *args, *selector, "--non-interactive"],
            cwd=self.project, env=self.env, capture_output=True, text=True, timeout=timeout, check=False,
        )
        key = " ".join(args[:2])
        self.timings[key] = self.timings.get(key, 0.0) + time.monotonic() - start
        if check and proc.returncode != 0:
            raise AssertionError(
                f"pulumi {' '.join(args)} exited {proc.returncode}\n"
                f"--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}"
            )
        return proc

    def emit(self, title: str, text: str) -> None:
        _emit(self.config, self.log, title, text)

    def set_config(self, values: Mapping[str, Any]) -> None:
        """Write typed values into the stack's config file (arrays and booleans keep their types)."""
        document = yaml.safe_load(self.stack_file.read_text(encoding="utf-8")) or {}
        document.setdefault("config", {}).update(values)
        self.stack_file.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")

    def spec_variant(self, name: str, edit: Callable[[dict[str, Any]], None]) -> Path:
        """A copy of stacks/local.yaml changed by `edit(spec_dict)`, written next to the project."""
        spec = yaml.safe_load((self.project / "stacks" / f"{STACK}.yaml").read_text(encoding="utf-8"))
        edit(spec)
        path = self.project.parent / f"{name}.yaml"
        path.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
        return path

    @contextlib.contextmanager
    def with_spec(self, spec: Path) -> Iterator[None]:
        """The stack's `gpuplat:spec` pointed at `spec` for the duration (previews only), then restored."""
        saved = self.stack_file.read_text(encoding="utf-8")
        self.set_config({"gpuplat:spec": str(spec)})
        try:
            yield
        finally:
            self.stack_file.write_text(saved, encoding="utf-8")

    def kubernetes_objects(self) -> list[dict[str, Any]]:
        """Every Kubernetes object in the stack's state: kind, apiVersion, name, namespace, inputs, URN."""
        exported = json.loads(self.pulumi("stack", "export").stdout)
        objects = []
        for resource in exported["deployment"].get("resources") or ():
            outputs = resource.get("outputs") or {}
            if not resource["type"].startswith("kubernetes:") or "apiVersion" not in outputs:
                continue
            metadata = outputs.get("metadata") or {}
            objects.append({
                "urn": resource["urn"],
                "apiVersion": outputs["apiVersion"],
                "kind": outputs["kind"],
                "name": metadata["name"],
                "namespace": metadata.get("namespace"),
                "inputs": resource.get("inputs") or {},
            })
        return objects

    def path_of(self, obj: Mapping[str, Any]) -> str:
        return self.api.object_path(obj["apiVersion"], obj["kind"], obj["name"], obj["namespace"])

    def stand_in(self, objects: Sequence[Mapping[str, Any]] = ()) -> crd_apply.ControllerStandIn:
        refs = [crd_apply.ObjectRef(o["kind"], o["namespace"], o["name"], self.path_of(o)) for o in objects]
        return crd_apply.ControllerStandIn(self.api, quota_namespaces=self.team_namespaces, objects=refs)

    def up(self) -> subprocess.CompletedProcess[str]:
        with self.stand_in() as stand_in:
            up = self.pulumi("up", "--yes", check=False)
        self._record(stand_in)
        return up

    def destroy(self, objects: Sequence[Mapping[str, Any]]) -> subprocess.CompletedProcess[str]:
        with self.stand_in(objects) as stand_in:
            destroy = self.pulumi("destroy", "--yes", check=False)
        self._record(stand_in)
        self.destroyed = destroy.returncode == 0
        return destroy

    def _record(self, stand_in: crd_apply.ControllerStandIn) -> None:
        self.stand_in_actions += stand_in.actions
        assert not stand_in.errors, "controller stand-in failed:\n" + "\n".join(stand_in.errors)


def _copy_project(destination: Path) -> Path:
    project = destination / "project"
    project.mkdir()
    for name in PROJECT_PATHS:
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, project / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        elif source.exists():
            shutil.copy2(source, project / name)
    descriptor = yaml.safe_load((project / "Pulumi.yaml").read_text(encoding="utf-8"))
    descriptor["runtime"].setdefault("options", {})["virtualenv"] = str(VENV)
    (project / "Pulumi.yaml").write_text(yaml.safe_dump(descriptor, sort_keys=False), encoding="utf-8")
    return project


@pytest.fixture(scope="module")
def local_stack(
    request: pytest.FixtureRequest, engine_env: dict[str, str], apiserver, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LocalStack]:
    assert (VENV / "bin" / "python").exists(), f"project virtualenv missing: {VENV}"
    assert set(PREINSTALLED) | {"gpu"} == set(ADDON_NAMES), f"add-ons changed: {ADDON_NAMES}; update PREINSTALLED"
    reference = reference_dir()
    work = tmp_path_factory.mktemp("local-stack")
    state = work / "state"
    state.mkdir()
    env = dict(engine_env)
    env.update(PULUMI_BACKEND_URL=f"file://{state}", PULUMI_CONFIG_PASSPHRASE="")
    for key in ("PULUMI_CONFIG_PASSPHRASE_FILE", "PULUMI_ACCESS_TOKEN", "KUBECONFIG"):
        env.pop(key, None)
    api = crd_apply.KubeAccess.from_kubeconfig(apiserver.kubeconfig)
    project = _copy_project(work)
    spec = yaml.safe_load((project / "stacks" / f"{STACK}.yaml").read_text(encoding="utf-8"))
    stack = LocalStack(
        project=project, env=env, api=api, kubeconfig=Path(apiserver.kubeconfig),
        log=work / "e2e-local-stack.log", config=request.config,
        team_namespaces=tuple((team or {}).get("namespace") or name for name, team in spec["teams"].items()),
    )
    stack.emit("pulumi version", subprocess.run(
        ["pulumi", "version"], env=env, capture_output=True, text=True, check=True, timeout=60,
    ).stdout + f"(log of this run: {stack.log})")

    # What the add-ons' charts (or whoever installed them) would have put on the cluster.
    start = time.monotonic()
    crds = crd_apply.crd_documents(crd_apply.reference_crd_files(reference))
    names = crd_apply.apply_crds(api, crds)
    for namespace in PREINSTALLED_NAMESPACES:
        crd_apply.ensure_namespace(api, namespace)
    stack.timings["crds"] = time.monotonic() - start
    stack.emit("CRDs server-side applied and Established", f"{len(names)} CRDs: {', '.join(names)}")

    stack.pulumi("stack", "init", STACK)
    try:
        stack.set_config({
            "gpuplat:kubeconfig": str(apiserver.kubeconfig),
            # The spec's own context (kind-gpuplat) does not exist in this kubeconfig.
            "gpuplat:kubeContext": crd_apply.kubeconfig_context(apiserver.kubeconfig),
            "gpuplat:preinstalledAddons": list(PREINSTALLED),
            "gpuplat:skipAwait": True,
        })
        up = stack.up()
        stack.emit("pulumi up", _summary(up.stdout + up.stderr))
        assert up.returncode == 0, f"pulumi up failed\n{up.stdout}\n{up.stderr}"
        yield stack
    finally:
        try:
            if not stack.destroyed:
                try:
                    objects = stack.kubernetes_objects()
                except AssertionError:  # no state to read: destroy anyway, without the stand-in's deletions
                    objects = []
                destroy = stack.destroy(objects)
                stack.emit("pulumi destroy (fixture clean-up)", _summary(destroy.stdout + destroy.stderr))
        finally:
            removed = stack.pulumi("stack", "rm", "--force", "--yes", check=False)
            stack.emit("controller stand-in actions (what kube-controller-manager would have done)",
                       "\n".join(stack.stand_in_actions) or "none")
            stack.emit("timings (s)", "\n".join(f"{k}: {v:.1f}" for k, v in stack.timings.items())
                       + f"\nstack rm: exit {removed.returncode} {removed.stderr.strip()}")


@pytest.mark.e2e
def test_objects_accepted_by_the_api_server(local_stack: LocalStack) -> None:
    """Every Kubernetes object of the stack exists on the API server, with every field it was given."""
    objects = local_stack.kubernetes_objects()
    found = {(o["kind"], o["namespace"], o["name"]) for o in objects}
    missing_in_state = [key for key in REQUIRED_OBJECTS if key not in found]
    assert not missing_in_state, f"the local stack did not create {missing_in_state}; it has {sorted(found, key=str)}"

    problems = []
    for obj in objects:
        live = local_stack.api.get(local_stack.path_of(obj))
        if live is None:
            problems.append(f"{obj['kind']} {obj['namespace']}/{obj['name']}: not on the API server")
            continue
        # Pruned fields would be a silent loss: the API server drops fields a structural schema does not
        # know (unless validation is strict). Every field Pulumi sent must have survived.
        for path in _missing_fields(_without_pulumi_keys(obj["inputs"]), live):
            problems.append(f"{obj['kind']} {obj['namespace']}/{obj['name']}: field {path} sent but not stored")
    assert not problems, "\n".join(problems)
    local_stack.emit("objects on the API server", "\n".join(
        f"{o['kind']:24} {(o['namespace'] or '-') + '/' + o['name']}" for o in sorted(objects, key=lambda o: o["kind"])
    ))


@pytest.mark.e2e
def test_preview_expects_no_changes(local_stack: LocalStack) -> None:
    preview = local_stack.pulumi("preview", "--expect-no-changes")
    local_stack.emit("pulumi preview --expect-no-changes", _summary(preview.stdout))


@pytest.mark.e2e
def test_one_model_replicas_change_diffs_only_that_model(local_stack: LocalStack) -> None:
    """`model_services.iris.replicas.max` 2 -> 3: the InferenceService's maxReplicas, and the team's quota.

    The team ResourceQuota is sized for every model service at max replicas (components/builders/teams.py:
    what runs outside Kueue), so a max-replicas change updates it too, by design; nothing else may change.
    """
    def more_replicas(spec: dict[str, Any]) -> None:
        replicas = spec["model_services"]["iris"]["replicas"]
        assert replicas["max"] == 2, replicas
        replicas["max"] = 3

    variant = local_stack.spec_variant("replicas-max-3", more_replicas)
    with local_stack.with_spec(variant):
        preview = local_stack.pulumi("preview", "--json", "--diff")
    result = json.loads(preview.stdout)
    changed = [step for step in result.get("steps", ()) if step.get("op") != "same"]
    local_stack.emit("pulumi preview --json (iris max replicas 2 -> 3)", json.dumps({
        "changeSummary": result.get("changeSummary"),
        "changed": [{"op": s["op"], "urn": s["urn"], "diffReasons": s.get("diffReasons"),
                     "detailedDiff": s.get("detailedDiff")} for s in changed],
    }, indent=2))

    by_type = {(step["op"], step["urn"].split("::")[-2].split("$")[-1]): step for step in changed}
    assert set(by_type) == {
        ("update", "kubernetes:serving.kserve.io/v1beta1:InferenceService"),
        ("update", "kubernetes:core/v1:ResourceQuota"),
    }, f"unexpected changes: {[(s['op'], s['urn']) for s in changed]}"
    isvc = by_type[("update", "kubernetes:serving.kserve.io/v1beta1:InferenceService")]
    assert isvc["urn"].endswith("::workloads-iris-inference-service"), isvc["urn"]
    assert set(isvc.get("detailedDiff") or {}) == {"spec.predictor.maxReplicas"}, isvc.get("detailedDiff")
    quota = by_type[("update", "kubernetes:core/v1:ResourceQuota")]
    assert all(key.startswith("spec.hard") for key in quota.get("detailedDiff") or {}), quota.get("detailedDiff")
    assert result.get("changeSummary", {}).get("update") == 2, result.get("changeSummary")


@pytest.mark.e2e
def test_policy_pack_blocks_a_seeded_violation(local_stack: LocalStack) -> None:
    """Under the prod policy configuration, a Ray image from an unlisted registry blocks the preview.

    The seeded spec passes the spec validator (any image is a valid spec) but not the pack's
    `k8s-image-registry-allowlist` (mandatory in prod). The clean spec is the local one with its model
    on `s3://` (prod allows only s3:// and pvc:// model URIs; local uses a public gs:// bucket).
    """
    def clean(spec: dict[str, Any]) -> None:
        spec["model_services"]["iris"]["model"]["storage_uri"] = "s3://gpuplat-models/iris/1.0"

    def seeded(spec: dict[str, Any]) -> None:
        clean(spec)
        spec["ray_clusters"]["sandbox"]["image"] = SEEDED_IMAGE

    prod = str(POLICIES / "config" / "prod.json")
    clean_spec = local_stack.spec_variant("policy-clean", clean)
    seeded_spec = local_stack.spec_variant("policy-seeded", seeded)
    policy = ("--policy-pack", str(POLICIES), "--policy-pack-config")

    with local_stack.with_spec(seeded_spec):
        bad = local_stack.pulumi("preview", *policy, prod, check=False)
    output = bad.stdout + bad.stderr
    local_stack.emit("pulumi preview --policy-pack (seeded violation, prod)", _summary(output))
    assert bad.returncode != 0, output
    assert SEEDED_RULE in MANDATORY.findall(output), output
    assert f"image '{SEEDED_IMAGE}' is not from an allowed registry" in output, output
    assert set(MANDATORY.findall(output)) == {SEEDED_RULE}, output

    with local_stack.with_spec(clean_spec):
        good = local_stack.pulumi("preview", *policy, prod, check=False)
    output = good.stdout + good.stderr
    local_stack.emit("pulumi preview --policy-pack (clean, prod)", _summary(output))
    assert good.returncode == 0, output
    assert not MANDATORY.findall(output), output


@pytest.mark.e2e
def test_destroy_removes_everything(local_stack: LocalStack) -> None:
    """After `pulumi destroy`, every object the stack created is gone from the API server.

    What "gone" means on a bare API server: the provider deletes with foreground propagation, so every
    object keeps the garbage collector's `foregroundDeletion` finalizer, and a Namespace its `kubernetes`
    finalizer, until kube-controller-manager removes them -- which never runs here. The controller stand-in
    (`crd_apply.ControllerStandIn`) does exactly that for the stack's objects during destroy, the namespace
    only once Pulumi has deleted everything of the stack inside it. So: every namespaced object and the
    cluster-scoped Kueue objects must be gone (404); the team Namespace gone, or at worst Terminating
    (deletionTimestamp set, phase Terminating), which a real cluster's namespace controller finishes.
    """
    objects = local_stack.kubernetes_objects()
    assert objects, "nothing deployed"
    destroy = local_stack.destroy(objects)
    local_stack.emit("pulumi destroy", _summary(destroy.stdout + destroy.stderr))
    assert destroy.returncode == 0, f"destroy failed\n{destroy.stdout}\n{destroy.stderr}"
    assert not local_stack.kubernetes_objects(), "the stack still holds Kubernetes objects after destroy"

    leftovers = []
    deadline = time.monotonic() + 30
    for obj in objects:
        path = local_stack.path_of(obj)
        while True:
            live = local_stack.api.get(path)
            if live is None:
                break
            if obj["kind"] == "Namespace" and live["metadata"].get("deletionTimestamp"):
                assert live["status"]["phase"] == "Terminating", live["status"]
                break
            if time.monotonic() > deadline:
                leftovers.append(f"{obj['kind']} {obj['namespace'] or ''}/{obj['name']}: {live['metadata']}")
                break
            time.sleep(0.5)
    assert not leftovers, "still on the API server after destroy:\n" + "\n".join(leftovers)
    for kind, namespace, name in REQUIRED_OBJECTS:
        if kind != "Namespace":
            obj = next(o for o in objects if (o["kind"], o["namespace"], o["name"]) == (kind, namespace, name))
            assert local_stack.api.get(local_stack.path_of(obj)) is None, f"{kind} {namespace}/{name} survived"


@pytest.mark.e2e
def test_skip_await_alone_suffices_on_a_bare_api_server(local_stack: LocalStack) -> None:
    """README: with no cluster, `scripts/local-apiserver` and `gpuplat:skipAwait true` are enough.

    Runs after the destroy test. With skipAwait every object carries `pulumi.com/skipAwait` and
    background deletion (components/skip_await.py), so nothing waits on a controller: the stand-in's
    garbage collector never has a finalizer to remove. Its quota controller still fills quota status and
    its namespace controller still finalizes the emptied namespace (what a real cluster would do), but
    neither `up` nor `destroy` waits for that.
    """
    assert local_stack.destroyed, "destroy did not run or failed"
    collected = [action for action in local_stack.stand_in_actions if action.startswith("garbage collector")]
    assert not collected, "\n".join(collected)


def _without_pulumi_keys(inputs: Mapping[str, Any]) -> dict[str, Any]:
    """The manifest Pulumi sent: inputs without the provider's bookkeeping keys (`__...`)."""
    return {k: v for k, v in inputs.items() if not k.startswith("__")}


def _missing_fields(sent: Any, live: Any, path: str = "") -> list[str]:
    """Paths of leaves in `sent` that the live object lacks or holds with another value."""
    if isinstance(sent, Mapping):
        if not isinstance(live, Mapping):
            return [path or "."]
        missing = []
        for key, value in sent.items():
            child = f"{path}.{key}" if path else str(key)
            if key not in live:
                missing.append(child)
            else:
                missing += _missing_fields(value, live[key], child)
        return missing
    if isinstance(sent, list):
        if not isinstance(live, list) or len(live) != len(sent):
            return [path]
        return [p for i, item in enumerate(sent) for p in _missing_fields(item, live[i], f"{path}[{i}]")]
    if isinstance(sent, bool) or isinstance(live, bool):
        return [] if sent == live else [f"{path} ({sent!r} stored as {live!r})"]
    if isinstance(sent, int | float) and isinstance(live, int | float):
        return [] if float(sent) == float(live) else [f"{path} ({sent!r} stored as {live!r})"]
    return [] if sent == live else [f"{path} ({sent!r} stored as {live!r})"]
