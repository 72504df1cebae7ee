"""Scoring face swaps: the evaluator (identity, pose, expression, FID), the FaceForensics++
protocol, and scoring a trained student beside its teacher."""
