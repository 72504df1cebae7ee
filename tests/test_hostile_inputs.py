"""scripts/hostile_inputs.py in CI: 60 and more hostile inputs across every command, each as
docs/reliability.md promises, and the table of them in that page made by the script."""

import os
import re
import subprocess
import sys

from helpers import REPO

SCRIPT = REPO / "scripts/hostile_inputs.py"
HEADING = "## Hostile inputs, tried by a script"


def table_rows(table: str) -> list[list[str]]:
    """The cells of a markdown table's rows (its header and rule left out)."""
    rows = [re.split(r"(?<!\\)\|", line.strip())[1:-1] for line in table.splitlines() if line.startswith("|")]
    return [[cell.strip() for cell in row] for row in rows[2:]]


def documented_table() -> str:
    page = (REPO / "docs/reliability.md").read_text()
    section = page.split(HEADING, 1)[1].split("\n## ", 1)[0]
    return "\n".join(line for line in section.splitlines() if line.startswith("|"))


def test_every_hostile_input_gets_what_the_docs_promise(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "DISPLAY"}
    table = tmp_path / "hostile.md"
    result = subprocess.run([sys.executable, str(SCRIPT), "--table", str(table)], capture_output=True, text=True,
                            env=env, timeout=300)
    rows = table_rows(table.read_text()) if table.exists() else []
    failed = [" | ".join(row) for row in rows if row[3] != "yes"]
    assert result.returncode == 0 and not failed, "\n".join(failed) or result.stderr[-3000:]
    assert len(rows) >= 60
    commands = {row[0].split()[0].rstrip(",") for row in rows}
    assert {"mfs-train", "swap", "verify", "export", "bench", "table2", "prepare-data", "live", "eval-swaps"} <= commands
    # The page shows the cases and what each must give, as the script runs them (the actual
    # column holds this machine's paths and FFmpeg's wording: regenerated, not compared).
    assert [row[:2] for row in table_rows(documented_table())] == [row[:2] for row in rows]
