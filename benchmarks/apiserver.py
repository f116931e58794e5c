"""A throwaway local API server for the real-engine benchmark, and server-side apply of the pinned CRDs.

`scripts/local-apiserver start DIR` runs etcd + kube-apiserver on loopback and writes `DIR/env`
(URL, token, CA) and `DIR/kubeconfig`. There is no controller, so the add-ons are declared pre-installed
and only their CRDs are applied (`apply_crds`), the way `kubectl apply --server-side` would, with the
standard library alone: the benchmark must not depend on kubectl.
"""

from __future__ import annotations

import json
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
LOCAL_APISERVER = ROOT / "scripts" / "local-apiserver"
FIELD_MANAGER = "gpuplat-benchmark"
CRD_PATH = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"


@dataclass(frozen=True)
class ApiServer:
    url: str
    token: str
    ca: Path
    kubeconfig: Path

    @classmethod
    def from_env_file(cls, directory: Path) -> ApiServer:
        values = dict(
            line.split("=", 1) for line in (directory / "env").read_text(encoding="utf-8").splitlines() if "=" in line
        )
        return cls(
            values["APISERVER_URL"], values["APISERVER_TOKEN"], Path(values["APISERVER_CA"]), directory / "kubeconfig"
        )

    def request(self, method: str, path: str, body: dict | None = None, content_type: str = "application/json") -> dict:
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Authorization": f"Bearer {self.token}", "Accept": "application/json"}
        if data is not None:
            headers["Content-Type"] = content_type
        request = urllib.request.Request(self.url + path, data=data, method=method, headers=headers)  # noqa: S310
        context = ssl.create_default_context(cafile=str(self.ca))
        try:
            with urllib.request.urlopen(request, context=context, timeout=60) as response:  # noqa: S310
                return json.load(response)
        except urllib.error.HTTPError as error:
            detail = error.read().decode(errors="replace")[:500]
            raise RuntimeError(f"{method} {path}: HTTP {error.code}: {detail}") from None

    def context_name(self) -> str:
        return yaml.safe_load(self.kubeconfig.read_text(encoding="utf-8"))["current-context"]


def crd_documents(directory: Path) -> Iterator[dict]:
    """Every CustomResourceDefinition in the YAML files under `directory` (multi-document files too)."""
    for path in sorted(directory.rglob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if isinstance(document, dict) and document.get("kind") == "CustomResourceDefinition":
                yield document


def apply_crds(server: ApiServer, directory: Path, timeout: float = 60) -> list[str]:
    """Server-side apply every CRD under `directory`, then wait until each is Established; their names."""
    names = []
    for crd in crd_documents(directory):
        name = crd["metadata"]["name"]
        server.request(
            "PATCH",
            f"{CRD_PATH}/{name}?fieldManager={FIELD_MANAGER}&force=true",
            crd,
            content_type="application/apply-patch+yaml",  # JSON is YAML: the apply patch accepts it
        )
        names.append(name)
    deadline = time.monotonic() + timeout
    for name in names:
        while True:
            status = server.request("GET", f"{CRD_PATH}/{name}").get("status", {})
            if any(c["type"] == "Established" and c["status"] == "True" for c in status.get("conditions", [])):
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"CRD {name} not Established after {timeout:.0f}s")
            time.sleep(0.2)
    return names


@contextmanager
def local_apiserver(directory: Path, env: dict[str, str]) -> Iterator[ApiServer]:
    """Start `scripts/local-apiserver` in `directory`; stop it (and remove its state) on exit."""
    subprocess.run(
        [str(LOCAL_APISERVER), "start", str(directory)],
        env=env,
        check=True,
        timeout=300,
        capture_output=True,
        text=True,
    )
    try:
        yield ApiServer.from_env_file(directory)
    finally:
        subprocess.run(
            [str(LOCAL_APISERVER), "stop", str(directory)],
            env=env,
            check=False,
            timeout=120,
            capture_output=True,
            text=True,
        )
