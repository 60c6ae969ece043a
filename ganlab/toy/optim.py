"""Adam, SGD and RMSprop on one flat float32 parameter buffer, with torch.optim's update rules (checked against
it in tests/test_toy_engine.py)."""
from __future__ import annotations

import math

import numpy as np

OPTIMIZERS = ("adam", "sgd", "rmsprop")


class FlatOptimizer:
    """Adam, SGD (β1 = momentum) or RMSprop (β2 = α) on one flat parameter buffer, as torch.optim does it."""

    def __init__(self, kind: str, n: int, eps: float = 1e-8):
        if kind not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {kind!r}.")
        self.kind, self.eps, self.t = kind, eps, 0
        self.m = np.zeros(n, np.float32)  # Adam first moment / SGD momentum buffer
        self.v = np.zeros(n, np.float32)  # Adam / RMSprop second moment

    def step(self, params: np.ndarray, grads: np.ndarray, lr: float, beta1: float, beta2: float) -> None:
        self.t += 1
        if self.kind == "adam":
            self.m *= beta1
            self.m += (1 - beta1) * grads
            self.v *= beta2
            self.v += (1 - beta2) * (grads * grads)
            denom = np.sqrt(self.v)
            denom *= 1 / math.sqrt(1 - beta2 ** self.t)
            denom += self.eps
            params -= (lr / (1 - beta1 ** self.t)) * self.m / denom
        elif self.kind == "sgd":
            if beta1 == 0:
                params -= lr * grads
                return
            if self.t == 1:
                self.m[...] = grads
            else:
                self.m *= beta1
                self.m += grads
            params -= lr * self.m
        else:  # rmsprop
            self.v *= beta2
            self.v += (1 - beta2) * (grads * grads)
            params -= lr * grads / (np.sqrt(self.v) + self.eps)
