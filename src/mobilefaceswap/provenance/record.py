"""What an output says about itself: made by which tool and model, carrying which watermark."""

import hashlib
import secrets
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mobilefaceswap import __version__
from mobilefaceswap.provenance import watermark
from mobilefaceswap.provenance.c2pa_manifest import C2paSigner

TOOL = "mobilefaceswap"
# IPTC digital source type: a real photo combined with content made by a trained model.
DIGITAL_SOURCE_TYPE = "http://cv.iptc.org/newscodes/digitalsourcetype/compositeWithTrainedAlgorithmicMedia"


def file_sha256(path: str | Path) -> str:
    with open(path, "rb") as file:
        return hashlib.file_digest(file, "sha256").hexdigest()


@dataclass(frozen=True)
class OutputRecord:
    """The marks of one output file: its watermark id (None with --no-watermark) and metadata."""

    model_sha256: str
    watermark_id: int | None

    def mark(self, rgb: np.ndarray) -> np.ndarray:
        return rgb if self.watermark_id is None else watermark.embed(rgb, self.watermark_id)

    def as_dict(self) -> dict:
        mark = None if self.watermark_id is None else {"version": watermark.FORMAT_VERSION, "id": f"{self.watermark_id:08x}"}
        return {
            "tool": TOOL,
            "tool_version": __version__,
            "model_sha256": self.model_sha256,
            "digital_source_type": DIGITAL_SOURCE_TYPE,
            "watermark": mark,
        }


@dataclass(frozen=True)
class Provenance:
    """Made once per run; gives each output its own record (a fresh watermark id), and signs
    written outputs with a C2PA manifest when given a signer."""

    model_sha256: str
    watermark: bool = True
    c2pa: C2paSigner | None = None

    @classmethod
    def of_model(cls, model_path: str | Path, watermark: bool = True, c2pa: C2paSigner | None = None) -> "Provenance":
        return cls(file_sha256(model_path), watermark, c2pa)

    def for_output(self) -> OutputRecord:
        return OutputRecord(self.model_sha256, secrets.randbits(32) if self.watermark else None)

    def seal(self, path: Path, record: OutputRecord) -> None:
        if self.c2pa is not None:
            self.c2pa.sign(path, record.as_dict())
