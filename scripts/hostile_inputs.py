"""Hostile inputs to every command, made here at run time, each run and held against what
docs/reliability.md promises: the exit status, one ``error:`` line on stderr (or none), no
traceback, no output left under a final name or as a hidden temporary, no input changed.

    python scripts/hostile_inputs.py [--table FILE]

prints (or writes) the markdown table case | expected | actual | as expected, and exits 1 when
any case is not as expected; tests/test_hostile_inputs.py runs it in CI. Cases run in this
process through each command's main function (a subprocess only where native code could take
the process down), with one tiny swapper and tiny images, so that the whole run takes seconds.
"""

import argparse
import contextlib
import io
import os
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

BIN = Path(sys.executable).parent


@dataclass
class Case:
    """``program argv`` and what it must give: exit status ``exit``, one error line containing
    ``error`` (None: no error line), none of ``absent`` existing afterwards, ``check()`` returning
    None (else what is wrong)."""

    name: str
    argv: list[str]
    exit: int = 1
    error: str | None = None
    absent: tuple[Path, ...] = ()
    check: Callable[[], str | None] | None = None
    program: str = "mfs"
    subprocess: bool = False

    def expected(self) -> str:
        return f"exit {self.exit}" + (f", one line `...{self.error}...`" if self.error else ", no error line")


@dataclass
class Outcome:
    code: int | str  # "crash" for an exception out of main()
    stderr: str
    seconds: float = 0.0
    problems: list[str] = field(default_factory=list)

    def error_lines(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if "error:" in line]


