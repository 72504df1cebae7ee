"""Wall time spent in each stage of the video pipeline, so that the slowest one is visible."""

import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager


class StageTimes:
    """Seconds accumulated per stage name; safe to add to from the decoding and encoding threads."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self._lock = threading.Lock()

    @contextmanager
    def __call__(self, stage: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            elapsed = time.perf_counter() - start
            with self._lock:
                self.seconds[stage] += elapsed

    def ms_per_frame(self, frames: int) -> dict[str, float]:
        return {stage: 1000 * seconds / max(frames, 1) for stage, seconds in self.seconds.items()}
