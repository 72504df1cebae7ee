"""The swap session that ``mfs swap``, ``mfs demo`` and ``mfs eval-ffpp`` share: a swapper file
loaded into a pipeline on its runtime and device, with the source identity, the ``--only`` face
and the provenance its outputs carry."""

from dataclasses import dataclass
from pathlib import Path

from mobilefaceswap.data.media import read_image
from mobilefaceswap.inference.pipeline import FaceSwapPipeline
from mobilefaceswap.models.swapper import load_swapper
from mobilefaceswap.provenance.c2pa_manifest import C2paSigner
from mobilefaceswap.provenance.record import Provenance


@dataclass
class SwapSession:
    pipeline: FaceSwapPipeline
    provenance: Provenance


def open_swap_session(
    checkpoint: str | Path,
    source: str | Path | None = None,
    aligned: bool = False,
    only: str | Path | None = None,
    runtime: str = "torch",
    device: str = "auto",
    watermark: bool = True,
    c2pa: C2paSigner | None = None,
    **tracking,
) -> SwapSession:
    """``source``: the source identity's image (an aligned crop with ``aligned``), or None to set it
    later; ``only``: swap only faces of the person in this image; ``tracking``: the pipeline's
    video settings (``redetect_every``, ``smoothing``, ``smoothing_beta``)."""
    pipeline = FaceSwapPipeline(load_swapper(checkpoint), runtime=runtime, device=device, **tracking)
    if source is not None:
        image = read_image(source)
        if aligned:
            pipeline.set_aligned_source(image)
        else:
            pipeline.set_source(image)
    if only is not None:
        pipeline.only_faces_like(read_image(only))
    return SwapSession(pipeline, Provenance.of_model(checkpoint, watermark=watermark, c2pa=c2pa))
