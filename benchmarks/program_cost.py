"""Program cost under mocks: the whole gpuplat program against a bare-SDK baseline, for growing specs.

    venv/bin/python -m benchmarks.program_cost                      # N = 10, 100, 1000; 3 repetitions
    venv/bin/python -m benchmarks.program_cost --sizes 10 100 --repeat 5 --no-plot
    venv/bin/python -m benchmarks.program_cost --profile 1000       # pyinstrument hot spots in our code

For each N the spec generator (`benchmarks/specs.py`) writes a spec with N model services and N/5 Ray
clusters into a temporary directory; the program runs on it under the recording mocks of
`tools/mock_runtime.py` (`preview=False`, so every `apply` runs), exactly as the unit tests run it. The
baseline (`benchmarks/baseline.py`) registers the same Kubernetes resources directly with
pulumi_kubernetes, flat, under the same harness. Each is timed `--repeat` times, alternating, after one
untimed warm-up run of the program at that N; the table shows medians.

Targets (issue #8): program / baseline <= 1.3 at every N, and linear growth: the program's cost at the
largest N at most 1.1 x (N ratio) its cost at the previous N (1000 vs 100: at most 11 x).
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from benchmarks.baseline import replay, replayed
from benchmarks.machine import describe
from benchmarks.specs import ray_cluster_count, write_spec
from tools.mock_runtime import ROOT, Recording, record, record_stack

ENVIRONMENT = "bench"
RATIO_TARGET = 1.3
GROWTH_SLACK = 1.1
DEFAULT_PLOT = Path(__file__).resolve().parent / "program_cost.png"


@dataclass(frozen=True)
class Result:
    services: int
    ray_clusters: int
    registrations: int
    """Everything the program registered, components included."""
    resources: int
    """What both the program and the baseline register: Kubernetes custom resources, providers, charts."""
    program: list[float]
    baseline: list[float]

    @property
    def program_seconds(self) -> float:
        return statistics.median(self.program)

    @property
    def baseline_seconds(self) -> float:
        return statistics.median(self.baseline)

    @property
    def ratio(self) -> float:
        return self.program_seconds / self.baseline_seconds


def run_program(spec: Path) -> Recording:
    """The project's `__main__.py` on `spec`, under the recording mocks."""
    return record_stack(ENVIRONMENT, config={"gpuplat:spec": str(spec)})


def _timed(run) -> tuple[float, Recording]:
    gc.collect()
    start = time.perf_counter()
    recording = run()
    return time.perf_counter() - start, recording


def measure(services: int, repeat: int, directory: Path) -> Result:
    spec = write_spec(directory, services)
    reference = run_program(spec)  # warm-up: imports, caches; also what the baseline replays
    baseline_program = replay(reference.resources)
    expected = Counter(resource.type for resource in replayed(reference.resources))
    program_times, baseline_times = [], []
    for _ in range(repeat):
        seconds, recording = _timed(lambda: run_program(spec))
        program_times.append(seconds)
        if len(recording.resources) != len(reference.resources):
            raise RuntimeError(
                f"N={services}: the program registered {len(recording.resources)} resources, "
                f"then {len(reference.resources)}"
            )
        seconds, recording = _timed(lambda: record(baseline_program, stack=ENVIRONMENT))
        baseline_times.append(seconds)
        if Counter(resource.type for resource in recording.resources) != expected:
            raise RuntimeError(f"N={services}: the baseline did not register the program's resources")
    return Result(
        services=services,
        ray_clusters=ray_cluster_count(services),
        registrations=len(reference.resources),
        resources=sum(expected.values()),
        program=program_times,
        baseline=baseline_times,
    )


