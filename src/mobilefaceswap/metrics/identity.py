"""Identity retrieval (the paper's "Id %") and mean identity similarity.

Every swapped face is embedded by an identity model (CosFace in the paper; dlib's 128-d
recogniser by default here) and compared by cosine similarity with the embedding of every
source identity; a hit is when the nearest source is the true one.
"""

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torchmetrics import Metric
from torchmetrics.utilities import dim_zero_cat

from mobilefaceswap.data.alignment import align_face
from mobilefaceswap.data.detection import DetectedFace, DlibFaceRecognizer


class IdentityRetrieval(Metric):
    higher_is_better = True
    full_state_update = False

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.add_state("swapped", default=[], dist_reduce_fx="cat")
        self.add_state("source", default=[], dist_reduce_fx="cat")
        self.add_state("source_ids", default=[], dist_reduce_fx="cat")

    def update(self, swapped: torch.Tensor, source: torch.Tensor, source_ids: torch.Tensor) -> None:
        """swapped, source: (N, D) embeddings of each swapped face and of its source; source_ids: (N,)."""
        self.swapped.append(F.normalize(swapped.float(), dim=1))
        self.source.append(F.normalize(source.float(), dim=1))
        self.source_ids.append(source_ids.long())

    def compute(self) -> dict[str, torch.Tensor]:
        swapped, source, ids = (dim_zero_cat(x) for x in (self.swapped, self.source, self.source_ids))
        gallery_ids = ids.unique()
        # One gallery entry per source identity: the mean of its embeddings.
        gallery = F.normalize(torch.stack([source[ids == i].mean(0) for i in gallery_ids]), dim=1)
        nearest = gallery_ids[(swapped @ gallery.T).argmax(dim=1)]
        return {
            "id_retrieval": (nearest == ids).float().mean() * 100,
            "id_similarity": (swapped * source).sum(dim=1).mean(),
        }


class DlibIdentityEmbedder:
    """A detected face in an RGB uint8 image -> dlib's 128-d descriptor; the default, no weights to fetch."""

    def __init__(self):
        self.recognizer = DlibFaceRecognizer()

    def __call__(self, image: np.ndarray, face: DetectedFace) -> torch.Tensor:
        return torch.tensor(self.recognizer.descriptor(image, face), dtype=torch.float32)


class NetworkIdentityEmbedder:
    """A detected face in an RGB uint8 image -> the embedding of an identity network (e.g. CosFace)
    of the face aligned at 112 px."""

    def __init__(self, encoder: nn.Module):
        self.encoder = encoder.eval()

    @torch.no_grad()
    def __call__(self, image: np.ndarray, face: DetectedFace) -> torch.Tensor:
        crop, _ = align_face(image, face.landmarks5, 112)
        device = next(self.encoder.parameters()).device
        return self.encoder(torch.from_numpy(crop).permute(2, 0, 1)[None].to(device).float() / 255).z[0].cpu()
