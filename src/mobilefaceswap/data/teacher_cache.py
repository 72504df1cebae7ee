"""The teacher's outputs for a fixed list of training pairs, computed once (resumable, sharded)
so that the Table 2 runs do not each run the teacher again.

``<dir>/cache.json`` (what the cache belongs to), ``pairs_00000.npy`` (K, 2) source and target
rows of the training faces, ``teacher_00000.npy`` (K, S, S, 3) uint8 teacher outputs I'_g.
"""

import hashlib
import json
from pathlib import Path

import albumentations as A
import numpy as np
import torch
from torch.utils.data import Dataset
from tqdm import tqdm

from mobilefaceswap.data.errors import DataError
from mobilefaceswap.data.pairs import FacePairDataset, augment_reproducibly, to_tensor
from mobilefaceswap.data.store import FaceSet, ShardedArray
from mobilefaceswap.files import write_atomic, write_json_atomic


def fingerprint(faces: FaceSet, size: int) -> str:
    """Identifies the training faces a cache's row numbers refer to."""
    digest = hashlib.sha1(np.ascontiguousarray(faces.identities, np.int64).tobytes())
    digest.update(f"{len(faces)}:{size}".encode())
    return digest.hexdigest()


@torch.no_grad()
def teacher_outputs(teacher, identity, faces: FaceSet, indices: np.ndarray, batch_size: int = 16) -> np.ndarray:
    """(N, 2) source and target rows of ``faces`` -> the teacher's swaps (N, S, S, 3) uint8."""
    device = next(teacher.parameters()).device
    outputs = []
    for start in range(0, len(indices), batch_size):
        chunk = indices[start : start + batch_size]
        source = torch.stack([to_tensor(faces.images[s]) for s in chunk[:, 0]]).to(device)
        target = torch.stack([to_tensor(faces.images[t]) for t in chunk[:, 1]]).to(device)
        image = teacher(source, target, identity(source))
        outputs.append((image.clamp(0, 1) * 255 + 0.5).byte().permute(0, 2, 3, 1).cpu().numpy())
    return np.concatenate(outputs)


def build_teacher_cache(pairs: FacePairDataset, teacher, identity, out: str | Path, count: int, info: dict,
                        shard_size: int = 1000, batch_size: int = 16, progress: bool = True) -> Path:
    """Teacher outputs of pairs 0..count-1 of ``pairs`` (unaugmented); shards already written are kept."""
    out = Path(out)
    size = pairs.faces.images[0].shape[0]
    meta = {"pairs": count, "shard_size": shard_size, "faces": fingerprint(pairs.faces, size), **info}
    meta_path = out / "cache.json"
    if meta_path.is_file() and json.loads(meta_path.read_text()) != meta:
        raise DataError(f"{out} holds a teacher cache of other settings ({meta_path}); choose another --output")
    write_json_atomic(meta_path, meta)
    for shard, start in enumerate(tqdm(range(0, count, shard_size), desc="teacher outputs", unit="shard", disable=not progress)):
        path = out / f"teacher_{shard:05d}.npy"
        if path.is_file():
            continue
        indices = np.array([pairs.pair_indices(i) for i in range(start, min(start + shard_size, count))], np.int64)
        images = teacher_outputs(teacher, identity, pairs.faces, indices, batch_size)
        write_atomic(out / f"pairs_{shard:05d}.npy", lambda tmp, a=indices: np.save(tmp, a))
        write_atomic(path, lambda tmp, a=images: np.save(tmp, a))  # last: the shard is done
    return out


class CachedPairDataset(Dataset):
    """The cached pairs with the teacher's output as ``reference``; the target, its mask and the
    reference are flipped together, so the reference stays the teacher's answer for the target."""

    def __init__(self, faces: FaceSet, cache: str | Path, size: int, augment: bool = True, seed: int = 0):
        cache = Path(cache)
        meta_path = cache / "cache.json"
        if not meta_path.is_file():
            raise DataError(f"data.teacher_cache: no teacher cache at {cache} (make one with mfs cache-teacher)")
        meta = json.loads(meta_path.read_text())
        outputs = sorted(cache.glob("teacher_*.npy"))
        expected = -(-meta["pairs"] // meta["shard_size"])
        if len(outputs) != expected:
            raise DataError(
                f"data.teacher_cache: {cache} is unfinished ({len(outputs)} of {expected} shards); rerun mfs cache-teacher"
            )
        if meta["faces"] != fingerprint(faces, size):
            raise DataError(f"data.teacher_cache: {cache} was made for other training faces; make it again for this data")
        self.faces = faces
        self.references = ShardedArray(outputs)
        self.pairs = np.concatenate([np.load(p.with_name(p.name.replace("teacher_", "pairs_"))) for p in outputs])
        self.flip = A.Compose([A.HorizontalFlip(p=0.5)], additional_targets={"reference": "image"}) if augment else None
        self.seed = seed

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        source, target = (int(i) for i in self.pairs[index])
        item = {"image": self.faces.images[target], "reference": self.references[index]}
        if self.faces.masks is not None:
            item["mask"] = self.faces.masks[target]
        if self.flip is not None:
            item = augment_reproducibly(self.flip, item, self.seed, index)
        out = {
            "source": to_tensor(self.faces.images[source]),
            "target": to_tensor(item["image"]),
            "reference": to_tensor(item["reference"]),
            "same_identity": torch.tensor(self.faces.identities[source] == self.faces.identities[target]),
        }
        if "mask" in item:
            out["target_mask"] = torch.from_numpy(np.ascontiguousarray(item["mask"]))[None].float()
        return out
