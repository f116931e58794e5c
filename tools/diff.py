"""Desired-state diff: what a change does to each environment, as Markdown for a pull-request review.

    python -m tools.diff OLD NEW                        two renders (ENV.yaml files, or directories of them)
    python -m tools.diff --base REV [--head REV]        two git revisions (no --head: the working tree)
    python -m tools.diff --affected --base REV [--head REV]   the environments a change affects, as JSON

Revisions are materialised with `git archive` into a temporary directory and rendered with this
checkout's renderer and mocks (`tools/render.py`, `tools/mock_runtime.py` are copied over the revision's)
and the same Python, so both sides differ only in the specs and the program. Resources are matched by
kind + namespace/name for Kubernetes objects (whatever their apiVersion) and by type + logical name for
everything else. Each environment's section ends with the policy checker's findings on the new state
(this checkout's rules, `policies/config/ENV.json`).

Exit status: 0 with a report, 1 when a new state cannot be rendered (the report says why), 2 on bad usage.
"""

from __future__ import annotations

import argparse
import io
import json
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tools.mock_runtime import ROOT
from tools.render import Document, RenderFormatError, load_file

# The renderer and its harness, copied over a materialised revision so both sides render alike.
RENDERER_FILES = ("tools/__init__.py", "tools/mock_runtime.py", "tools/render.py")
# Paths whose change affects every environment; `stacks/ENV.yaml` and `Pulumi.ENV.yaml` affect one.
SHARED_PREFIXES = ("components/", "policies/", "__main__.py", "requirements", "Pulumi.yaml")
LIST_KEYS = ("name", "groupName", "key")
MAX_VALUE = 200


class _Missing:
    def __repr__(self) -> str:
        return "(none)"


MISSING: Any = _Missing()


@dataclass(frozen=True)
class FieldChange:
    """One leaf that differs: `spec.predictor.minReplicas 1 -> 2`; a side without the field is `(none)`."""

    path: str
    old: Any
    new: Any

    def text(self) -> str:
        return f"{self.path} {show(self.old)} -> {show(self.new)}"


@dataclass(frozen=True)
class EnvironmentDiff:
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    changed: tuple[tuple[str, tuple[FieldChange, ...]], ...] = ()
    unchanged: int = 0

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed)


@dataclass
class EnvironmentReport:
    """One environment's section: the diff (or why there is none) and the policy findings on the new state."""

    environment: str
    diff: EnvironmentDiff | None = None
    notes: list[str] = field(default_factory=list)
    error: str | None = None
    findings: list[Any] | None = None
    new_findings: set[str] | None = None  # lines of the findings the base did not have, when there is a base
    policy_error: str | None = None
    policy_config: str | None = None


# ---------------------------------------------------------------- field-level diff


def show(value: Any) -> str:
    if value is MISSING:
        return "(none)"
    text = json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    return text if len(text) <= MAX_VALUE else text[: MAX_VALUE - 1] + "…"


def _join(path: str, key: Any) -> str:
    key = str(key)
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_-]*", key):
        return f"{path}.{key}" if path else key
    return f"{path}[{json.dumps(key, ensure_ascii=False)}]"


def _list_key(old: list, new: list) -> str | None:
    """A field naming every item of both lists uniquely (containers by `name`, ...), if there is one."""
    for key in LIST_KEYS:
        if all(_names_unique(items, key) for items in (old, new)):
            return key
    return None


def _names_unique(items: list, key: str) -> bool:
    values = [item.get(key) if isinstance(item, dict) else None for item in items]
    return all(isinstance(value, str | int) and not isinstance(value, bool) for value in values) and len(
        set(values)
    ) == len(values)


def _embedded(value: Any) -> tuple[str, Any]:
    """A string holding a JSON or multi-line YAML object or array (IAM policies, Ray serve configs, Kueue
    configuration) as `(format, data)`, else `("", MISSING)`."""
    if not isinstance(value, str):
        return "", MISSING
    if value.lstrip()[:1] in ("{", "["):
        try:
            return "json", json.loads(value)
        except ValueError:
            pass
    if "\n" in value.strip():
        try:
            data = yaml.safe_load(value)
        except yaml.YAMLError:
            return "", MISSING
        if isinstance(data, dict | list):
            return "yaml", data
    return "", MISSING


