"""A small REST client for the end-to-end tests: server-side apply of the pinned CRDs, then plain GETs.

A real install gets the add-ons' CRDs from their charts, server-side applied (the CRDs are too large for
the last-applied annotation of a client-side apply). The local API server has no charts, so the tests
apply the same pinned files from the reference directory (`crds/<project>/<tag>/*.yaml`) the same way:
`PATCH application/apply-patch+yaml` with `fieldManager=gpuplat` and `force=true`, then wait until the API
server reports each CRD `Established` (the API server's own CRD controllers set it; no controller
manager is needed).

Only the standard library plus PyYAML: the server, bearer token and CA come from the kubeconfig that
`scripts/local-apiserver` writes (token user, `certificate-authority-data` or `certificate-authority`).
"""

from __future__ import annotations

import base64
import contextlib
import json
import ssl
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

FIELD_MANAGER = "gpuplat"
CRD_API = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
APPLY_CONTENT_TYPE = "application/apply-patch+yaml"

# The add-ons whose custom resources the `local` stack creates, by reference directory: KubeRay (RayCluster,
# RayJob, RayService), Kueue (ClusterQueue, LocalQueue, ResourceFlavor, WorkloadPriorityClass), KServe
# (InferenceService), kube-prometheus-stack (ServiceMonitor) and Istio (VirtualService, AuthorizationPolicy).
LOCAL_STACK_CRD_PROJECTS = ("kuberay", "kueue", "kserve", "kube-prometheus-stack", "istio")

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class KubeError(RuntimeError):
    """A REST call answered with an error status; carries the status and the API server's message."""

    def __init__(self, method: str, path: str, status: int, body: str):
        self.status = status
        self.body = body
        message = body
        with contextlib.suppress(ValueError, AttributeError):
            message = json.loads(body).get("message", body)
        super().__init__(f"{method} {path}: HTTP {status}: {message}")


