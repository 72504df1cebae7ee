"""What reaches wandb (offline runs read back from disk): the image grids as they are on disk."""

import numpy as np
import pytest
from PIL import Image

from helpers import run_mfs_train


@pytest.mark.slow
def test_wandb_stores_the_grid_as_the_png_in_the_run_folder(tmp_path, face_cache):
    run_dir = tmp_path / "run"
    result = run_mfs_train(
        "profile=smoke", "trainer.max_steps=2", "logger=wandb", f"hydra.run.dir={run_dir}", cwd=tmp_path, cache=face_cache
    )
    assert result.returncode == 0, result.stderr[-3000:]
    on_disk = np.asarray(Image.open(run_dir / "images/step_0000002.png"))
    (stored,) = run_dir.glob("wandb/offline-run-*/files/media/images/preview_*.png")  # one grid: step 2 once
    in_wandb = np.asarray(Image.open(stored))
    assert in_wandb.dtype == np.uint8 and in_wandb.shape == on_disk.shape
    assert np.array_equal(in_wandb, on_disk)
    assert in_wandb.max() > 1  # not the black grid of a float image cast to 8 bits