def table(results: list[Result]) -> str:
    lines = [
        "| N services | Ray clusters | registrations (with components) | resources | program s | baseline s "
        "| program resources/s | baseline resources/s | ratio |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for result in results:
        lines.append(
            f"| {result.services} | {result.ray_clusters} | {result.registrations} | {result.resources} "
            f"| {result.program_seconds:.2f} | {result.baseline_seconds:.2f} "
            f"| {result.resources / result.program_seconds:.0f} | {result.resources / result.baseline_seconds:.0f} "
            f"| {result.ratio:.2f} |"
        )
    return "\n".join(lines)


def verdicts(results: list[Result]) -> list[str]:
    """The two targets, each with the figures that decide it."""
    lines = []
    worst = max(results, key=lambda result: result.ratio)
    met = worst.ratio <= RATIO_TARGET
    verdict = "met" if met else "NOT met"
    lines.append(f"ratio to baseline <= {RATIO_TARGET}: {verdict} (worst {worst.ratio:.2f} at N={worst.services})")
    for smaller, larger in zip(results, results[1:], strict=False):
        if smaller.services == 0:
            continue
        allowed = GROWTH_SLACK * larger.services / smaller.services
        growth = larger.program_seconds / smaller.program_seconds
        per_resource = (larger.program_seconds / larger.resources) / (smaller.program_seconds / smaller.resources)
        lines.append(
            f"linear growth N={smaller.services}->{larger.services}: cost x{growth:.2f} (allowed x{allowed:.1f}), "
            f"resources x{larger.resources / smaller.resources:.2f}, seconds per resource x{per_resource:.2f}: "
            f"{'met' if growth <= allowed else 'NOT met'}"
        )
    return lines


def plot(results: list[Result], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = [result.services for result in results]
    figure, (cost, rate) = plt.subplots(1, 2, figsize=(11, 4.2))
    cost.plot(sizes, [r.program_seconds for r in results], "o-", label="gpuplat program")
    cost.plot(sizes, [r.baseline_seconds for r in results], "s--", label="bare pulumi_kubernetes baseline")
    first = results[0]
    cost.plot(
        sizes,
        [first.program_seconds * r.resources / first.resources for r in results],
        ":",
        color="grey",
        label="linear in resources (from smallest N)",
    )
    cost.set(xscale="log", yscale="log", xlabel="N model services (N/5 Ray clusters)", ylabel="seconds (median)")
    cost.set_title("Program cost under mocks")
    for result in results:
        cost.annotate(
            f"{result.resources} res.",
            (result.services, result.program_seconds),
            textcoords="offset points",
            xytext=(-10, 8),
            fontsize=8,
        )
    cost.legend(fontsize=8)
    cost.grid(True, which="both", alpha=0.3)
    rate.plot(sizes, [r.resources / r.program_seconds for r in results], "o-", label="gpuplat program")
    rate.plot(sizes, [r.resources / r.baseline_seconds for r in results], "s--", label="baseline")
    rate.set(xscale="log", xlabel="N model services", ylabel="resources / second", ylim=(0, None))
    rate.set_title("Throughput")
    rate.legend(fontsize=8)
    rate.grid(True, which="both", alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def hot_spots(services: int, directory: Path, limit: int = 25) -> str:
    """Profile one program run at N with pyinstrument; our frames (file:line) by inclusive time."""
    from pyinstrument import Profiler

    spec = write_spec(directory, services)
    run_program(spec)  # warm-up, so imports do not dominate
    profiler = Profiler(interval=0.0005, async_mode="disabled")
    gc.collect()
    profiler.start()
    run_program(spec)
    profiler.stop()
    session = profiler.last_session
    assert session is not None
    root = session.root_frame()
    assert root is not None
    total = root.time
    inclusive: Counter[tuple[str, int, str]] = Counter()
    own: Counter[tuple[str, int, str]] = Counter()
    ours = (str(ROOT / "components"), str(ROOT / "tools"), str(ROOT / "__main__.py"), str(ROOT / "benchmarks"))

    def walk(frame, seen: frozenset) -> None:
        key = (frame.file_path or "", frame.line_no or 0, frame.function or "")
        mine = key[0].startswith(ours)
        if mine and key not in seen:
            inclusive[key] += frame.time  # outermost occurrence only: recursion is not counted twice
        if mine:
            own[key] += frame.total_self_time
        for child in frame.children:
            walk(child, seen | {key} if mine else seen)

    walk(root, frozenset())
    lines = [
        f"pyinstrument, N={services}: {total:.2f} s sampled; frames in components/, tools/, __main__.py",
        "",
        "| inclusive s | % | self s | where |",
        "|---:|---:|---:|---|",
    ]
    for key, seconds in inclusive.most_common(limit):
        path, line, function = key
        where = f"{Path(path).relative_to(ROOT)}:{line} {function}"
        lines.append(f"| {seconds:.2f} | {100 * seconds / total:.0f} | {own[key]:.2f} | `{where}` |")
    text_path = directory / f"profile-{services}.txt"
    text_path.write_text(profiler.output_text(unicode=False, color=False, show_all=False), encoding="utf-8")
    lines.append(f"\nfull call tree: {text_path}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 100, 1000], help="N model services")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs of each program (median)")
    parser.add_argument("--plot", type=Path, default=DEFAULT_PLOT, help="PNG of cost vs N")
    parser.add_argument("--no-plot", action="store_true")
    parser.add_argument("--profile", type=int, metavar="N", help="only profile one run at N (pyinstrument)")
    parser.add_argument("--keep", type=Path, help="write the generated specs here instead of a temp dir")
    args = parser.parse_args(argv)

    print(describe())
    with tempfile.TemporaryDirectory(prefix="gpuplat-bench-") as temporary:
        directory = args.keep or Path(temporary)
        directory.mkdir(parents=True, exist_ok=True)
        if args.profile is not None:
            keep = args.keep or Path(tempfile.mkdtemp(prefix="gpuplat-profile-"))
            print(hot_spots(args.profile, keep))
            return 0
        results = []
        for services in sorted(args.sizes):
            results.append(measure(services, args.repeat, directory))
            print(
                f"N={services}: program {[f'{s:.2f}' for s in results[-1].program]} s, "
                f"baseline {[f'{s:.2f}' for s in results[-1].baseline]} s",
                file=sys.stderr,
                flush=True,
            )
    print(f"repetitions: {args.repeat} per program and N (median shown), one warm-up run before each N\n")
    print(table(results))
    print()
    for line in verdicts(results):
        print(line)
    if not args.no_plot:
        plot(results, args.plot)
        print(f"\nplot: {args.plot}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
