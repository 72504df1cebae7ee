"""Face data: detection, alignment, source/target pairs and DataModules."""

from mobilefaceswap.data.datamodule import EmbeddedFacesDataModule, FacePairDataModule, VGGFace2DataModule
from mobilefaceswap.data.pairs import FacePairDataset
from mobilefaceswap.data.store import FaceSet

__all__ = ["EmbeddedFacesDataModule", "FaceSet", "FacePairDataModule", "FacePairDataset", "VGGFace2DataModule"]
