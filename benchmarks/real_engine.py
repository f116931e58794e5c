"""The real engine: `pulumi preview` and `pulumi up` of a generated stack against a local API server.

    venv/bin/python -m benchmarks.real_engine                 # N = 10 and 100 model services
    venv/bin/python -m benchmarks.real_engine --sizes 10

Needs the engine built by `scripts/install-engine` (the `pulumi` CLI, the Python language host, the
Kubernetes provider, etcd and kube-apiserver); without it the script says so and exits 0.

For each N, the same set-up as the end-to-end tests (`tests/e2e/test_local_stack.py`, whose REST helper
`tests/e2e/crd_apply.py` this reuses): a fresh `scripts/local-apiserver` (no nodes, no controllers); every
pinned CRD of the reference data (`../shared/reference/crds`) server-side applied and Established, and the
`istio-ingress` namespace a pre-installed Istio brings; a copy of the project in a temporary directory with
a file backend; a stack whose config is `gpuplat:spec` = the generated spec (`benchmarks/specs.py`),
`gpuplat:kubeconfig` and `gpuplat:kubeContext` = the local API server's, `gpuplat:preinstalledAddons` =
every add-on (no chart can be fetched here) and `gpuplat:skipAwait` = true (no pod ever becomes ready
without nodes). During `up` the e2e tests' controller stand-in sets the ResourceQuotas' status, as the
quota controller of a real cluster would within seconds.

Timed, one run each: `preview` of the empty stack, `up --skip-preview`, and `preview --expect-no-changes`.
Resources are counted from the stack's state after `up` (components included, the Stack itself not).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import yaml

from benchmarks.machine import describe
from benchmarks.specs import ray_cluster_count, scaled_spec, write_spec
from components.spec.rules import ADDON_NAMES
from tests.e2e import crd_apply
from tests.support.reference import find_reference_dir

ROOT = Path(__file__).resolve().parent.parent
INSTALL_ENGINE = ROOT / "scripts" / "install-engine"
LOCAL_APISERVER = ROOT / "scripts" / "local-apiserver"
REQUIRED_BINARIES = (
    "pulumi",
    "pulumi-language-python",
    "pulumi-resource-kubernetes",
    "etcd",
    "kube-apiserver",
)
PROJECT_PATHS = ("Pulumi.yaml", "__main__.py", "components", "stacks", "dashboards")
# Namespaces a pre-installed add-on brings along that the stack's objects are created in.
PREINSTALLED_NAMESPACES = ("istio-ingress",)


class EngineMissingError(Exception):
    """The engine or the reference CRDs are not available: the benchmark is skipped."""


def engine_environment() -> dict[str, str]:
    """os.environ plus `install-engine --print-env`; raises EngineMissingError when a binary is not built."""
    if not INSTALL_ENGINE.exists():
        raise EngineMissingError(f"{INSTALL_ENGINE.relative_to(ROOT)} does not exist")
    script = f'eval "$("{INSTALL_ENGINE}" --print-env)" && env -0'
    output = subprocess.run(["bash", "-c", script], check=True, capture_output=True, text=True, timeout=60).stdout
    env = dict(item.split("=", 1) for item in output.split("\0") if "=" in item)
    binaries = Path(env.get("GPUPLAT_ENGINE_ROOT", "/nonexistent")) / "bin"
    missing = [name for name in REQUIRED_BINARIES if not (binaries / name).is_file()]
    if missing:
        raise EngineMissingError(f"the engine cache {binaries} lacks {', '.join(missing)} (run scripts/install-engine)")
    return env


def reference_crds() -> list[dict]:
    """Every pinned CRD of the reference data, all projects."""
    reference = find_reference_dir()
    if reference is None:
        raise EngineMissingError("reference data not found (set GPUPLAT_REFERENCE_DIR or place shared/ beside)")
    projects = sorted(path.name for path in (reference / "crds").iterdir() if path.is_dir())
    return crd_apply.crd_documents(crd_apply.reference_crd_files(reference, projects))


@contextmanager
def local_apiserver(directory: Path, env: dict[str, str]) -> Iterator[Path]:
    """Start `scripts/local-apiserver` in `directory`; its kubeconfig. Stopped (state removed) on exit."""
    started = subprocess.run(
        [str(LOCAL_APISERVER), "start", str(directory)], env=env, timeout=300, capture_output=True, text=True
    )
    if started.returncode != 0:
        raise RuntimeError(f"local-apiserver start failed:\n{started.stderr[-3000:]}")
    try:
        yield directory / "kubeconfig"
    finally:
        subprocess.run(
            [str(LOCAL_APISERVER), "stop", str(directory)], env=env, timeout=120, capture_output=True, text=True
        )


@dataclass(frozen=True)
class Timing:
    step: str
    seconds: float
    resources: int


@dataclass(frozen=True)
class Run:
    services: int
    crds: int
    timings: list[Timing]


class Workspace:
    """A copy of the project (virtualenv made absolute) with its own file backend and stack config."""

    def __init__(self, directory: Path, env: dict[str, str], stack: str, log: Path | None = None) -> None:
        self.log = log
        self.project = directory / "project"
        self.project.mkdir()
        for name in PROJECT_PATHS:
            source = ROOT / name
            if source.is_dir():
                shutil.copytree(source, self.project / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
            elif source.exists():
                shutil.copy2(source, self.project / name)
        descriptor = yaml.safe_load((self.project / "Pulumi.yaml").read_text(encoding="utf-8"))
        descriptor["runtime"].setdefault("options", {})["virtualenv"] = str(ROOT / "venv")
        (self.project / "Pulumi.yaml").write_text(yaml.safe_dump(descriptor, sort_keys=False), encoding="utf-8")
        state = directory / "state"
        state.mkdir()
        self.config_file = self.project / f"Pulumi.{stack}.yaml"
        self.stack = stack
        self.env = {**env, "PULUMI_BACKEND_URL": f"file://{state}", "PULUMI_CONFIG_PASSPHRASE": ""}
        for name in ("PULUMI_CONFIG_PASSPHRASE_FILE", "PULUMI_ACCESS_TOKEN", "KUBECONFIG"):
            self.env.pop(name, None)

    def pulumi(self, *args: str, timeout: float = 3600) -> subprocess.CompletedProcess[str]:
        # `stack init` names the stack as its argument; every other command selects it with --stack.
        selector = [] if args[:2] == ("stack", "init") else ["--stack", self.stack]
        process = subprocess.run(
            ["pulumi", *args, *selector, "--non-interactive"],
            cwd=self.project,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if process.returncode != 0:
            raise RuntimeError(
                f"pulumi {' '.join(args)} exited {process.returncode}\n"
                f"--- stdout (tail)\n{process.stdout[-4000:]}\n--- stderr (tail)\n{process.stderr[-4000:]}"
            )
        return process

    def configure(self, settings: dict[str, object]) -> None:
        """Add typed `settings` to the stack's config file (keeping what `stack init` wrote)."""
        current = yaml.safe_load(self.config_file.read_text(encoding="utf-8")) if self.config_file.exists() else None
        current = current or {}
        current.setdefault("config", {}).update(settings)
        self.config_file.write_text(yaml.safe_dump(current, sort_keys=False), encoding="utf-8")

    def resource_count(self) -> int:
        """Custom and component resources in the stack's state (the Stack itself excluded)."""
        exported = json.loads(self.pulumi("stack", "export").stdout)
        resources = exported.get("deployment", {}).get("resources") or []
        return sum(1 for resource in resources if resource["type"] != "pulumi:pulumi:Stack")

    def timed(self, *args: str) -> float:
        start = time.perf_counter()
        process = self.pulumi(*args)
        seconds = time.perf_counter() - start
        if self.log is not None:
            with self.log.open("a", encoding="utf-8") as log:
                log.write(f"===== pulumi {' '.join(args)} ({seconds:.1f} s)\n{process.stdout}\n{process.stderr}\n")
        return seconds