def field_changes(old: Any, new: Any, path: str = "") -> list[FieldChange]:
    """The leaves that differ, with dotted paths; named list items are matched by name, not position."""
    if old == new:
        return []
    if isinstance(old, dict) and isinstance(new, dict):
        changes = []
        for key in sorted(set(old) | set(new), key=str):
            changes += field_changes(old.get(key, MISSING), new.get(key, MISSING), _join(path, key))
        return changes
    if isinstance(old, list) and isinstance(new, list):
        key = _list_key(old, new)
        if key is not None:
            before = {item[key]: item for item in old}
            after = {item[key]: item for item in new}
            order = [*before, *(name for name in after if name not in before)]
            changes = []
            for name in order:
                item_path = f"{path}[{key}={name}]"
                changes += field_changes(before.get(name, MISSING), after.get(name, MISSING), item_path)
            return changes
        if len(old) == len(new):
            return [
                c
                for index, pair in enumerate(zip(old, new, strict=True))
                for c in field_changes(*pair, f"{path}[{index}]")
            ]
    (old_format, old_data), (new_format, new_data) = _embedded(old), _embedded(new)
    if old_format and old_format == new_format:
        inner = field_changes(old_data, new_data, f"{path}({old_format})")
        if inner:  # else only the text differs (key order, spacing): shown whole below
            return inner
    return [FieldChange(path or "(root)", old, new)]


# ---------------------------------------------------------------- resource-level diff


def index(
    documents: Iterable[Document], collisions: set[tuple[str, ...]]
) -> dict[tuple[str, ...], tuple[str, Document]]:
    """Documents by identity, with their display title. Identities in `collisions` (two kinds of one name
    in different API groups, or one type and name under different parents) are told apart by the API group,
    then by position."""
    found: dict[tuple[str, ...], tuple[str, Document]] = {}
    for document in documents:
        identity, title = document.identity(), document.title()
        if identity in collisions and document.group:
            identity, title = (*identity, document.group), f"{title} ({document.group})"
        number, unique, unique_title = 1, identity, title
        while unique in found:
            number += 1
            unique, unique_title = (*identity, str(number)), f"{title} #{number}"
        found[unique] = (unique_title, document)
    return found


def _collisions(*renders: Sequence[Document]) -> set[tuple[str, ...]]:
    """Identities that more than one document of a render has, in either render: both sides qualify them."""
    return {
        identity
        for documents in renders
        for identity, count in Counter(document.identity() for document in documents).items()
        if count > 1
    }


def diff_documents(old: Sequence[Document], new: Sequence[Document]) -> EnvironmentDiff:
    collisions = _collisions(old, new)
    before, after = index(old, collisions), index(new, collisions)
    added = sorted(after[key][0] for key in after.keys() - before.keys())
    removed = sorted(before[key][0] for key in before.keys() - after.keys())
    changed = []
    unchanged = 0
    for key in sorted(before.keys() & after.keys()):
        (_, old_document), (title, new_document) = before[key], after[key]
        changes = field_changes(old_document.props, new_document.props)
        if changes:
            changed.append((title, tuple(changes)))
        else:
            unchanged += 1
    changed.sort()
    return EnvironmentDiff(tuple(added), tuple(removed), tuple(changed), unchanged)


# ---------------------------------------------------------------- policy check of the new state


def check_policies(
    report: EnvironmentReport,
    new: Sequence[Document],
    old: Sequence[Document] | None = None,
) -> None:
    """Run the policy checker in-process on the new state (and the old one, to tell which findings the change
    introduces). An unavailable checker or an unreadable config is reported in the section, not fatal."""
    try:
        from policies import config as policy_config
        from policies.engine import Engine
        from policies.manifests import from_records
        from policies.registry import BY_ID
    except ImportError as error:
        report.policy_error = f"the policy checker cannot be imported: {error}"
        return
    config_file = ROOT / "policies" / "config" / f"{report.environment}.json"
    try:
        settings = policy_config.read(config_file, BY_ID) if config_file.exists() else None
    except policy_config.ConfigError as error:
        report.policy_error = str(error)
        return
    report.policy_config = f"policies/config/{config_file.name}" if settings is not None else None
    engine = Engine(settings)
    findings = engine.run(from_records([document.record() for document in new]))
    report.findings = sorted(findings, key=lambda finding: (finding.level != "mandatory", finding.line()))
    if old is not None:
        # Compared by their text: a finding also carries the checked resource, which differs between runs.
        before = {finding.line() for finding in engine.run(from_records([document.record() for document in old]))}
        report.new_findings = {finding.line() for finding in findings} - before


