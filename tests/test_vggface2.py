"""VGGFace2 preparation, its DataModule, cached masks and the teacher cache, on a small
VGGFace2-shaped tree made from the bundled photos."""

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from torch.utils.data import DistributedSampler

from mobilefaceswap.cli import main
from mobilefaceswap.data import VGGFace2DataModule
from mobilefaceswap.data.alignment import face_template
from mobilefaceswap.data.detection import DlibFaceDetector
from mobilefaceswap.data.errors import DataError
from mobilefaceswap.data.sample_vggface2 import write_vggface2_tree
from mobilefaceswap.data.store import ShardedArray
from mobilefaceswap.data.vggface2 import PrepareConfig, prepare_vggface2

pytestmark = pytest.mark.slow  # each test prepares VGGFace2-shaped data or runs mfs

MFS = str(Path(sys.executable).parent / "mfs")
SMOKE = ["profile=smoke"]


def write(path: Path, image: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))


@pytest.fixture(scope="module")
def vggface2(tmp_path_factory) -> Path:
    """7 identities x 3 images with eyes ~100 px apart, one small copy each (eyes < 70 px),
    one unreadable and one faceless file: 30 images."""
    root = tmp_path_factory.mktemp("vggface2") / "train"
    assert write_vggface2_tree(root) == 7
    (root / "n000000/9998_01.jpg").write_bytes(b"not a jpeg")
    write(root / "n000001/9999_01.jpg", np.full((300, 300, 3), 127, np.uint8))
    return root


def prepare(root: Path, out: Path, **overrides) -> dict:
    return prepare_vggface2(root, out, PrepareConfig(**{"shard_size": 8, **overrides}), progress=False)


