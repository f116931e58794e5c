"""Program-cost report: medians, ratios, per-step growth verdicts and the table, from given timings."""

from __future__ import annotations

import pytest

from benchmarks.program_cost import Result, table, verdicts


def result(services: int, resources: int, program: list[float], baseline: list[float]) -> Result:
    """CPU samples as given; wall samples twice as long (a loaded machine); the plain-SDK replay 1.5 x
    the baseline (default GC)."""
    return Result(
        services,
        services // 5,
        resources + 5,
        resources,
        program_wall=[2 * s for s in program],
        program_cpu=program,
        baseline_wall=[2 * s for s in baseline],
        baseline_cpu=baseline,
        plain_wall=[3 * s for s in baseline],
        plain_cpu=[1.5 * s for s in baseline],
    )


def test_medians_and_ratio() -> None:
    measured = result(100, 600, [3.0, 1.0, 2.0], [1.0, 2.0, 1.6])
    assert (measured.seconds("program"), measured.seconds("baseline"), measured.ratio()) == (2.0, 1.6, 1.25)
    assert (measured.seconds("program", "wall"), measured.ratio("wall")) == (4.0, 1.25)
    assert measured.ratio(against="plain") == pytest.approx(2.0 / 2.4)


def test_both_targets_met() -> None:
    lines = verdicts(
        [result(10, 70, [0.2], [0.18]), result(100, 610, [1.5], [1.3]), result(1000, 6010, [16.0], [13.0])]
    )
    assert lines[0] == "ratio to baseline <= 1.3 (cpu): met (worst 1.23 at N=1000)"
    assert lines[1].endswith(": met") and "cost x7.50 (allowed x11.0; baseline x7.22)" in lines[1]
    assert lines[2].endswith(": met") and "cost x10.67 (allowed x11.0; baseline x10.00)" in lines[2]


def test_superlinear_growth_and_slow_program_are_reported() -> None:
    lines = verdicts([result(100, 600, [2.0], [1.0]), result(1000, 6000, [30.0], [10.0])], "wall")
    assert lines[0] == "ratio to baseline <= 1.3 (wall): NOT met (worst 3.00 at N=1000)"
    assert "cost x15.00 (allowed x11.0; baseline x10.00)" in lines[1]
    assert "seconds per resource x1.50" in lines[1]
    assert lines[1].endswith("NOT met")


def test_table_has_one_row_per_n_with_rates() -> None:
    text = table([result(10, 100, [0.5], [0.4])])
    assert text.splitlines()[2] == (
        "| 10 | 2 | 105 | 100 | 0.50 | 0.40 | 1.25 | 0.60 | 0.83 | 200 | 250 | 1.00 | 0.80 | 1.25 |"
    )
