"""The files a training run reads, checked before any network is built: every missing one is
listed at once, with its config key, the file expected there and where such a file comes from.

The frozen networks' weights, the prepared data, and, unless ``eval.fallback=dlib``, the
paper's scorers (CosFace, Hopenet, Inception): ``profile=paper`` names all of them.
"""

from pathlib import Path

from omegaconf import DictConfig, OmegaConf

FROZEN_NETWORKS = ("teacher", "teacher.identity", "identity", "perceptual", "face_parser", "quality")

# The paper's scorers (docs/weights.md): the key, what file it takes.
PAPER_SCORERS = {
    "eval.cosface": "a CosFace/ArcFace network for identity retrieval: .onnx, an arcface_torch IResNet or IR-SE "
    "state dict, e.g. insightface's glint360k_cosface_r100",
    "eval.hopenet": "Hopenet's released state dict hopenet_robust_alpha1.pkl (deep-head-pose), for the pose error",
    "paths.inception": "FID's Inception weights weights-inception-2015-12-05-6726825d.pth (torch-fidelity's release)",
}
FALLBACKS = (None, "dlib")


class MissingFilesError(RuntimeError):
    """Files a run needs are not there (the message lists each, one a line)."""


def _frozen_network_lines(cfg: DictConfig) -> list[str]:
    lines = []
    for key in FROZEN_NETWORKS:
        group = OmegaConf.select(cfg, key)
        if group is None or group.get("pretrained") is None:
            continue  # a random network, by choice
        path = Path(group.pretrained).expanduser()
        if not path.is_file():
            lines.append(f"{key}.pretrained: weights file not found: {path} (expected {group.expected}; docs/weights.md)")
    return lines


def _data_lines(cfg: DictConfig) -> list[str]:
    data, lines = cfg.data, []
    if str(data.get("_target_", "")).endswith("VGGFace2DataModule"):
        if data.root is not None and not Path(data.root).expanduser().is_dir():
            lines.append(f"data.root: VGGFace2 folder not found: {data.root} (train folder <identity>/<image>.jpg; docs/data.md)")
        elif data.root is None and not (Path(data.cache).expanduser() / "index.csv").is_file():
            lines.append(
                f"data.cache: no prepared faces at {data.cache} (the index.csv and shards `mfs prepare-data` makes from "
                "VGGFace2, docs/data.md; or data.root=<VGGFace2 train folder> to prepare them first)"
            )
    if data.get("teacher_cache") is not None and not Path(data.teacher_cache).expanduser().is_dir():
        lines.append(f"data.teacher_cache: folder not found: {data.teacher_cache} (made by `mfs cache-teacher`; docs/data.md)")
    if cfg.evaluate and cfg.eval.protocol == "ffpp" and not Path(cfg.eval.root).expanduser().is_dir():
        lines.append(f"eval.root: FaceForensics++ folder not found: {cfg.eval.root} (as downloaded; docs/evaluation.md)")
    return lines


def _scorer_lines(cfg: DictConfig) -> list[str]:
    if cfg.eval.get("fallback") is not None:
        return []  # dlib scores identity and pose, and no FID, where a scorer is missing
    lines = []
    for key, expected in PAPER_SCORERS.items():
        value = OmegaConf.select(cfg, key)
        if value is None:
            lines.append(f"{key}: not set (expected {expected}; docs/weights.md)")
        elif not Path(value).expanduser().is_file():
            lines.append(f"{key}: file not found: {Path(value).expanduser()} (expected {expected}; docs/weights.md)")
    return lines


def require_files(cfg: DictConfig) -> None:
    """Raise MissingFilesError listing every file of the run that is not there (mfs-train, before any work)."""
    fallback = cfg.eval.get("fallback")
    if fallback not in FALLBACKS:
        raise MissingFilesError(f"eval.fallback={fallback}: use null (the paper's scorers are required) or dlib")
    scorers = _scorer_lines(cfg)
    lines = _frozen_network_lines(cfg) + _data_lines(cfg) + scorers
    if not lines:
        return
    hint = "\n(eval.fallback=dlib runs without the paper's scorers: dlib's, and no FID)" if scorers else ""
    raise MissingFilesError(f"{len(lines)} file(s) this run needs are missing:\n  " + "\n  ".join(lines) + hint)