@pytest.fixture(scope="module")
def prepared(vggface2, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("prepared")
    prepare(vggface2, out)
    return out


def test_filtering_alignment_and_report(prepared):
    report = json.loads((prepared / "report.json").read_text())
    assert report["images"] == 30 and report["kept"] == 21 and report["identities"] == 7
    assert report["dropped"] == {"eyes too close": 7, "no face": 1, "unreadable": 1}
    with open(prepared / "index.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 21 and all(float(r["eye_distance"]) > 70 for r in rows)
    with open(prepared / "dropped.csv") as f:
        dropped = {r["path"]: r["reason"] for r in csv.DictReader(f)}
    assert dropped["n000000/9998_01.jpg"] == "unreadable" and dropped["n000001/9999_01.jpg"] == "no face"
    faces = ShardedArray(sorted((prepared / "shards").glob("faces_*.npy")))
    astronaut = faces[[r["identity"] for r in rows].index("n000006")]  # a frontal face
    assert astronaut.shape == (224, 224, 3) and astronaut.dtype == np.uint8
    found = DlibFaceDetector()(astronaut)  # aligned on the ArcFace template: eyes where it puts them
    assert found and np.abs(found[0].landmarks5[:2] - face_template(224)[:2]).max() < 8


def test_landmark_csv_is_used_without_detection(vggface2, prepared, tmp_path):
    with open(prepared / "index.csv") as f:
        rows = list(csv.DictReader(f))
    landmarks = tmp_path / "loose_landmark_train.csv"
    with open(landmarks, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["NAME_ID"] + [f"P{i}{a}" for i in range(1, 6) for a in "XY"])
        for r in rows[1:]:  # the first image has no landmarks in the CSV
            writer.writerow([r["path"].rsplit(".", 1)[0]] + [r[f"{a}{i}"] for i in range(5) for a in "xy"])
    report = prepare_vggface2(vggface2, tmp_path / "out", PrepareConfig(shard_size=8, landmarks="csv"), landmarks, progress=False)
    assert report["kept"] == 20 and report["dropped"]["no landmarks"] == 9
    ours, theirs = np.load(prepared / "shards/faces_00000.npy"), np.load(tmp_path / "out/shards/faces_00000.npy")
    assert np.abs(ours[1].astype(int) - theirs[0].astype(int)).mean() < 1  # same points, same crop


def test_killed_run_resumes_to_the_same_cache(vggface2, prepared, tmp_path):
    out = tmp_path / "killed"
    command = [MFS, "prepare-data", "--root", str(vggface2), "--out", str(out), "--shard-size", "4", "--workers", "2", "--quiet"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 120
    while not list(out.glob("shards/shard_*.json")) and time.time() < deadline and process.poll() is None:
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    assert not (out / "report.json").exists(), "killed too late to test resuming"
    finished = subprocess.run(command, capture_output=True, text=True)
    assert finished.returncode == 0, finished.stderr
    reference = tmp_path / "reference"
    prepare(vggface2, reference, shard_size=4)
    for name in ("index.csv", "dropped.csv"):
        assert (out / name).read_text() == (reference / name).read_text()
    for path in sorted((reference / "shards").glob("faces_*.npy")):
        assert np.array_equal(np.load(path), np.load(out / "shards" / path.name)), path.name
    assert not list(out.glob("**/.*.npy"))  # no half-written file left behind


def test_other_settings_in_the_same_folder_are_refused(vggface2, prepared):
    with pytest.raises(DataError, match="other settings"):
        prepare(vggface2, prepared, min_eye_distance=50)
    with pytest.raises(DataError, match="inside the dataset"):
        prepare(vggface2, vggface2 / "cache")


def test_landmark_csv_inside_the_output_folder_is_refused(vggface2, tmp_path):
    (tmp_path / "out").mkdir()
    landmarks = tmp_path / "out" / "index.csv"
    landmarks.write_text("NAME_ID,P1X\n")
    with pytest.raises(DataError, match="--landmark-csv .* is inside --output"):
        prepare_vggface2(vggface2, tmp_path / "out" / ".", PrepareConfig(landmarks="csv"), landmark_csv=landmarks, progress=False)
    assert landmarks.read_text() == "NAME_ID,P1X\n"


def test_a_tree_of_dangling_or_looping_links_is_one_line_and_no_cache(tmp_path):
    root = tmp_path / "vggface2"
    (root / "n000001").mkdir(parents=True)
    (root / "n000001" / "0001_01.jpg").symlink_to(tmp_path / "gone.jpg")
    (root / "n000001" / "0002_01.jpg").symlink_to(root / "n000001" / "0002_01.jpg")  # a loop
    with pytest.raises(SystemExit) as exit_:
        main(["prepare-data", "--root", str(root), "--output", str(tmp_path / "cache"), "--quiet"])
    assert exit_.value.code == f"mfs prepare-data: error: no <identity>/<image>.jpg under {root} (2 links to nothing, or looping)"
    assert not (tmp_path / "cache").exists()


def datamodule(cache: Path, **kwargs) -> VGGFace2DataModule:
    settings = dict(cache=str(cache), val_identities=2, batch_size=2, train_pairs=40, val_pairs=6, seed=3, augment=False)
    data = VGGFace2DataModule(**{**settings, **kwargs})
    data.setup("fit")
    return data


def test_datamodule_splits_by_identity_reproducibly(prepared):
    data = datamodule(prepared)
    train_ids, val_ids = set(data.train_set.identities), set(data.val_set.identities)
    assert len(val_ids) == 2 and len(train_ids) == 5 and not train_ids & val_ids
    again = datamodule(prepared)
    assert torch.equal(again.train_set[7]["target"], data.train_set[7]["target"])
    item = data.train_set[0]
    assert item["source"].shape == (3, 224, 224) and "target_mask" not in item  # no masks cached yet
    same = [bool(data.train_set[i]["same_identity"]) for i in range(40)]
    assert 0 < sum(same) < 20  # same_identity_ratio 0.2
    # DDP: each process draws its own pairs, together all of them.
    parts = [list(DistributedSampler(data.train_set, num_replicas=2, rank=r, shuffle=True, seed=0)) for r in (0, 1)]
    assert not set(parts[0]) & set(parts[1]) and len(set(parts[0]) | set(parts[1])) == 40
    with pytest.raises(DataError, match="no prepared VGGFace2"):
        datamodule(prepared / "missing")
    with pytest.raises(DataError, match="this teacher needs 256 px"):
        datamodule(prepared, size=256)


def test_datamodule_prepares_a_raw_tree_itself_and_reuses_it(vggface2, prepared, tmp_path):
    cache = tmp_path / "cache"
    data = VGGFace2DataModule(
        cache=str(cache), root=str(vggface2), prepare={"shard_size": 8, "workers": 1}, val_identities=2, seed=3, augment=False
    )
    data.prepare_data()  # what Lightning calls before setup, on one process per node
    data.setup("fit")
    for name in ("index.csv", "dropped.csv"):  # the very cache of mfs prepare-data
        assert (cache / name).read_text() == (prepared / name).read_text()
    assert len(set(data.train_set.identities) | set(data.val_set.identities)) == 7
    shards = {p: p.stat().st_mtime_ns for p in (cache / "shards").glob("faces_*.npy")}
    VGGFace2DataModule(cache=str(cache), root=str(vggface2), prepare={"shard_size": 8}).prepare_data()
    assert {p: p.stat().st_mtime_ns for p in (cache / "shards").glob("faces_*.npy")} == shards  # reused, not redone


def test_masks_are_cached_and_flipped_with_the_target(prepared, tmp_path):
    cache = tmp_path / "with_masks"
    subprocess.run(["cp", "-r", str(prepared), str(cache)], check=True)
    root = json.loads((prepared / "prepare.json").read_text())["root"]
    command = [MFS, "prepare-data", "--root", str(root), "--out", str(cache), "--shard-size", "8", "--masks", "--quiet", *SMOKE]
    result = subprocess.run(command, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    masks = np.load(cache / "shards/masks_00000.npy")
    assert masks.shape == np.load(cache / "shards/faces_00000.npy").shape[:3] and set(np.unique(masks)) <= {0, 1}
    data = datamodule(cache, augment=True)
    for i in range(6):
        source, target = data.train_set.pair_indices(i)
        item = data.train_set[i]
        mask = torch.from_numpy(data.train_set.faces.masks[target]).float()
        assert torch.equal(item["target_mask"][0], mask) or torch.equal(item["target_mask"][0], mask.flip(-1))


def test_teacher_cache_trains_without_running_the_teacher(prepared, tmp_path, compose_train):
    from hydra.utils import instantiate

    from mobilefaceswap.training.fitting import build

    cache = tmp_path / "teacher"
    overrides = [*SMOKE, "data=vggface2", f"data.cache={prepared}", "data.val_identities=2", "data.num_workers=0"]
    cfg = compose_train(*overrides)
    for helper in ("teacher", "identity"):  # the same random weights here and in mfs cache-teacher
        torch.save(instantiate(cfg[helper].net).state_dict(), tmp_path / f"{helper}.pth")
        overrides.append(f"{helper}.pretrained={tmp_path / f'{helper}.pth'}")
    result = subprocess.run(
        [MFS, "cache-teacher", "--out", str(cache), "--pairs", "6", "--shard-size", "4", "--quiet", *overrides],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in cache.glob("*.npy")) == [
        "pairs_00000.npy",
        "pairs_00001.npy",
        "teacher_00000.npy",
        "teacher_00001.npy",
    ]
    cfg = compose_train(*overrides, f"data.teacher_cache={cache}", "data.batch_size=2", "data.augment=false")
    data = instantiate(cfg.data)
    data.setup("fit")
    module = build(cfg.model)
    batch = next(iter(data.train_dataloader()))
    direct = {k: v for k, v in batch.items() if k != "reference"}
    with torch.no_grad():
        cached, online = module.distillation_targets(batch), module.distillation_targets(direct)
    assert (
        cached.reference_image - online.reference_image
    ).abs().max() <= 1 / 255 + 1e-6  # the same teacher output, stored as uint8

    class Refuse(torch.nn.Module):
        def forward(self, *args):
            raise AssertionError("the teacher ran")

    module.frozen["teacher"] = Refuse()
    module.distillation_targets(batch)  # the cache stands in for the teacher
    with pytest.raises(DataError, match="other training faces"):
        datamodule(prepared, teacher_cache=str(cache), val_identities=3)
