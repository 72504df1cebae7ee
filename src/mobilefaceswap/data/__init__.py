"""Face data: detection, alignment, source/target pairs and DataModules."""

from mobilefaceswap.data.datamodule import EmbeddedFacesDataModule, FacePairDataModule
from mobilefaceswap.data.pairs import FacePairDataset

__all__ = ["EmbeddedFacesDataModule", "FacePairDataModule", "FacePairDataset"]