def run(services: int, env: dict[str, str], crds: list[dict], parallel: int | None, log: Path | None) -> Run:
    with tempfile.TemporaryDirectory(prefix=f"gpuplat-engine-{services}-") as temporary:
        directory = Path(temporary)
        with local_apiserver(directory / "apiserver", env) as kubeconfig:
            api = crd_apply.KubeAccess.from_kubeconfig(kubeconfig)
            applied = crd_apply.apply_crds(api, crds)
            for namespace in PREINSTALLED_NAMESPACES:
                crd_apply.ensure_namespace(api, namespace)
            spec = write_spec(directory, services)
            workspace = Workspace(directory, env, stack=f"bench{services}", log=log)
            workspace.pulumi("stack", "init", workspace.stack)
            workspace.configure(
                {
                    "gpuplat:spec": str(spec),
                    "gpuplat:kubeconfig": str(kubeconfig),
                    "gpuplat:kubeContext": crd_apply.kubeconfig_context(kubeconfig),
                    "gpuplat:preinstalledAddons": list(ADDON_NAMES),
                    "gpuplat:skipAwait": True,
                }
            )
            parallelism = ["--parallel", str(parallel)] if parallel else []
            preview = workspace.timed("preview", *parallelism)
            teams = [team.get("namespace") or name for name, team in scaled_spec(services)["teams"].items()]
            with crd_apply.ControllerStandIn(api, quota_namespaces=teams) as stand_in:
                up = workspace.timed("up", "--yes", "--skip-preview", *parallelism)
            if stand_in.errors:
                raise RuntimeError("controller stand-in failed:\n" + "\n".join(stand_in.errors))
            again = workspace.timed("preview", "--expect-no-changes")
            count = workspace.resource_count()
    timings = [
        Timing("preview (empty stack: all creates)", preview, count),
        Timing("up", up, count),
        Timing("preview (no changes)", again, count),
    ]
    return Run(services, len(applied), timings)


def table(runs: list[Run]) -> str:
    lines = [
        "| N services | Ray clusters | step | resources | seconds | resources/s |",
        "|---:|---:|---|---:|---:|---:|",
    ]
    for result in runs:
        for timing in result.timings:
            lines.append(
                f"| {result.services} | {ray_cluster_count(result.services)} | {timing.step} | {timing.resources} "
                f"| {timing.seconds:.1f} | {timing.resources / timing.seconds:.1f} |"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 100], help="N model services")
    parser.add_argument("--parallel", type=int, help="pulumi --parallel for preview and up (default: the CLI's)")
    parser.add_argument("--log", type=Path, help="append every pulumi command's output to this file")
    args = parser.parse_args(argv)
    print(describe())
    try:
        env = engine_environment()
        crds = reference_crds()
    except EngineMissingError as missing:
        print(f"real engine benchmark skipped: {missing}")
        return 0
    version = subprocess.run(["pulumi", "version"], env=env, capture_output=True, text=True, check=False).stdout
    print(f"engine: pulumi {version.strip()}, local kube-apiserver without nodes; one run per step\n")
    runs = []
    for services in args.sizes:
        runs.append(run(services, env, crds, args.parallel, args.log))
        print(f"N={services}: done ({runs[-1].crds} CRDs applied first)", file=sys.stderr, flush=True)
    print(table(runs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
