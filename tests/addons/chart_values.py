"""Check the values the stack sets against a chart's pinned defaults (`values.yaml`) and values schema.

Helm ignores values keys a chart does not read, so a misspelt or misplaced key (`pilot.resources` for
istiod, `kserve.deploymentMode` instead of `kserve.controller.deploymentMode`) silently does nothing.
Rules, from ../shared/reference/README.md:

- every key must exist in the chart's `values.yaml` at the same path, or be allowed by its
  `values.schema.json` (a `properties` entry, an explicit `additionalProperties`/`patternProperties`, or
  a free-form map: `type: object` with no properties);
- below a key whose default is null, an empty map, a list or a scalar the chart documents no structure,
  so anything goes (a map where the default is a non-empty scalar is still reported);
- Istio charts keep their defaults under `_internal_defaults_do_not_set` while users set the keys at the
  top level;
- kube-prometheus-stack passes `grafana`, `kube-state-metrics` and `prometheus-node-exporter` to
  subcharts whose defaults are not in its values.yaml: not checked below the top level;
- where a schema exists the whole values object must also validate against it (cert-manager and the
  Istio gateway chart close their schemas with `additionalProperties: false`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import yaml

ISTIO_DEFAULTS = "_internal_defaults_do_not_set"
ISTIO_CHARTS = {"base", "istiod", "gateway"}
SUBCHARTS_NOT_CHECKED = {"kube-prometheus-stack": {"grafana", "kube-state-metrics", "prometheus-node-exporter"}}


@dataclass(frozen=True)
class ChartReference:
    chart: str
    defaults: Any
    schema: dict[str, Any] | None


def load_reference(reference: Path, chart: str, version: str) -> ChartReference:
    directory = reference / "chart-values" / chart / version
    if not directory.is_dir():
        raise FileNotFoundError(f"no reference values for chart {chart} {version} under {directory}")
    defaults = yaml.safe_load((directory / "values.yaml").read_text(encoding="utf-8")) or {}
    if chart in ISTIO_CHARTS and isinstance(defaults.get(ISTIO_DEFAULTS), dict):
        defaults = {**{k: v for k, v in defaults.items() if k != ISTIO_DEFAULTS}, **defaults[ISTIO_DEFAULTS]}
    schema_path = directory / "values.schema.json"
    schema = json.loads(schema_path.read_text(encoding="utf-8")) if schema_path.is_file() else None
    return ChartReference(chart=chart, defaults=defaults, schema=schema)


def _resolve(node: Any, root: dict[str, Any]) -> Any:
    while isinstance(node, dict) and isinstance(node.get("$ref"), str) and node["$ref"].startswith("#/"):
        target: Any = root
        for part in node["$ref"][2:].split("/"):
            target = target[part]
        node = target
    return node


def _schema_child(node: Any, key: str, root: dict[str, Any]) -> tuple[bool, Any]:
    """(whether the schema explicitly allows `key` here, the schema of its value)."""
    node = _resolve(node, root)
    if not isinstance(node, dict):
        return False, None
    if key in node.get("properties", {}):
        return True, node["properties"][key]
    additional = node.get("additionalProperties")
    if additional is True or isinstance(additional, dict):
        return True, additional if isinstance(additional, dict) else None
    if "properties" not in node and additional is None and not node.get("patternProperties"):
        return True, None  # a free-form map (`type: object` and nothing else), e.g. the gateway's `labels`
    if node.get("patternProperties"):
        for pattern, sub in node["patternProperties"].items():
            if re.search(pattern, key):
                return True, sub
    return False, None


def unknown_keys(reference: ChartReference, values: dict[str, Any]) -> list[str]:
    """Dotted paths of the keys in `values` the chart does not know, with the reason."""
    problems: list[str] = []
    loose = SUBCHARTS_NOT_CHECKED.get(reference.chart, set())
    root_schema = reference.schema or {}

    def walk(value: dict[str, Any], default: Any, schema: Any, path: tuple[str, ...]) -> None:
        for key, item in value.items():
            here = (*path, key)
            dotted = ".".join(here)
            if not path and key in loose:
                continue
            allowed, sub_schema = _schema_child(schema, key, root_schema) if schema is not None else (False, None)
            if isinstance(default, dict) and key in default:
                known = default[key]
                if isinstance(item, dict) and isinstance(known, dict) and known:
                    walk(item, known, sub_schema, here)
                elif isinstance(item, dict) and item and known not in (None, "") and not isinstance(known, dict | list):
                    problems.append(f"{dotted}: a map where the chart's default is {known!r}")
                continue
            if allowed:
                continue
            problems.append(f"{dotted}: not a key of {reference.chart}'s values.yaml or values.schema.json")

    walk(values, reference.defaults, reference.schema, ())
    if reference.schema is not None:
        validator_class = jsonschema.validators.validator_for(reference.schema, default=jsonschema.Draft7Validator)
        for error in validator_class(reference.schema).iter_errors(values):
            location = ".".join(str(part) for part in error.absolute_path) or "(root)"
            problems.append(f"{location}: {error.message} ({reference.chart} values.schema.json)")
    return problems
