"""Training curves in bounded memory."""
from __future__ import annotations

import numpy as np


class CurveLog:
    """Scalars per iteration; when ``capacity`` rows are full, neighbouring rows are averaged in pairs and
    later rows average twice as many iterations, so a long run keeps its whole shape in fixed memory."""

    def __init__(self, names: tuple[str, ...], capacity: int = 4096):
        self.names = names
        self.capacity = capacity
        self.x = np.zeros(capacity)                     # iteration at the end of each row
        self.y = np.zeros((capacity, len(names)))
        self.n = 0
        self.stride = 1
        self._pending = np.zeros((0, len(names)))

    def extend(self, values: np.ndarray, last_iteration: int) -> None:
        """Append rows for iterations last_iteration - len(values) + 1 .. last_iteration."""
        values = np.concatenate([self._pending, np.asarray(values, np.float64).reshape(-1, len(self.names))])
        n_blocks = len(values) // self.stride
        if n_blocks:
            blocks = values[:n_blocks * self.stride].reshape(n_blocks, self.stride, -1).mean(1)
            leftover = len(values) - n_blocks * self.stride
            xs = last_iteration - leftover - self.stride * np.arange(n_blocks - 1, -1, -1)
            for x, y in zip(xs, blocks):  # usually few rows per call
                if self.n == self.capacity:
                    self._compact()
                self.x[self.n], self.y[self.n] = x, y
                self.n += 1
        self._pending = values[n_blocks * self.stride:]

    def _compact(self) -> None:
        half = self.n // 2
        self.y[:half] = (self.y[0:2 * half:2] + self.y[1:2 * half:2]) / 2
        self.x[:half] = self.x[1:2 * half:2]
        self.n = half
        self.stride *= 2

    def series(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        return self.x[:self.n], self.y[:self.n, self.names.index(name)]

    def last(self, name: str) -> float:
        return float(self.y[self.n - 1, self.names.index(name)]) if self.n else float("nan")
