"""Validate custom resources against the pinned upstream CRD schemas the way the API server would.

Plain JSON-Schema validation of a CRD schema is too lenient: no CRD sets `additionalProperties: false`,
so typos such as ISVC `autoscaling:` or ClusterQueue `cohort:` would pass. The API server prunes or (with
strict field validation) rejects them, so here every object schema with `properties` and no
`additionalProperties` / `x-kubernetes-preserve-unknown-fields` is closed. Schema defaults are applied
before validation (RayCluster `minReplicas` is required but defaulted). Istio schemas declare only
`spec`/`status`, so `apiVersion`, `kind` and `metadata` are checked separately. CEL rules are not run.
"""

from __future__ import annotations

import copy
import functools
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from tests.support.reference import reference_dir

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_ENVELOPE = {"apiVersion", "kind", "metadata"}


def _close(schema: Any) -> Any:
    """A copy of the schema with every object that lists properties closed to other keys."""
    if isinstance(schema, list):
        return [_close(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    closed = {key: _close(value) if key not in ("default", "enum", "example") else value
              for key, value in schema.items()}
    if ("properties" in schema and "additionalProperties" not in schema
            and not schema.get("x-kubernetes-preserve-unknown-fields")):
        closed["additionalProperties"] = False
    return closed


def _apply_defaults(value: Any, schema: dict) -> Any:
    if isinstance(value, dict):
        properties = schema.get("properties", {})
        for key, sub in properties.items():
            if key not in value and "default" in sub:
                value[key] = copy.deepcopy(sub["default"])
        for key, item in value.items():
            if key in properties:
                _apply_defaults(item, properties[key])
            elif isinstance(schema.get("additionalProperties"), dict):
                _apply_defaults(item, schema["additionalProperties"])
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for item in value:
            _apply_defaults(item, schema["items"])
    return value


@functools.cache
def _crd_index(root: str) -> dict[tuple[str, str], tuple[dict, str]]:
    """(apiVersion, kind) -> (OpenAPI schema, scope) for every served version of every pinned CRD."""
    index: dict[tuple[str, str], tuple[dict, str]] = {}
    for path in sorted(Path(root, "crds").rglob("*.yaml")):
        for document in yaml.load_all(path.read_text(encoding="utf-8"), Loader=_Loader):  # noqa: S506
            if not isinstance(document, dict) or document.get("kind") != "CustomResourceDefinition":
                continue
            spec = document["spec"]
            for version in spec["versions"]:
                if version.get("served", True):
                    key = (f"{spec['group']}/{version['name']}", spec["names"]["kind"])
                    index[key] = (version["schema"]["openAPIV3Schema"], spec["scope"])
    return index


@functools.cache
def _validator(root: str, api_version: str, kind: str) -> tuple[jsonschema.Draft7Validator, dict, str] | None:
    found = _crd_index(root).get((api_version, kind))
    if found is None:
        return None
    schema, scope = found
    return jsonschema.Draft7Validator(_close(schema)), schema, scope


def known_kinds() -> set[tuple[str, str]]:
    return set(_crd_index(str(reference_dir())))


def _path(parts: Any) -> str:
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(root)"


def validate_custom_resource(obj: dict) -> list[str]:
    """Problems of one custom resource (`path: message`), empty when the API server would accept it."""
    api_version, kind = obj.get("apiVersion"), obj.get("kind")
    found = _validator(str(reference_dir()), str(api_version), str(kind))
    if found is None:
        return [f"(root): no pinned CRD serves {api_version} {kind}"]
    validator, schema, scope = found
    problems = []
    metadata = obj.get("metadata") or {}
    if not metadata.get("name"):
        problems.append("metadata.name: required")
    if scope == "Namespaced" and not metadata.get("namespace"):
        problems.append("metadata.namespace: required for a namespaced kind")
    if scope == "Cluster" and metadata.get("namespace"):
        problems.append("metadata.namespace: must not be set on a cluster-scoped kind")
    declared = set(schema.get("properties", {}))
    body = {key: value for key, value in obj.items() if key in declared or key not in _ENVELOPE}
    body = _apply_defaults(copy.deepcopy(body), schema)
    for error in sorted(validator.iter_errors(body), key=lambda e: list(e.absolute_path)):
        problems.append(f"{_path(error.absolute_path)}: {error.message}")
    return problems
