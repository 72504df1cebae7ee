"""Pure ``nn.Module`` definitions: the student and its frozen helpers."""

from mobilefaceswap.models.fusion import WeakSemanticFusion
from mobilefaceswap.models.idn import IdentityAwareDynamicNetwork, OutputHead
from mobilefaceswap.models.iin import IdentityInjectionNetwork, IdentityKernels
from mobilefaceswap.models.student import BakedMobileFaceSwap, MobileFaceSwap, SwapOutput

__all__ = [
    "BakedMobileFaceSwap",
    "IdentityAwareDynamicNetwork",
    "IdentityInjectionNetwork",
    "IdentityKernels",
    "MobileFaceSwap",
    "OutputHead",
    "SwapOutput",
    "WeakSemanticFusion",
]
