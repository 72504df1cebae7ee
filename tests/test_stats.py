import json
import subprocess
import sys
from pathlib import Path

import pytest

from mobilefaceswap.stats import student_stats


def test_sizes_at_224_match_the_paper():
    parts = student_stats(224)["parts"]
    for part in ("idn", "fusion", "total"):
        assert abs(parts[part]["params_vs_paper"]) <= 0.02, part
    assert abs(parts["total"]["macs_vs_paper"]) <= 0.10
    assert parts["idn"]["params"] + parts["fusion"]["params"] == parts["total"]["params"]


def test_sizes_at_256():
    total = student_stats(256)["parts"]["total"]
    assert abs(total["params_vs_paper"]) <= 0.02
    assert abs(total["macs_vs_paper"]) <= 0.10
    assert total["macs"] > student_stats(224)["parts"]["total"]["macs"]


@pytest.mark.slow
@pytest.mark.parametrize("size", [224, 256])
def test_mfs_stats_json(size):
    mfs = Path(sys.executable).parent / "mfs"
    result = subprocess.run([str(mfs), "stats", "--size", str(size), "--json"], capture_output=True, text=True, check=True)
    stats = json.loads(result.stdout)
    assert stats["input_size"] == size
    assert set(stats["parts"]) == {"idn", "fusion", "total"}
