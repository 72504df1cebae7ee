"""How much of what makes the held-out faces' identity features differ does a pool of training
sources cover? The learning-curve experiment's question, asked before any training.

    python scripts/source_coverage.py --seed 0 [--draws 300]

Under the experiment's config (``experiment=learning_curve``, the given seed: its random identity
network and its held-out split), each pool's identity features (z_id and F_id together) are
reduced to the principal directions that hold 90% of their variance; for each held-out face,
the share of its deviation from the training faces' mean that lies in those directions is printed.
A student can only learn the teacher's response along directions its sources vary in.
Pools: the training faces; ``--draws`` draws of each source augmentation (``data.source_augmentation``:
light, geometric); two training faces blended. JSON on stdout.
"""

import argparse
import json

import lightning as L
import numpy as np
import torch
from hydra import compose, initialize_config_dir
from hydra.core.hydra_config import HydraConfig
from omegaconf import open_dict

from mobilefaceswap.data.pairs import SOURCE_AUGMENTATIONS, augment_reproducibly, to_tensor
from mobilefaceswap.shipped import CONFIG_DIR
from mobilefaceswap.training.fitting import build


def experiment(seed: int, run_dir: str):
    """The learning-curve experiment's data split and identity network under ``seed``."""
    with initialize_config_dir(str(CONFIG_DIR), version_base="1.3"):
        cfg = compose("train", overrides=["experiment=learning_curve", f"seed={seed}"], return_hydra_config=True)
    with open_dict(cfg):
        cfg.hydra.runtime.output_dir = run_dir
    HydraConfig.instance().set_config(cfg)
    L.seed_everything(seed)
    data = build(cfg.data)
    data.prepare_data()
    train, held_out = data.split(data.load_faces())
    identity = build(cfg.model).identity_encoder.eval()
    return [train.images[i] for i in range(len(train))], [held_out.images[i] for i in range(len(held_out))], identity


@torch.no_grad()
def features(identity, images: list[np.ndarray]) -> np.ndarray:
    """(N, 512 + 512 * 7 * 7): z_id beside F_id, F_id scaled to z_id's share of the norm."""
    out = identity(torch.stack([to_tensor(image) for image in images]))
    id_map = out.map.flatten(1)
    return torch.cat([out.z, id_map / id_map.norm(dim=1, keepdim=True).mean()], dim=1).numpy()


def coverage(pool: np.ndarray, held_out: np.ndarray, centre: np.ndarray, variance: float = 0.9) -> tuple[int, list[float]]:
    """The number of the pool's principal directions holding ``variance``, and each held-out
    face's share of squared deviation from ``centre`` in them."""
    u, s, _ = np.linalg.svd((pool - pool.mean(0)).T, full_matrices=False)
    k = int(np.searchsorted(np.cumsum(s**2) / np.sum(s**2), variance)) + 1
    deviation = held_out - centre
    inside = ((deviation @ u[:, :k]) ** 2).sum(1) / (deviation**2).sum(1)
    return k, [round(float(x), 3) for x in inside]


def pools(train: list[np.ndarray], draws: int, seed: int) -> dict[str, list[np.ndarray]]:
    rng = np.random.default_rng(seed)
    picks = rng.integers(len(train), size=(draws, 2))
    weights = rng.uniform(0, 1, draws)
    pools = {"training faces": train}
    for name, augmentation in SOURCE_AUGMENTATIONS.items():
        augment = augmentation()
        pools[f"{name} source augmentation"] = [augment_reproducibly(augment, {"image": train[i]}, seed, n)["image"]
                                                for n, (i, _) in enumerate(picks)]
    pools["two training faces blended"] = [(w * train[i] + (1 - w) * train[j]).astype(np.uint8)
                                           for (i, j), w in zip(picks, weights)]
    return pools


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--draws", type=int, default=300)
    parser.add_argument("--run-dir", default="runs/source_coverage")
    args = parser.parse_args()
    train, held_out, identity = experiment(args.seed, args.run_dir)
    centre = features(identity, train).mean(0)
    held = features(identity, held_out)
    report = {}
    for name, images in pools(train, args.draws, args.seed).items():
        k, inside = coverage(features(identity, images), held, centre)
        report[name] = {"images": len(images), "directions_for_90pct": k, "held_out_share_inside": inside}
    print(json.dumps({"seed": args.seed, "pools": report}, indent=2))


if __name__ == "__main__":
    main()
