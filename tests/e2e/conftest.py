"""Fixtures for end-to-end tests against the real Pulumi engine and a local API server.

The engine and the control plane are built by ``scripts/install-engine`` into a cache outside the
repo; ``scripts/local-apiserver`` runs etcd + kube-apiserver on loopback. Without a built engine
the tests skip, except under CI (``CI=true``), where a missing engine is a failure.
"""

from __future__ import annotations

import json
import os
import ssl
import subprocess
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
INSTALL_ENGINE = REPO / "scripts" / "install-engine"
LOCAL_APISERVER = REPO / "scripts" / "local-apiserver"
VENV = REPO / "venv"

ENGINE_BINARIES = ("pulumi", "pulumi-language-python", "pulumi-language-python-exec", "pulumi-resource-kubernetes")
APISERVER_BINARIES = ("etcd", "kube-apiserver")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "e2e: end-to-end test with the real Pulumi engine and a local kube-apiserver"
    )


def _missing(message: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{message} (CI=true: the engine must be built by scripts/install-engine)", pytrace=False)
    pytest.skip(f"{message}; run scripts/install-engine to build it")


def _engine_environ() -> dict[str, str]:
    """The process environment plus what ``install-engine --print-env`` exports."""
    out = subprocess.run(
        ["bash", "-c", f'eval "$("{INSTALL_ENGINE}" --print-env)" && env -0'],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    env = {}
    for item in out.split("\0"):
        if "=" in item:
            key, value = item.split("=", 1)
            env[key] = value
    return env


@pytest.fixture(scope="session")
def engine_env() -> dict[str, str]:
    """Environment (a dict for ``subprocess``) with the cached engine first on PATH."""
    env = _engine_environ()
    bin_dir = Path(env["GPUPLAT_ENGINE_ROOT"]) / "bin"
    missing = [b for b in ENGINE_BINARIES if not (bin_dir / b).is_file()]
    if missing:
        _missing(f"engine cache {bin_dir} lacks {', '.join(missing)}")
    return env


@dataclass
class APIServer:
    dir: Path
    kubeconfig: Path
    url: str
    token: str
    ca: Path

    def _request(self, method: str, path: str) -> urllib.request.Request:
        return urllib.request.Request(
            self.url + path, method=method, headers={"Authorization": f"Bearer {self.token}"}
        )

    def get(self, path: str) -> dict | None:
        """GET a REST path; the decoded object, or None for 404."""
        ctx = ssl.create_default_context(cafile=str(self.ca))
        try:
            with urllib.request.urlopen(self._request("GET", path), context=ctx, timeout=30) as resp:
                return json.load(resp)
        except urllib.error.HTTPError as err:
            if err.code == 404:
                return None
            raise


@pytest.fixture(scope="session")
def apiserver(engine_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory):
    """A running etcd + kube-apiserver on loopback; yields an :class:`APIServer`."""
    bin_dir = Path(engine_env["GPUPLAT_ENGINE_ROOT"]) / "bin"
    missing = [b for b in APISERVER_BINARIES if not (bin_dir / b).is_file()]
    if missing:
        _missing(f"engine cache {bin_dir} lacks {', '.join(missing)}")
    state = tmp_path_factory.mktemp("apiserver")
    subprocess.run([str(LOCAL_APISERVER), "start", str(state)], env=engine_env, check=True, timeout=300)
    try:
        values = dict(
            line.split("=", 1) for line in (state / "env").read_text().splitlines() if "=" in line
        )
        yield APIServer(
            dir=state,
            kubeconfig=state / "kubeconfig",
            url=values["APISERVER_URL"],
            token=values["APISERVER_TOKEN"],
            ca=Path(values["APISERVER_CA"]),
        )
    finally:
        subprocess.run([str(LOCAL_APISERVER), "stop", str(state)], env=engine_env, check=False, timeout=120)


@dataclass
class PulumiWorkspace:
    """A scratch directory plus an environment with a file backend and an empty passphrase."""

    dir: Path
    env: dict[str, str] = field(default_factory=dict)

    def run(self, *args: str, cwd: Path | None = None, check: bool = True, timeout: float = 900):
        proc = subprocess.run(
            ["pulumi", *args],
            cwd=cwd or self.dir,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if check and proc.returncode != 0:
            raise AssertionError(
                f"pulumi {' '.join(args)} exited {proc.returncode}\n"
                f"--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}"
            )
        return proc


@pytest.fixture
def pulumi_workspace(engine_env: dict[str, str], tmp_path: Path) -> PulumiWorkspace:
    state = tmp_path / "state"
    state.mkdir()
    env = dict(engine_env)
    env.update(
        PULUMI_BACKEND_URL=f"file://{state}",
        PULUMI_CONFIG_PASSPHRASE="",
    )
    env.pop("PULUMI_CONFIG_PASSPHRASE_FILE", None)
    env.pop("PULUMI_ACCESS_TOKEN", None)
    return PulumiWorkspace(dir=tmp_path, env=env)
