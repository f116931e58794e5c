"""Offline checker: the pack's rules over plain Kubernetes YAML or the project's rendered stack.

    python -m policies.check [--config FILE] [--format text|json] [--stack ENV] PATH...

Exit status: 1 when any mandatory violation is found, 0 otherwise, 2 when the input or the config cannot
be read (with a one-line message, never a traceback). With `--stack ENV` and no `--config`, the
environment's `policies/config/ENV.json` applies, as it does for `pulumi preview`.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from policies import config
from policies.engine import Engine, Finding
from policies.manifests import InputError, from_records, load_paths
from policies.model import Resource
from policies.registry import BY_ID

CONFIG_DIR = Path(__file__).resolve().parent / "config"


class UsageError(Exception):
    """A problem with the invocation or its inputs: reported on stderr, exit status 2."""


def _arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m policies.check", description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="*", type=Path, metavar="PATH", help="YAML/JSON files or directories")
    parser.add_argument("--config", type=Path, help="policy config (the --policy-pack-config format)")
    parser.add_argument("--format", choices=("text", "json"), default="text")
    parser.add_argument("--stack", metavar="ENV", help="also check the project's stack for ENV, rendered under mocks")
    arguments = parser.parse_args(argv)
    if not arguments.paths and not arguments.stack:
        parser.error("give at least one PATH or --stack ENV")
    return arguments


def render(env: str) -> list[Resource]:
    """The stack's resources from `tools.render.render_stack(env)` (provided by the program's renderer)."""
    try:
        from tools.render import render_stack
    except ImportError as error:
        raise UsageError(
            f"--stack needs tools/render.py with render_stack(env), which cannot be imported: {error}"
        ) from error
    try:
        return from_records(render_stack(env))
    except (Exception, SystemExit) as error:  # noqa: BLE001 - any failure of the program under mocks is an input error
        raise UsageError(f"--stack {env}: rendering the stack failed: {type(error).__name__}: {error}") from error


def settings_for(arguments: argparse.Namespace) -> dict[str, config.RuleSettings] | None:
    path = arguments.config
    if path is None and arguments.stack:
        default = CONFIG_DIR / f"{arguments.stack}.json"
        path = default if default.exists() else None
    if path is None:
        return None
    try:
        return config.read(path, BY_ID)
    except config.ConfigError as error:
        raise UsageError(str(error)) from error


def run(arguments: argparse.Namespace, warnings: list[str]) -> list[Finding]:
    engine = Engine(settings_for(arguments))
    try:
        resources = load_paths(arguments.paths, warnings)
    except InputError as error:
        raise UsageError(str(error)) from error
    if arguments.stack:
        resources += render(arguments.stack)
    gc.freeze()  # the input is read-only from here: keep the cyclic collector from rescanning it
    try:
        return engine.run(resources)
    finally:
        gc.unfreeze()


def report(findings: Sequence[Finding], output_format: str) -> str:
    if output_format == "json":
        return json.dumps([finding.as_dict() for finding in findings], indent=2)
    return "\n".join(finding.line() for finding in findings)


def main(argv: Sequence[str] | None = None) -> int:
    arguments = _arguments(argv)
    warnings: list[str] = []
    try:
        findings = run(arguments, warnings)
    except UsageError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for warning in warnings:
        print(f"warning: {warning}", file=sys.stderr)
    output = report(findings, arguments.format)
    if output:
        print(output)
    mandatory = sum(finding.level == "mandatory" for finding in findings)
    print(f"{mandatory} mandatory, {len(findings) - mandatory} advisory violations", file=sys.stderr)
    return 1 if mandatory else 0


if __name__ == "__main__":
    sys.exit(main())
