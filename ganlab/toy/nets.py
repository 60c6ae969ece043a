"""The toy GAN's networks in numpy: an MLP whose weights live in one flat buffer, with a hand-written backward
pass and the WGAN-GP penalty's double backward (both checked against autograd in tests/test_toy_engine.py).

Activations are data: each is φ, φ' and φ'' (the last only where it is not 0 everywhere), as in TensorFlow
Playground's table of activations.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

LEAKY_SLOPE = 0.2  # negative slope of "leakyrelu" (DCGAN's value)


def _sigmoid(a: np.ndarray) -> np.ndarray:
    return 0.5 * (1 + np.tanh(0.5 * a))


@dataclass(frozen=True)
class Activation:
    f: Callable            # φ(a)
    df: Callable           # φ'(a), given (a, h = φ(a))
    d2f: Callable | None   # φ''(a), given (a, h); None where φ'' = 0 everywhere (piecewise linear)


RELU = Activation(lambda a: np.maximum(a, 0), lambda a, h: (h > 0).astype(a.dtype), None)
ACTIVATIONS = {
    "relu": RELU,
    "leakyrelu": Activation(lambda a: np.where(a > 0, a, LEAKY_SLOPE * a),
                            lambda a, h: np.where(a > 0, 1, LEAKY_SLOPE).astype(a.dtype), None),
    "tanh": Activation(np.tanh, lambda a, h: 1 - h * h, lambda a, h: -2 * h * (1 - h * h)),
    "elu": Activation(lambda a: np.where(a > 0, a, np.expm1(np.minimum(a, 0))),
                      lambda a, h: np.where(a > 0, 1, h + 1).astype(a.dtype),
                      lambda a, h: np.where(a > 0, 0, h + 1).astype(a.dtype)),
    "softplus": Activation(lambda a: np.logaddexp(0, a), lambda a, h: _sigmoid(a),
                           lambda a, h: _sigmoid(a) * (1 - _sigmoid(a))),
}


def layer_sizes(n_in: int, width: int, depth: int, n_out: int) -> list[int]:
    """[n_in, width, ..., width, n_out] with ``depth`` hidden layers."""
    return [n_in] + [width] * depth + [n_out]


class NumpyMLP:
    """A float32 MLP whose weights live in one flat buffer ``params`` (gradients in ``grads``).

    weights[i] has shape (n_in, n_out) (x @ W, the transpose of nn.Linear.weight); layer i's pre-activation
    is hs[i] @ weights[i] + biases[i]. Initialisation matches nn.Linear's default: U(±1/sqrt(n_in)).
    """

    def __init__(self, sizes: list[int], activation: str, rng: np.random.Generator):
        self.sizes = list(sizes)
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {tuple(ACTIVATIONS)}, got {activation!r}.")
        self.activation, self.act = activation, ACTIVATIONS[activation]
        shapes = [(a, b) for a, b in zip(sizes[:-1], sizes[1:])]
        n = sum(a * b + b for a, b in shapes)
        self.params = np.zeros(n, np.float32)
        self.grads = np.zeros(n, np.float32)
        self.weights, self.biases = self._views(self.params, shapes)
        self.weight_grads, self.bias_grads = self._views(self.grads, shapes)
        for w, b in zip(self.weights, self.biases):
            bound = 1 / math.sqrt(w.shape[0])
            w[...] = rng.uniform(-bound, bound, w.shape)
            b[...] = rng.uniform(-bound, bound, b.shape)

    def _ones(self, n: int) -> np.ndarray:
        if getattr(self, "_ones_cache", None) is None or len(self._ones_cache) < n:
            self._ones_cache = np.ones(max(n, 256), np.float32)
        return self._ones_cache[:n]

    @staticmethod
    def _views(flat: np.ndarray, shapes):
        weights, biases, at = [], [], 0
        for a, b in shapes:
            weights.append(flat[at:at + a * b].reshape(a, b))
            at += a * b
            biases.append(flat[at:at + b])
            at += b
        return weights, biases

    def views_of(self, flat: np.ndarray):
        """(weights, biases) views into another flat buffer of this net's layout (e.g. an EMA copy)."""
        return self._views(flat, [w.shape for w in self.weights])

    def forward(self, x: np.ndarray, params: np.ndarray | None = None):
        """x (N, n_in) -> (out (N, n_out), cache for backward)."""
        weights, biases = (self.weights, self.biases) if params is None else self.views_of(params)
        hs, pre = [x], []
        h = x
        for w, b in zip(weights[:-1], biases[:-1]):
            a = h @ w  # (N, width)
            a += b
            h = self.act.f(a)
            pre.append(a)
            hs.append(h)
        out = h @ weights[-1]  # (N, n_out)
        out += biases[-1]
        return out, (hs, pre)

    def backward(self, cache, g_out: np.ndarray, param_grads: bool = True, input_grad: bool = False):
        """Backpropagate dL/d(out) (N, n_out); writes dL/dparams into ``grads`` (overwriting) if param_grads
        and returns dL/dx (N, n_in) if input_grad."""
        hs, pre = cache
        g = g_out
        for i in range(len(self.weights) - 1, -1, -1):
            if param_grads:
                np.matmul(hs[i].T, g, out=self.weight_grads[i])
                np.matmul(self._ones(len(g)), g, out=self.bias_grads[i])  # column sums; BLAS beats np.sum here
            if i == 0:
                return g @ self.weights[0].T if input_grad else None
            g = g @ self.weights[i].T  # (N, width): dL/dh
            if self.act is RELU:
                np.multiply(g, hs[i] > 0, out=g)  # dL/da, in place (the common case, and the fastest)
            else:
                g *= self.act.df(pre[i - 1], hs[i])

    def input_gradient_penalty(self, x: np.ndarray, weight: float) -> tuple[float, np.ndarray]:
        """WGAN-GP: weight · mean_n (‖∂out/∂x_n‖ - 1)² and its gradient wrt params (flat), by hand.

        The penalty depends on the weights through the backward pass ∂out/∂x, so its gradient is a reverse
        pass through that backward pass (a "double backward"); φ'' enters for curved activations.
        """
        n_layers = len(self.weights)
        out, (hs, pre) = self.forward(x)
        dphi = [self.act.df(a, h) for a, h in zip(pre, hs[1:])]
        u, delta = [None] * (n_layers - 1), [None] * (n_layers - 1)
        g = np.broadcast_to(self.weights[-1][:, 0], (len(x), self.sizes[-2]))  # ∂out/∂h_last
        for l in range(n_layers - 2, -1, -1):
            u[l] = g                      # ∂out/∂h_{l+1}  (N, width)
            delta[l] = u[l] * dphi[l]     # ∂out/∂a_l
            g = delta[l] @ self.weights[l].T
        gx = g  # (N, n_in) = ∂out/∂x
        norm = np.sqrt((gx * gx).sum(1, keepdims=True))  # (N, 1)
        penalty = float(weight * np.mean((norm - 1) ** 2))
        grads = np.zeros_like(self.params)
        weight_grads, bias_grads = self.views_of(grads)
        if n_layers == 1:  # a linear D: ∂out/∂x is W itself
            g_gx = weight * 2 * (norm - 1) / np.maximum(norm, 1e-12) * gx / len(x)
            weight_grads[0][:, 0] = g_gx.sum(0)
            return penalty, grads
        g_bar = weight * 2 * (norm - 1) / np.maximum(norm, 1e-12) * gx / len(x)  # dP/d(gx)
        a_bar = [None] * (n_layers - 1)  # dP/da_l through φ'(a_l)
        for l in range(n_layers - 1):
            weight_grads[l] += g_bar.T @ delta[l]      # from g_l = delta_l W_l^T
            delta_bar = g_bar @ self.weights[l]        # (N, width)
            g_bar = delta_bar * dphi[l]                # dP/du_l
            if self.act.d2f is not None:
                a_bar[l] = delta_bar * u[l] * self.act.d2f(pre[l], hs[l + 1])
        weight_grads[-1][:, 0] += g_bar.sum(0)        # u_last = W_last^T broadcast over the batch
        if self.act.d2f is not None:  # push dP/da_l back through the forward pass
            h_bar = None
            for l in range(n_layers - 2, -1, -1):
                a_total = a_bar[l] if h_bar is None else a_bar[l] + h_bar * dphi[l]
                weight_grads[l] += hs[l].T @ a_total
                bias_grads[l] += a_total.sum(0)
                h_bar = a_total @ self.weights[l].T
        return penalty, grads
