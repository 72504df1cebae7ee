"""Helpers shared by the tests (the fixtures are in conftest.py)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import torch

from mobilefaceswap.shipped import CONFIG_DIR

REPO = Path(__file__).resolve().parents[1]
TINY_IDENTITY = {"layers": [1, 1, 1, 1], "channels": [16, 32, 64, 512], "use_se": True}
ABLATIONS = sorted(p.stem for p in (Path(CONFIG_DIR) / "ablation").glob("*.yaml"))

# What each conf/ablation option changes against the full model, key by key (model.net and loss).
ABLATION_SWITCHES = {
    "full": {},
    "no_prediction": {"model.net.weight_prediction": False},
    "adain": {"model.net.pointwise": "adain"},
    "no_modulation": {"model.net.pointwise": "static"},
    "autoencoder": {"model.net.skips": False},
    "no_fusion": {"model.net.fusion": False, "loss.lambda_mask": 0.0},
    "no_kd": {"loss.distillation": False},
    "no_id_reweight": {"loss.reweight_identity": False},
    "no_quality_reweight": {"loss.reweight_quality": False},
    "no_id_loss": {"loss.lambda_id": 0.0},
    "full_mask": {"loss.weak_mask": False},
}


def run_mfs_train(*overrides: str, cwd: Path, cache: Path, timeout: int = 600) -> subprocess.CompletedProcess:
    """Run the real ``mfs-train`` console script with tiny settings in a subprocess."""
    env = dict(os.environ, WANDB_MODE="offline", WANDB_DIR=str(cwd), WANDB_SILENT="true", PYTHONUNBUFFERED="1")
    command = [
        str(Path(sys.executable).parent / "mfs-train"),
        f"paths.cache_dir={cache}",
        "paths.runs_dir=runs",
        "logger=csv",
        "trainer.val_check_interval=2",
        "callbacks.checkpoint.every_n_train_steps=2",
        "callbacks.image_grid.every_n_steps=2",
        *overrides,
    ]
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def export_identity_onnx(net: torch.nn.Module, path: Path) -> Path:
    """An identity network as the ONNX file ``identity.pretrained`` takes: data -> (embedding, map)."""
    torch.onnx.export(
        net.eval(),
        (torch.rand(1, 3, 112, 112),),
        path,
        dynamo=False,
        do_constant_folding=False,
        opset_version=13,
        input_names=["data"],
        output_names=["embedding", "map"],
    )
    return path


def random_inception_weights(path: Path) -> Path:
    """Random weights of FID's real Inception architecture, saved as the file FID reads (nothing downloaded)."""
    import torch_fidelity.feature_extractor_inceptionv3 as inception

    load_url, load_state = inception.load_state_dict_from_url, inception.FeatureExtractorInceptionV3.load_state_dict
    inception.load_state_dict_from_url = lambda *a, **k: {}
    inception.FeatureExtractorInceptionV3.load_state_dict = lambda self, *a, **k: None
    try:
        random_net = inception.FeatureExtractorInceptionV3("inception-v3-compat", ["2048"])
    finally:
        inception.load_state_dict_from_url, inception.FeatureExtractorInceptionV3.load_state_dict = load_url, load_state
    # He initialisation keeps the activations' scale through its 90-odd layers (PyTorch's default
    # shrinks it to features of about 1e-8, whose FIDs all round to 0).
    for module in random_net.modules():
        if isinstance(module, torch.nn.Conv2d):
            torch.nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(random_net.state_dict(), path)
    return path


def last_checkpoint(run_dir: Path) -> dict:
    return torch.load(run_dir / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)


FFPP_PAIRS = ["000_001", "001_002", "002_000"]


def wandb_records(run_folder: Path) -> dict:
    """What an offline wandb run stored (its ``run-*.wandb`` transaction log, read without a
    server): ``summary`` and ``config`` as the last value of each key, ``history`` as each key's values,
    ``run`` its name, group and job type."""
    from wandb.proto import wandb_internal_pb2

    data = next(Path(run_folder).glob("run-*.wandb")).read_bytes()
    block, position, pending, stored = 32768, 7, b"", {"summary": {}, "config": {}, "history": {}}
    while position + 7 <= len(data):  # LevelDB's log format: 32 KiB blocks of (crc, length, type) chunks
        if block - position % block < 7 or data[position + 6] == 0:  # a block's padding
            position += block - position % block
            continue
        length, kind = int.from_bytes(data[position + 4 : position + 6], "little"), data[position + 6]
        pending += data[position + 7 : position + 7 + length]
        position += 7 + length
        if kind in (1, 4):  # a whole record, or the last chunk of one
            record = wandb_internal_pb2.Record.FromString(pending)
            pending = b""
            name = record.WhichOneof("record_type")
            if name == "run":
                stored["run"] = {"name": record.run.display_name, "group": record.run.run_group, "job_type": record.run.job_type}
                continue
            if name not in ("summary", "config", "history"):
                continue
            for item in record.history.item if name == "history" else getattr(record, name).update:
                key, value = item.key or "/".join(item.nested_key), json.loads(item.value_json)
                if name == "history":
                    stored["history"].setdefault(key, []).append(value)
                else:
                    stored[name][key] = value
    return stored


def write_bundled_photos(folder: Path, clip_frames: int = 0) -> dict[str, Path]:
    """astronaut.png (one face) and group.jpg (six) from the bundled photos, and with
    ``clip_frames`` clip.mp4 (640x360, the astronaut): stem -> path."""
    from mobilefaceswap.data.embedded import bundled_photos
    from mobilefaceswap.data.sample_clip import make_sample_clip
    from mobilefaceswap.inference.swap import write_image

    photos = bundled_photos()
    write_image(folder / "astronaut.png", photos["skimage/astronaut"])
    write_image(folder / "group.jpg", photos["insightface/t1.jpg"])
    if clip_frames:
        make_sample_clip(folder / "clip.mp4", photos["skimage/astronaut"], (640, 360), frames=clip_frames)
    return {p.stem: p for p in folder.iterdir()}
