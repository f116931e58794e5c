"""Spec problems: collected, never raised one by one, so a user sees every mistake in one run."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class SpecProblem:
    """One problem: the file, the dotted path inside it, and the reason."""

    file: str
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.path}: {self.message}" if self.path else f"{self.file}: {self.message}"


class SpecError(Exception):
    """Raised once, after validation, with every problem found."""

    def __init__(self, problems: list[SpecProblem]):
        self.problems = sorted(set(problems))
        super().__init__("\n".join(str(problem) for problem in self.problems))

    @property
    def paths(self) -> list[str]:
        return [problem.path for problem in self.problems]