@dataclass(frozen=True)
class KubeAccess:
    """Where and how to reach an API server: base URL, bearer token, TLS context, kubeconfig context name."""

    server: str
    token: str
    ssl_context: ssl.SSLContext
    context: str

    @classmethod
    def from_kubeconfig(cls, path: str | Path, context: str | None = None) -> KubeAccess:
        """The access a kubeconfig gives for `context` (default: its current context); token users only."""
        path = Path(path)
        config = yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)  # noqa: S506 (safe loader)
        name = context or config.get("current-context")
        if not name:
            raise ValueError(f"{path}: no context given and no current-context")
        ctx = _named(config, "contexts", name, path)["context"]
        cluster = _named(config, "clusters", ctx["cluster"], path)["cluster"]
        user = _named(config, "users", ctx["user"], path)["user"]
        if "token" not in user:
            raise ValueError(f"{path}: user {ctx['user']!r} has no bearer token (only token users are supported)")
        if "certificate-authority-data" in cluster:
            ca = base64.b64decode(cluster["certificate-authority-data"]).decode("ascii")
            ssl_context = ssl.create_default_context(cadata=ca)
        elif "certificate-authority" in cluster:
            ca_file = Path(cluster["certificate-authority"])
            ca_file = ca_file if ca_file.is_absolute() else path.parent / ca_file
            ssl_context = ssl.create_default_context(cafile=str(ca_file))
        else:
            ssl_context = ssl.create_default_context()
        return cls(server=cluster["server"].rstrip("/"), token=user["token"], ssl_context=ssl_context, context=name)

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        content_type: str = "application/json",
        query: Mapping[str, str] | None = None,
        timeout: float = 60,
    ) -> dict[str, Any] | None:
        """One REST call; the decoded JSON answer, None for 404, KubeError for any other error status."""
        if not self.server.startswith("https://"):
            raise ValueError(f"only https API servers are supported, not {self.server}")
        url = self.server + path + (f"?{urllib.parse.urlencode(query)}" if query else "")
        data = None if body is None else json.dumps(body, separators=(",", ":")).encode("utf-8")
        headers = {"Authorization": f"Bearer {self.token}", "Accept": "application/json"}
        if data is not None:
            headers["Content-Type"] = content_type
        req = urllib.request.Request(url, data=data, method=method, headers=headers)  # noqa: S310 (https only)
        try:
            with urllib.request.urlopen(req, context=self.ssl_context, timeout=timeout) as resp:  # noqa: S310
                raw = resp.read()
        except urllib.error.HTTPError as err:
            if err.code == 404:
                return None
            raise KubeError(method, path, err.code, err.read().decode("utf-8", "replace")) from None
        return json.loads(raw) if raw else {}

    def get(self, path: str) -> dict[str, Any] | None:
        return self.request("GET", path)

    def apply(self, path: str, obj: Mapping[str, Any], *, field_manager: str = FIELD_MANAGER) -> dict[str, Any]:
        """Server-side apply `obj` at its object path (force: take over fields other managers own)."""
        # JSON is YAML: the apply-patch+yaml content type accepts the compact JSON encoding, which keeps
        # the 1-2 MB KubeRay/KServe CRDs well under the API server's request size limit.
        result = self.request(
            "PATCH", path, obj, content_type=APPLY_CONTENT_TYPE,
            query={"fieldManager": field_manager, "force": "true"},
        )
        if result is None:  # 404 on apply: the resource type itself is unknown
            raise KubeError("PATCH", path, 404, f"resource type of {path} not served")
        return result


    def object_path(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> str:
        """The REST path of an object, with its resource (plural) name and scope from API discovery."""
        resource, namespaced = self._discover(api_version, kind)
        base = f"/api/{api_version}" if "/" not in api_version else f"/apis/{api_version}"
        if namespaced:
            if not namespace:
                raise ValueError(f"{kind} {name}: namespaced kind without a namespace")
            return f"{base}/namespaces/{namespace}/{resource}/{name}"
        return f"{base}/{resource}/{name}"

    def _discover(self, api_version: str, kind: str) -> tuple[str, bool]:
        base = f"/api/{api_version}" if "/" not in api_version else f"/apis/{api_version}"
        listing = self.get(base)
        for item in (listing or {}).get("resources", ()):
            if item.get("kind") == kind and "/" not in item["name"]:
                return item["name"], bool(item.get("namespaced"))
        raise LookupError(f"API server serves no kind {kind} in {api_version}")


def _named(config: Mapping[str, Any], section: str, name: str, path: Path) -> Mapping[str, Any]:
    for item in config.get(section) or ():
        if item.get("name") == name:
            return item
    raise ValueError(f"{path}: no {section[:-1]} named {name!r}")


def kubeconfig_context(path: str | Path) -> str:
    """The current context of a kubeconfig file ("" when it has none)."""
    config = yaml.load(Path(path).read_text(encoding="utf-8"), Loader=_Loader)  # noqa: S506 (safe loader)
    return str(config.get("current-context") or "")


def reference_crd_files(reference: Path, projects: Sequence[str] = LOCAL_STACK_CRD_PROJECTS) -> list[Path]:
    """The pinned CRD files of each project: `crds/<project>/<tag>/*.yaml`, exactly one tag per project."""
    files: list[Path] = []
    for project in projects:
        tags = sorted(p for p in (reference / "crds" / project).iterdir() if p.is_dir())
        if len(tags) != 1:
            raise ValueError(f"{reference}/crds/{project}: expected one pinned tag directory, found {tags}")
        files += sorted(tags[0].glob("*.yaml"))
    return files


def crd_documents(files: Iterable[Path]) -> list[dict[str, Any]]:
    """Every CustomResourceDefinition in the files (multi-document files such as Istio's crd-all)."""
    crds = []
    for path in files:
        for document in yaml.load_all(path.read_text(encoding="utf-8"), Loader=_Loader):  # noqa: S506
            if isinstance(document, dict) and document.get("kind") == "CustomResourceDefinition":
                crds.append(document)
    return crds


def established(crd: Mapping[str, Any] | None) -> bool:
    conditions = ((crd or {}).get("status") or {}).get("conditions") or ()
    return any(c.get("type") == "Established" and c.get("status") == "True" for c in conditions)


def apply_crds(access: KubeAccess, crds: Sequence[Mapping[str, Any]], *, timeout: float = 120) -> list[str]:
    """Server-side apply each CRD, then wait until all are Established; the CRD names, in order."""
    names = []
    for crd in crds:
        name = crd["metadata"]["name"]
        access.apply(f"{CRD_API}/{name}", crd)
        names.append(name)
    wait_established(access, names, timeout=timeout)
    return names


def wait_established(access: KubeAccess, names: Iterable[str], *, timeout: float = 120) -> None:
    pending = list(names)
    deadline = time.monotonic() + timeout
    while pending:
        pending = [name for name in pending if not established(access.get(f"{CRD_API}/{name}"))]
        if not pending:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"CRDs not Established after {timeout:.0f}s: {', '.join(pending)}")
        time.sleep(0.25)


def ensure_namespace(access: KubeAccess, name: str) -> dict[str, Any]:
    """Server-side apply a bare Namespace (what an add-on installed by other means would have created)."""
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
    return access.apply(f"/api/v1/namespaces/{name}", namespace)


@dataclass(frozen=True)
class ObjectRef:
    """One object the stand-in looks after: kind, namespace ('' or None for cluster-scoped), name, REST path."""

    kind: str
    namespace: str | None
    name: str
    path: str