@contextlib.contextmanager
def native_output_to(file) -> None:
    """File descriptors 1 and 2 (what native code prints) into ``file`` while inside."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    try:
        os.dup2(file.fileno(), 1)
        os.dup2(file.fileno(), 2)
        yield
    finally:
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        os.close(saved[0])
        os.close(saved[1])


def call_main(main: Callable[[], None]) -> tuple[int | str, str]:
    """``main()`` with stdout and stderr captured: its exit status (as the shell sees it) and stderr."""
    out, err = io.StringIO(), io.StringIO()
    with tempfile.TemporaryFile("w+") as native:
        with native_output_to(native), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main()
                code = 0
            except SystemExit as exit_:
                code = exit_.code if isinstance(exit_.code, int) else 0 if exit_.code is None else 1
                if isinstance(exit_.code, str):
                    print(exit_.code, file=sys.stderr)
            except BaseException:  # what the case is there to find
                traceback.print_exc()
                code = "crash"
        native.seek(0)
        return code, err.getvalue() + native.read()


def run_mfs_train(argv: list[str]) -> None:
    from hydra.core.global_hydra import GlobalHydra

    from mobilefaceswap import train

    GlobalHydra.instance().clear()
    saved, sys.argv = sys.argv, ["mfs-train", *argv]
    try:
        train.main()
    finally:
        sys.argv = saved
        GlobalHydra.instance().clear()


def run_case(case: Case) -> Outcome:
    start = time.perf_counter()
    if case.subprocess:
        done = subprocess.run([os.fsencode(BIN / case.program), *map(os.fsencode, case.argv)], capture_output=True)
        code, stderr = done.returncode, done.stderr.decode(errors="replace")
    elif case.program == "mfs":
        from mobilefaceswap.cli import main

        code, stderr = call_main(lambda: main(case.argv))
    else:
        code, stderr = call_main(lambda: run_mfs_train(case.argv))
    return Outcome(code, stderr, seconds=time.perf_counter() - start)


def tree_digest(folder: Path) -> dict[str, tuple]:
    """Every entry under ``folder`` -> what changes when it is written, replaced or removed: its
    inode, size and modification time (links: their targets' names). Cheaper than hashing the
    swappers after every case, and as sure: nothing writes a file without touching them."""
    digest = {}
    for path in sorted(folder.rglob("*")):
        if path.is_symlink():
            digest[str(path)] = ("->", os.readlink(path))
        else:
            stat = path.stat()
            digest[str(path)] = (stat.st_ino, stat.st_size, stat.st_mtime_ns)
    return digest


def judge(case: Case, outcome: Outcome, inputs_before: dict[str, str], inputs: Path, outputs: Path) -> None:
    """What in ``outcome`` is not as ``case`` expects, appended to ``outcome.problems``."""
    problems = outcome.problems
    if "Traceback" in outcome.stderr or outcome.code == "crash":
        problems.append("a traceback")
    if outcome.code != case.exit:
        problems.append(f"exit {outcome.code}")
    lines = outcome.error_lines()
    if case.error is None and lines:
        problems.append(f"an error line `{lines[0]}`")
    elif case.error is not None and (len(lines) != 1 or case.error not in lines[0]):
        problems.append(f"{len(lines)} error lines" if len(lines) != 1 else f"the line `{lines[0]}`")
    problems.extend(f"{path} left" for path in case.absent if path.exists())
    # hidden temporaries (write_atomic's); .hydra is Hydra's record of the run's config, written first
    problems.extend(f"hidden temporary {p} left" for p in outputs.rglob(".*") if p.name != ".hydra")
    after = tree_digest(inputs)
    problems.extend(f"input {path} changed" for path in inputs_before if after.get(path) != inputs_before[path])
    if case.check is not None and (problem := case.check()):
        problems.append(problem)


def actual(case: Case, outcome: Outcome) -> str:
    lines = outcome.error_lines()
    said = f", `{lines[0]}`" if lines else ""
    return f"exit {outcome.code}{said}" + "".join(f"; {p}" for p in outcome.problems if not p.startswith("the line"))


def run_cases(cases: list[Case], inputs: Path, outputs: Path) -> list[tuple[Case, Outcome]]:
    results = []
    for case in cases:
        before = tree_digest(inputs)
        outcome = run_case(case)
        judge(case, outcome, before, inputs, outputs)
        results.append((case, outcome))
    return results


def markdown_table(results: list[tuple[Case, Outcome]], root: Path) -> str:
    """case | expected | actual | as expected, with ``root`` written as DIR (the table is the
    same from run to run)."""

    def cell(text: str) -> str:
        return text.replace(str(root), "DIR").replace("|", "\\|").replace("\n", " ")

    rows = ["| case | expected | actual | as expected |", "|---|---|---|---|"]
    for case, outcome in results:
        verdict = "no: " + "; ".join(outcome.problems) if outcome.problems else "yes"
        rows.append(f"| {cell(case.name)} | {cell(case.expected())} | {cell(actual(case, outcome))} | {cell(verdict)} |")
    return "\n".join(rows) + "\n"


def run_all(root: Path) -> tuple[str, int, int]:
    """Every case, on inputs made under ``root``: (the table, cases run, cases not as expected)."""
    from hostile_cases import all_cases, make_inputs

    inputs, outputs = root / "in", root / "out"
    made = make_inputs(inputs, outputs)
    results = run_cases(all_cases(made), inputs, outputs)
    if os.environ.get("HOSTILE_TIMES"):  # where the seconds go
        for case, outcome in sorted(results, key=lambda r: -r[1].seconds)[:25]:
            print(f"{outcome.seconds:6.2f} s  {case.name}", file=sys.stderr)
    return markdown_table(results, root), len(results), sum(bool(o.problems) for _, o in results)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--table", type=Path, help="write the markdown table here (default: print it)")
    args = parser.parse_args()
    os.environ.pop("DISPLAY", None)  # mfs live --window without a display is one of the cases
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="hostile-") as root:
        table, count, failed = run_all(Path(root))
    if args.table:
        args.table.write_text(table)
    else:
        print(table, end="")
    print(f"{count} cases, {failed} not as expected, {time.perf_counter() - start:.0f} s", file=sys.stderr)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    main()
