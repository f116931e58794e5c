"""Plain Kubernetes YAML as the rules see it: each object becomes a `Resource` whose type token is the
one Pulumi would register (`apps/v1` + `Deployment` -> `kubernetes:apps/v1:Deployment`), so the checker
runs exactly the rules the pack runs.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from policies.k8s import mapping, text, token_for
from policies.model import Resource

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
SUFFIXES = (".yaml", ".yml", ".json")


class InputError(Exception):
    """Input the checker cannot read: a missing file, or text that is not YAML."""


def resources_from_documents(documents: Sequence[Any], source: str, warnings: list[str]) -> list[Resource]:
    """Kubernetes objects among parsed documents; `kind: List` (kubectl output) is expanded.

    Documents that are not objects with a string apiVersion and kind are skipped with a warning.
    """
    found: list[Resource] = []

    def add(document: Any, where: str) -> None:
        if document is None:
            return
        api_version, kind = (text(mapping(document).get(k)) for k in ("apiVersion", "kind"))
        if not api_version or not kind:
            warnings.append(f"{where}: not a Kubernetes object (no apiVersion and kind), skipped")
            return
        if kind.endswith("List") and isinstance(document.get("items"), Sequence):
            for index, item in enumerate(document["items"]):
                add(item, f"{where} items[{index}]")
            return
        name = text(mapping(document.get("metadata")).get("name")) or f"{kind.lower()}-{len(found)}"
        found.append(Resource(token_for(api_version, kind), name, document))

    for index, document in enumerate(documents):
        add(document, f"{source} document {index + 1}")
    return found


def parse(content: str, source: str, warnings: list[str]) -> list[Resource]:
    try:
        documents = list(yaml.load_all(content, Loader=_LOADER))  # noqa: S506 (a safe loader)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise InputError(f"{source}:{where} invalid YAML: {problem}") from error
    return resources_from_documents(documents, source, warnings)


def _files(path: Path) -> Iterator[Path]:
    if path.is_dir():
        yield from sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in SUFFIXES)
    else:
        yield path


def load_paths(paths: Sequence[Path], warnings: list[str]) -> list[Resource]:
    """Every object in the given files and directories (searched recursively for YAML and JSON files)."""
    resources: list[Resource] = []
    for path in paths:
        if not path.exists():
            raise InputError(f"{path}: no such file or directory")
        for file in _files(path):
            try:
                content = file.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as error:
                raise InputError(f"{file}: cannot read ({error})") from error
            resources += parse(content, str(file), warnings)
    return resources


def from_records(records: Sequence[tuple[str, str, Mapping[str, Any]]]) -> list[Resource]:
    """Resources from `(type token, name, props)` records, as `tools.render.render_stack` returns them."""
    return [Resource(token, name, props) for token, name, props in records]
