"""The real engine: `pulumi preview` and `pulumi up` of a generated stack against a local API server.

    venv/bin/python -m benchmarks.real_engine                 # N = 10 and 100 model services
    venv/bin/python -m benchmarks.real_engine --sizes 10

Needs the engine built by `scripts/install-engine` (the `pulumi` CLI, the Python language host, the
Kubernetes provider, etcd and kube-apiserver); without it the script says so and exits 0.

For each N: a fresh `scripts/local-apiserver` (no nodes, no controllers), the pinned CRDs of every add-on
server-side applied from the reference data (`../shared/reference/crds`), then a snapshot of the project
(`Pulumi.yaml`, `__main__.py`, `components/`) in a temporary directory with a file backend, and a stack
whose config is `gpuplat:spec` = the generated spec, `gpuplat:kubeconfig` = the local API server's,
`gpuplat:preinstalledAddons` = every add-on (no chart can be installed here) and `gpuplat:skipAwait`
= true (no pod ever becomes ready without nodes). Timed, one run each: `preview` of the empty stack,
`up`, and a second `preview` that must report no changes. Resources are counted from the stack's state.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

from benchmarks.apiserver import apply_crds, local_apiserver
from benchmarks.machine import describe
from benchmarks.specs import ray_cluster_count, write_spec
from components.spec.rules import ADDON_NAMES

ROOT = Path(__file__).resolve().parent.parent
INSTALL_ENGINE = ROOT / "scripts" / "install-engine"
REQUIRED_BINARIES = (
    "pulumi",
    "pulumi-language-python",
    "pulumi-resource-kubernetes",
    "etcd",
    "kube-apiserver",
)
PROJECT_FILES = ("Pulumi.yaml", "__main__.py", "components")


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


def reference_crds() -> Path:
    candidate = os.environ.get("GPUPLAT_REFERENCE_DIR")
    path = (Path(candidate) if candidate else ROOT.parent / "shared" / "reference") / "crds"
    if not path.is_dir():
        raise EngineMissingError(f"reference CRDs not found at {path} (set GPUPLAT_REFERENCE_DIR)")
    return path


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
    """A snapshot of the project with its own file backend and stack config."""

    def __init__(self, directory: Path, env: dict[str, str], stack: str) -> None:
        self.project = directory / "project"
        self.project.mkdir()
        for name in PROJECT_FILES:
            source = ROOT / name
            if source.is_dir():
                shutil.copytree(source, self.project / name, ignore=shutil.ignore_patterns("__pycache__"))
            else:
                shutil.copy2(source, self.project / name)
        (self.project / "venv").symlink_to(ROOT / "venv")
        state = directory / "state"
        state.mkdir()
        self.config_file = self.project / f"Pulumi.{stack}.yaml"
        self.stack = stack
        self.env = {**env, "PULUMI_BACKEND_URL": f"file://{state}", "PULUMI_CONFIG_PASSPHRASE": ""}
        for name in ("PULUMI_CONFIG_PASSPHRASE_FILE", "PULUMI_ACCESS_TOKEN"):
            self.env.pop(name, None)

    def pulumi(self, *args: str, timeout: float = 3600) -> subprocess.CompletedProcess[str]:
        stack = [] if args[:2] == ("stack", "init") else ["--stack", self.stack]
        command = ["pulumi", *args, "--non-interactive", *stack]
        process = subprocess.run(
            command, cwd=self.project, env=self.env, capture_output=True, text=True, timeout=timeout, check=False
        )
        if process.returncode != 0:
            raise RuntimeError(
                f"pulumi {' '.join(args)} exited {process.returncode}\n"
                f"--- stdout (tail)\n{process.stdout[-4000:]}\n--- stderr (tail)\n{process.stderr[-4000:]}"
            )
        return process

    def configure(self, settings: dict[str, object]) -> None:
        """Add `settings` to the stack's config file (keeping what `stack init` wrote, e.g. the salt)."""
        current = yaml.safe_load(self.config_file.read_text(encoding="utf-8")) if self.config_file.exists() else None
        current = current or {}
        current.setdefault("config", {}).update(settings)
        self.config_file.write_text(yaml.safe_dump(current, sort_keys=False), encoding="utf-8")

    def resource_count(self) -> int:
        """Custom and component resources in the stack's state (the Stack itself excluded)."""
        exported = json.loads(self.pulumi("stack", "export").stdout)
        resources = exported.get("deployment", {}).get("resources") or []
        return sum(1 for resource in resources if resource["type"] != "pulumi:pulumi:Stack")

    def timed(self, step: str, *args: str) -> tuple[float, subprocess.CompletedProcess[str]]:
        start = time.perf_counter()
        process = self.pulumi(*args)
        return time.perf_counter() - start, process


def run(services: int, env: dict[str, str], crds: Path) -> Run:
    with tempfile.TemporaryDirectory(prefix=f"gpuplat-engine-{services}-") as temporary:
        directory = Path(temporary)
        (directory / "apiserver").mkdir()
        with local_apiserver(directory / "apiserver", env) as server:
            applied = apply_crds(server, crds)
            spec = write_spec(directory, services)
            stack = f"bench{services}"
            workspace = Workspace(directory, env, stack)
            workspace.pulumi("stack", "init", stack)
            workspace.configure(
                {
                    "gpuplat:spec": str(spec),
                    "gpuplat:kubeconfig": str(server.kubeconfig),
                    "gpuplat:kubeContext": server.context_name(),
                    "gpuplat:preinstalledAddons": list(ADDON_NAMES),
                    "gpuplat:skipAwait": True,
                }
            )
            timings = []
            seconds, _ = workspace.timed("preview", "preview")
            # `preview` of an empty stack: every resource is a create; counted after `up` from the state.
            preview_seconds = seconds
            seconds, _ = workspace.timed("up", "up", "--yes", "--skip-preview")
            count = workspace.resource_count()
            timings.append(Timing("preview (empty stack)", preview_seconds, count))
            timings.append(Timing("up", seconds, count))
            seconds, _ = workspace.timed("preview", "preview", "--expect-no-changes")
            timings.append(Timing("preview (no changes)", seconds, count))
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
        runs.append(run(services, env, crds))
        print(f"N={services}: done ({runs[-1].crds} CRDs applied first)", file=sys.stderr, flush=True)
    print(table(runs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