class ControllerStandIn(threading.Thread):
    """What kube-controller-manager does on a real cluster, for the given objects only, while a command runs.

    The local API server runs no controller manager, so three things never happen there that every real
    cluster does within seconds, and that pulumi-kubernetes waits for unless an object says
    `pulumi.com/skipAwait` (and, on delete, only for the provider's legacy kinds, Namespace among them):
    - resource quota controller: a ResourceQuota's `status.hard` is set to its `spec.hard` (with nothing
      running, `status.used` is zero); the provider waits up to a minute for it after create and update;
    - garbage collector: an object deleted with `propagationPolicy: Foreground` (the provider's default)
      carries the `foregroundDeletion` finalizer until the collector has deleted its dependents and removes
      it; nothing on this API server creates dependents, so the finalizer is simply removed;
    - namespace controller: a deleted Namespace keeps its `kubernetes` finalizer until the controller has
      emptied it; the stand-in finalizes it only once none of the given objects in it exists any more.

    `actions` lists everything it did, so a test can tell what the stack needed beyond `skipAwait`; it
    never touches objects it was not given (quotas only in `quota_namespaces`).
    """

    def __init__(
        self,
        access: KubeAccess,
        *,
        quota_namespaces: Iterable[str] = (),
        objects: Iterable[ObjectRef] = (),
        interval: float = 0.25,
    ):
        super().__init__(name="controller-stand-in", daemon=True)
        self.access = access
        self.quota_namespaces = tuple(quota_namespaces)
        self.objects = tuple(objects)
        self.interval = interval
        self.actions: list[str] = []
        self.errors: list[str] = []
        self._halt = threading.Event()

    def __enter__(self) -> ControllerStandIn:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._halt.set()
        self.join(timeout=60)

    def run(self) -> None:
        while not self._halt.is_set():
            try:
                self.step()
            except KubeError as err:
                if err.status != 409:  # a conflict is retried on the next round
                    self.errors.append(str(err))
            except Exception as err:  # noqa: BLE001 (reported through `errors`, never kills the thread)
                self.errors.append(repr(err))
            self._halt.wait(self.interval)

    def step(self) -> None:
        for namespace in self.quota_namespaces:
            for quota in (self.access.get(f"/api/v1/namespaces/{namespace}/resourcequotas") or {}).get("items", ()):
                self._quota_status(quota)
        remaining: set[str | None] = set()
        for ref in self.objects:
            live = self.access.get(ref.path)
            if live is None:
                continue
            if ref.kind != "Namespace":
                remaining.add(ref.namespace)
            meta = live["metadata"]
            if not meta.get("deletionTimestamp"):
                continue
            finalizers = meta.get("finalizers") or []
            if "foregroundDeletion" in finalizers:
                self._remove_finalizer(ref, live, "foregroundDeletion")
        for ref in self.objects:
            if ref.kind == "Namespace" and ref.name not in remaining:
                live = self.access.get(ref.path)
                if live is not None and live["metadata"].get("deletionTimestamp"):
                    self._finalize_namespace(ref, live)

    def _quota_status(self, quota: dict[str, Any]) -> None:
        hard = (quota.get("spec") or {}).get("hard") or {}
        if (quota.get("status") or {}).get("hard") == hard:
            return
        meta = quota["metadata"]
        quota = {**quota, "apiVersion": "v1", "kind": "ResourceQuota",
                 "status": {"hard": hard, "used": dict.fromkeys(hard, "0")}}
        path = f"/api/v1/namespaces/{meta['namespace']}/resourcequotas/{meta['name']}/status"
        self.access.request("PUT", path, quota)
        self.actions.append(f"quota controller: ResourceQuota {meta['namespace']}/{meta['name']} status.hard set")

    def _remove_finalizer(self, ref: ObjectRef, live: dict[str, Any], finalizer: str) -> None:
        meta = live["metadata"]
        kept = [f for f in meta["finalizers"] if f != finalizer]
        patch = [
            {"op": "test", "path": "/metadata/resourceVersion", "value": meta["resourceVersion"]},
            {"op": "replace", "path": "/metadata/finalizers", "value": kept},
        ]
        self.access.request("PATCH", ref.path, patch, content_type="application/json-patch+json")
        self.actions.append(f"garbage collector: {ref.kind} {ref.namespace or ''}/{ref.name}: {finalizer} removed")

    def _finalize_namespace(self, ref: ObjectRef, live: dict[str, Any]) -> None:
        finalizers = (live.get("spec") or {}).get("finalizers") or []
        if "kubernetes" not in finalizers or live["metadata"].get("finalizers"):
            return  # someone else's finalizer, or the garbage collector's is still there
        live = {**live, "spec": {**live["spec"], "finalizers": [f for f in finalizers if f != "kubernetes"]}}
        self.access.request("PUT", f"{ref.path}/finalize", live)
        self.actions.append(f"namespace controller: Namespace {ref.name}: emptied of the stack's objects, finalized")
