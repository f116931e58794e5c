"""`python -m components.spec validate stacks/prod.yaml ...`: check stack files with no cloud or cluster.

Prints one line per problem (`file: path: reason`) and exits 1 when any file has a problem.
"""

from __future__ import annotations

import argparse
import sys

from components.spec.loader import validate_file


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m components.spec")
    commands = parser.add_subparsers(dest="command", required=True)
    validate = commands.add_parser("validate", help="validate stack spec files")
    validate.add_argument("files", nargs="+", help="stacks/<env>.yaml files")
    validate.add_argument("--environment", help="environment name (default: the file name)")
    args = parser.parse_args(argv)
    failed = False
    for spec_file in args.files:
        problems = validate_file(spec_file, args.environment)
        for problem in problems:
            print(problem)
        print(f"{spec_file}: {'INVALID, ' + str(len(problems)) + ' problem(s)' if problems else 'valid'}",
              file=sys.stderr)
        failed = failed or bool(problems)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
