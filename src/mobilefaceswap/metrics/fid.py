"""FID with torchmetrics, on Inception weights from a local file: never downloaded, never replaced."""

import logging
import os
from pathlib import Path

from torchmetrics.image.fid import FrechetInceptionDistance

log = logging.getLogger(__name__)

# What torch-fidelity caches under $TORCH_HOME/hub/checkpoints when it may download.
INCEPTION_FILE = "weights-inception-2015-12-05-6726825d.pth"


def inception_weights(path: str | Path | None = None) -> Path | None:
    """The configured file, else the TORCH_HOME cache, else None."""
    if path is not None:
        return Path(path).expanduser() if Path(path).expanduser().is_file() else None
    torch_home = Path(os.environ.get("TORCH_HOME", Path.home() / ".cache" / "torch"))
    cached = torch_home / "hub" / "checkpoints" / INCEPTION_FILE
    return cached if cached.is_file() else None


def build_fid(weights_path: str | Path | None = None, **metric_kwargs) -> FrechetInceptionDistance | None:
    """An FID metric (images in [0, 1]), or None with a log line saying why no FID is reported;
    ``metric_kwargs`` go to torchmetrics' ``Metric`` (e.g. ``sync_on_compute``)."""
    found = inception_weights(weights_path)
    if found is None:
        where = weights_path or f"$TORCH_HOME/hub/checkpoints/{INCEPTION_FILE}"
        log.warning("no FID: the Inception weights %s are not there (no other network is used in their place)", where)
        return None
    return FrechetInceptionDistance(feature=2048, normalize=True, feature_extractor_weights_path=str(found), **metric_kwargs)