# ---------------------------------------------------------------- Markdown


def code(text: str) -> str:
    """A Markdown code span that holds any text (backticks included)."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    padded = f" {text} " if text.startswith("`") or text.endswith("`") else text
    return f"{fence}{padded}{fence}"


def environment_markdown(report: EnvironmentReport) -> list[str]:
    lines = [f"### {report.environment}", ""]
    lines += [f"> {note}" for note in report.notes]
    if report.notes:
        lines.append("")
    if report.error is not None:
        lines += ["**The new state cannot be rendered:**", "", "```", report.error.strip(), "```", ""]
    diff = report.diff
    if diff is not None:
        if diff.empty:
            lines += [f"No changes ({diff.unchanged} resources).", ""]
        else:
            counts = f"{len(diff.added)} added, {len(diff.removed)} removed, {len(diff.changed)} changed"
            lines += [f"{counts}, {diff.unchanged} unchanged.", ""]
        for heading, titles in (("Added", diff.added), ("Removed", diff.removed)):
            if titles:
                lines += [f"#### {heading}", "", *(f"- {code(title)}" for title in titles), ""]
        if diff.changed:
            lines += ["#### Changed", ""]
            lines += [f"- {code(f'{title}: {change.text()}')}" for title, changes in diff.changed for change in changes]
            lines.append("")
    lines += policy_markdown(report)
    return lines


def _finding_line(report: EnvironmentReport, finding: Any) -> str:
    new = report.new_findings is not None and finding.line() in report.new_findings
    return f"- {'**new** ' if new else ''}{code(finding.line())}"


def _counts(report: EnvironmentReport, level: str) -> str:
    assert report.findings is not None
    found = [finding for finding in report.findings if (finding.level == "mandatory") == (level == "mandatory")]
    if report.new_findings is None:
        return str(len(found))
    return f"{len(found)} ({sum(finding.line() in report.new_findings for finding in found)} new)"


def policy_markdown(report: EnvironmentReport) -> list[str]:
    if report.policy_error is not None:
        return ["#### Policy check (new state)", "", f"Not run: {report.policy_error}", ""]
    if report.findings is None:
        return []
    source = code(report.policy_config) if report.policy_config else "rule defaults"
    counts = f"{_counts(report, 'mandatory')} mandatory, {_counts(report, 'advisory')} advisory violations"
    lines = ["#### Policy check (new state)", "", f"{counts} ({source}).", ""]
    mandatory = [finding for finding in report.findings if finding.level == "mandatory"]
    advisory = [finding for finding in report.findings if finding.level != "mandatory"]
    if mandatory:
        lines += [*(_finding_line(report, finding) for finding in mandatory), ""]
    if advisory:
        lines += ["<details><summary>Advisory</summary>", ""]
        lines += [*(_finding_line(report, finding) for finding in advisory), "", "</details>", ""]
    return lines


def summary_row(report: EnvironmentReport) -> str:
    diff = report.diff
    cells = [str(len(part)) for part in (diff.added, diff.removed, diff.changed)] if diff else ["–"] * 3
    if report.findings is not None:
        cells += [_counts(report, "mandatory"), _counts(report, "advisory")]
    else:
        cells += ["–", "–"]
    if report.error is not None:
        cells[0] = "**render failed**"
    return f"| {report.environment} | " + " | ".join(cells) + " |"


def markdown(reports: Sequence[EnvironmentReport], title: str) -> str:
    lines = [
        f"## Desired state: {title}",
        "",
        "| environment | added | removed | changed | mandatory | advisory |",
        "|---|---|---|---|---|---|",
        *(summary_row(report) for report in reports),
        "",
    ]
    for report in reports:
        lines += environment_markdown(report)
    lines += [
        "<sub>Rendered from the specs under mocks (`python -m tools.diff`): no credentials, no cluster. Helm charts "
        "appear as chart resources, not as the objects they install. Secret values show as `[secret]`, so a "
        "changed secret value is not visible here.</sub>",
        "",
    ]
    return "\n".join(lines)


def truncate(text: str, limit: int | None) -> str:
    """At most `limit` characters, cut at a line, saying how much is left out (a PR comment holds 65536)."""
    if limit is None or len(text) <= limit:
        return text
    notice = "\n\n_… {} more lines not shown: the full report is in the workflow run's artifacts._\n"
    lines = text.splitlines()
    kept: list[str] = []
    size = len(notice) + 10
    for line in lines:
        if size + len(line) + 1 > limit:
            break
        kept.append(line)
        size += len(line) + 1
    return "\n".join(kept) + notice.format(len(lines) - len(kept))


# ---------------------------------------------------------------- renders and revisions


def read_renders(path: Path) -> dict[str, list[Document]]:
    """`ENV.yaml` files of a render directory (or one file) by environment."""
    files = sorted(path.glob("*.yaml")) if path.is_dir() else [path]
    return {file.stem: load_file(file) for file in files}


def reports_from_renders(
    old: Mapping[str, list[Document]], new: Mapping[str, list[Document]]
) -> list[EnvironmentReport]:
    reports = []
    for environment in sorted(old.keys() | new.keys()):
        report = EnvironmentReport(environment)
        if environment not in old:
            report.notes.append("New environment: every resource is added.")
        if environment not in new:
            report.notes.append("Environment removed: every resource is removed.")
        report.diff = diff_documents(old.get(environment, []), new.get(environment, []))
        if environment in new:
            check_policies(report, new[environment], old.get(environment))
        reports.append(report)
    return reports


def git(*arguments: str, cwd: Path = ROOT) -> str:
    return subprocess.run(["git", *arguments], cwd=cwd, check=True, capture_output=True, text=True).stdout


def materialise(revision: str, into: Path, repo: Path = ROOT) -> Path:
    """The revision's files (no .git) in `into`, with this checkout's renderer and harness copied over."""
    into.mkdir(parents=True)
    archive = subprocess.run(
        ["git", "archive", "--format=tar", revision], cwd=repo, check=True, capture_output=True
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:") as tar:
        tar.extractall(into, filter="data")
    for relative in RENDERER_FILES:
        (into / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / relative, into / relative)
    return into


def environments_in(tree: Path) -> set[str]:
    return {path.stem for path in (tree / "stacks").glob("*.yaml")}


def render_tree(tree: Path, environment: str, out: Path) -> tuple[list[Document] | None, str | None]:
    """Render one environment of a project tree in a fresh interpreter: (documents, None) or (None, error)."""
    if not (tree / "stacks" / f"{environment}.yaml").exists():
        return [], None
    result = subprocess.run(
        [sys.executable, "-m", "tools.render", environment, "--out", str(out)],
        cwd=tree, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    if result.returncode != 0:
        return None, (result.stderr.strip() or f"exit status {result.returncode}")
    try:
        return load_file(out / f"{environment}.yaml"), None
    except RenderFormatError as error:
        return None, str(error)


def changed_paths(base: str, head: str | None, repo: Path = ROOT) -> list[str]:
    """Paths that differ between `base` and `head` (the working tree when None)."""
    names = git("diff", "--name-only", base, *([head] if head else []), cwd=repo)
    return [line for line in names.splitlines() if line]


def affected_environments(paths: Iterable[str], environments: Sequence[str]) -> list[str]:
    """The environments whose desired state a change of `paths` can alter, in the order given.

    `stacks/ENV.yaml` and `Pulumi.ENV.yaml` affect ENV; the program and its dependencies (`components/`,
    `__main__.py`, `Pulumi.yaml`, `requirements*`) and the policy pack (`policies/`) affect every one.
    """
    hit: set[str] = set()
    for path in paths:
        if path.startswith(SHARED_PREFIXES):
            return list(environments)
        match = re.fullmatch(r"stacks/([^/]+)\.yaml|Pulumi\.([^/]+)\.yaml", path)
        if match:
            hit.add(match.group(1) or match.group(2))
    return [environment for environment in environments if environment in hit]


def reports_from_revisions(
    base: str,
    head: str | None,
    environments: Sequence[str] | None = None,
    *,
    repo: Path = ROOT,
    renders_dir: Path | None = None,
) -> list[EnvironmentReport]:
    """Render every environment (or the given ones) at both revisions and diff them.

    `head=None` is the working tree of `repo`. Renders go to `renders_dir/{base,head}/ENV.yaml` when given.
    """
    with tempfile.TemporaryDirectory(prefix="gpuplat-diff-") as scratch:
        work = Path(scratch)
        renders = (renders_dir or work / "render").resolve()  # the renderer runs in the revision's directory
        trees = {
            "base": materialise(base, work / "base", repo),
            "head": materialise(head, work / "head", repo) if head else repo,
        }
        names = sorted(environments or environments_in(trees["base"]) | environments_in(trees["head"]))
        with ThreadPoolExecutor(max_workers=4) as pool:
            futures = {
                (side, name): pool.submit(render_tree, tree, name, renders / side)
                for name in names
                for side, tree in trees.items()
            }
        results = {key: future.result() for key, future in futures.items()}
        reports = []
        for name in names:
            report = EnvironmentReport(name)
            (old, old_error), (new, new_error) = results["base", name], results["head", name]
            base_has, head_has = ((trees[side] / "stacks" / f"{name}.yaml").exists() for side in ("base", "head"))
            if not base_has:
                report.notes.append("New environment: every resource is added.")
            if not head_has:
                report.notes.append("Environment removed: every resource is removed.")
            if old_error is not None:
                report.notes.append(
                    f"The base revision cannot be rendered, so no diff is shown: {old_error.splitlines()[-1]}"
                )
            report.error = new_error
            if old is not None and new is not None:
                report.diff = diff_documents(old, new)
            if new is not None and head_has:
                check_policies(report, new, old if base_has else None)
            reports.append(report)
        return reports


# ---------------------------------------------------------------- command line


def _arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tools.diff", description=__doc__.split("\n\n")[0])
    parser.add_argument("renders", nargs="*", type=Path, metavar="OLD NEW", help="two renders (files or directories)")
    parser.add_argument("--base", metavar="REV", help="base git revision")
    parser.add_argument("--head", metavar="REV", help="head git revision (default: the working tree)")
    parser.add_argument(
        "--env", action="append", dest="environments", metavar="ENV", help="only this environment (repeatable)"
    )
    parser.add_argument("--affected", action="store_true", help="print the affected environments as JSON and exit")
    parser.add_argument("--out", type=Path, metavar="FILE", help="write the Markdown here instead of stdout")
    parser.add_argument("--max-chars", type=int, metavar="N", help="cut the report to N characters (PR comments)")
    parser.add_argument("--save-renders", type=Path, metavar="DIR", help="keep the renders in DIR/base and DIR/head")
    arguments = parser.parse_args(argv)
    if arguments.base is None and len(arguments.renders) != 2:
        parser.error("give two renders, or --base REV")
    if arguments.base is not None and arguments.renders:
        parser.error("give either two renders or --base REV, not both")
    if (arguments.affected or arguments.save_renders) and arguments.base is None:
        parser.error("--affected and --save-renders need --base REV")
    return arguments


def _short(revision: str) -> str:
    try:
        return git("rev-parse", "--short", revision).strip()
    except subprocess.CalledProcessError:
        return revision


def main(argv: Sequence[str] | None = None) -> int:
    arguments = _arguments(argv)
    try:
        if arguments.affected:
            environments = arguments.environments or sorted(environments_in(ROOT))
            print(json.dumps(affected_environments(changed_paths(arguments.base, arguments.head), environments)))
            return 0
        if arguments.base is not None:
            reports = reports_from_revisions(
                arguments.base, arguments.head, arguments.environments, renders_dir=arguments.save_renders
            )
            title = (
                f"{code(_short(arguments.base))} → {code(_short(arguments.head) if arguments.head else 'working tree')}"
            )
        else:
            old, new = (read_renders(path) for path in arguments.renders)
            if arguments.environments:
                old = {name: docs for name, docs in old.items() if name in arguments.environments}
                new = {name: docs for name, docs in new.items() if name in arguments.environments}
            reports = reports_from_renders(old, new)
            title = f"{code(str(arguments.renders[0]))} → {code(str(arguments.renders[1]))}"
    except (OSError, RenderFormatError, subprocess.CalledProcessError) as error:
        detail = getattr(error, "stderr", None)
        print(
            f"error: {error}" + (f": {detail.strip()}" if isinstance(detail, str | bytes) and detail else ""),
            file=sys.stderr,
        )
        return 2
    text = truncate(markdown(reports, title), arguments.max_chars)
    if arguments.out:
        arguments.out.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 1 if any(report.error is not None for report in reports) else 0


if __name__ == "__main__":
    sys.exit(main())
