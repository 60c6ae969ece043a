"""Live training of the lectures' 2-D toy GAN: the engine behind the "Live training" tab (no UI code here).

    from ganlab.toy import ToyTrainer, lecture_config, default_config
    t = ToyTrainer(lecture_config(), seed=0)   # the lecture's parabola GAN
    t.step(1000)                               # 1000 iterations: d_steps D updates + 1 G update each
    xy = t.sample(500)                         # numpy (500, 2) generated points

Why numpy: the nets are tiny (50 units, batch 32), so a PyTorch loop spends nearly all its time in
per-op dispatch, autograd bookkeeping and optimizer overhead. Here each net keeps all its weights in one
flat float32 buffer (per-layer views), forward/backward are written out by hand (checked against autograd
in tests/test_toy.py) and Adam/SGD/RMSprop update the whole buffer in a handful of vectorized ops. Data and
noise are drawn in large chunks, and numpy's BLAS is kept to one thread for these small products. The result
is several times faster than the lecture's plain PyTorch loop (bench/toy.py measures it) and performs the same
updates: gradients and optimizer steps are checked against autograd and torch.optim in the tests.

Losses (on D's last-layer score s; D's head follows the loss, see LOSS_HEAD):
    non-saturating  D: -log σ(s_r) - log(1-σ(s_f))      G: -log σ(s_f)        (Goodfellow et al. 2014)
    minimax         D: as above                          G: log(1-σ(s_f))
    lsgan           D: ½(s_r-1)² + ½ s_f²                G: ½(s_f-1)²          (Mao et al. 2016)
    wgan-gp         D: s_f - s_r + λ(‖∇D(x̂)‖-1)²        G: -s_f               (Gulrajani et al. 2017)
    hinge           D: relu(1-s_r) + relu(1+s_f)         G: -s_f
each averaged over the batch. One-sided label smoothing replaces the real target 1 by 1 - label_smoothing
(non-saturating, minimax, lsgan). Top-k (Sinha et al. 2020) lets G learn only from the fakes D scores highest.
The lecture's *naive generator* (same network and start, loss = squared distance to the nearest point of a
stored real set) can train alongside: it lands on the data but in a narrow range, as nothing asks for variety.

Metrics: grid Jensen-Shannon divergence in bits on a 30×30 grid whose extent is the bounding box of a fixed
reference set of real samples, so every real sample is counted (GAN Lab's grid left about two thirds of them
out). Generated points outside that box are counted in one extra "outside" bin, where the real mass is 0:
a generator that spills out of the data's box is penalised rather than clipped onto the edge bins. Plus the
sliced Wasserstein-1 distance over evenly spaced directions. All randomness comes from numpy Generators
owned by the trainer; the global RNGs are never touched.
"""
from __future__ import annotations

import copy
import dataclasses
import io
import math
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .models.toy import ACTIVATIONS, LEAKY_SLOPE, ToyConfig, check_config, layer_sizes

DATASETS = ("parabola", "ring", "8gaussians", "moons", "spiral", "points")
LOSSES = ("non-saturating", "minimax", "lsgan", "wgan-gp", "hinge")
LOSS_HEAD = {"non-saturating": "sigmoid", "minimax": "sigmoid", "lsgan": "linear", "wgan-gp": "linear",
             "hinge": "linear"}  # D's output head each loss reads
OPTIMIZERS = ("adam", "sgd", "rmsprop")
# fields that may change while training (update()); everything else needs a new trainer
LIVE_FIELDS = ("lr_g", "lr_d", "beta1_g", "beta2_g", "beta1_d", "beta2_d", "loss", "d_steps", "batch_size",
               "label_smoothing", "top_k", "top_k_anneal_steps", "gp_weight", "ema_decay", "naive")

GRID_BINS = 30          # the metric grid is GRID_BINS × GRID_BINS over the real data's bounding box
N_REFERENCE = 10_000    # fixed real samples the metrics compare against
N_EVAL = 10_000         # fixed latents whose images the metrics measure
N_SLICED = 2_000        # points per side for the sliced Wasserstein distance
N_DIRECTIONS = 32       # evenly spaced projection directions for it
N_DISPLAY = 512         # fixed latents / real samples drawn in the pictures
CHUNK = 8192            # rows of data / noise drawn per refill

MAX_CSV_BYTES = 1_000_000
MAX_POINTS = 10_000
MIN_POINTS = 10



class _OneBlasThread:
    """Context manager: the calling thread's numpy BLAS (OpenBLAS) uses one thread inside the block.

    The toy nets' matrices are tiny; OpenBLAS splits the larger ones (e.g. 128 × 64 × 64) over threads, and
    on a busy 2-core machine waking them costs more than the multiply. OpenBLAS ≥ 0.3.27 has a thread-local
    setting, so other threads (other sessions, other models) are unaffected. Without it this is a no-op.
    """

    _set_local = None
    _looked_up = False

    def __enter__(self):
        if not _OneBlasThread._looked_up:
            _OneBlasThread._looked_up = True
            _OneBlasThread._set_local = _find_openblas_set_num_threads_local()
        self._previous = self._set_local(1) if self._set_local else None
        return self

    def __exit__(self, *exc):
        if self._previous is not None and self._previous > 0:
            self._set_local(self._previous)


def _one_blas_thread(method):
    """Run a function inside _OneBlasThread()."""
    import functools

    @functools.wraps(method)
    def wrapper(*args, **kwargs):
        with _OneBlasThread():
            return method(*args, **kwargs)
    return wrapper


def _find_openblas_set_num_threads_local():
    import ctypes

    try:
        with open("/proc/self/maps") as maps:
            paths = {line.split()[-1] for line in maps if "openblas" in line and ".so" in line}
    except OSError:
        return None
    for path in sorted(paths):
        try:
            fn = ctypes.CDLL(path).openblas_set_num_threads_local
        except (OSError, AttributeError):
            continue
        fn.argtypes, fn.restype = [ctypes.c_int], ctypes.c_int
        return fn
    return None


# ----------------------------------------------------------------------------------------------------------
# config

@dataclass
class ToyTrainConfig:
    model: ToyConfig = field(default_factory=ToyConfig)  # the networks; d_output is set from the loss
    dataset: str = "parabola"      # one of DATASETS; "points" trains on user points given to ToyTrainer
    loss: str = "non-saturating"   # one of LOSSES
    optimizer: str = "adam"        # one of OPTIMIZERS, for both nets
    lr_g: float = 3e-4             # G's learning rate
    lr_d: float = 3e-4             # D's learning rate
    beta1_g: float = 0.9           # G: Adam β1 / SGD momentum (unused by RMSprop)
    beta2_g: float = 0.999         # G: Adam β2 / RMSprop smoothing α (unused by SGD)
    beta1_d: float = 0.9           # D: as beta1_g
    beta2_d: float = 0.999         # D: as beta2_g
    d_steps: int = 1               # D updates per G update
    batch_size: int = 32           # real and fake points per update
    label_smoothing: float = 0.0   # one-sided: D's real target is 1 - this (non-saturating, minimax, lsgan)
    top_k: float = 1.0             # fraction of fakes (highest D score) G learns from; 1 = all (Sinha et al. 2020)
    top_k_anneal_steps: int = 0    # iterations over which that fraction falls linearly from 1 to top_k
    gp_weight: float = 10.0        # λ of the WGAN-GP gradient penalty
    ema_decay: float = 0.0         # exponential moving average of G's weights, used for pictures; 0 = off
    naive: bool = False            # also train the lecture's naive G (distance to the nearest real point)
    naive_set_size: int = 256      # real points stored for the naive G's loss


def lecture_config() -> ToyTrainConfig:
    """The lecture's parabola GAN: G 10 → 50 → 50 → 2 ReLU, D 2 → 50 → 50 → 1 sigmoid, BCE, Adam 3e-4, batch 32."""
    return ToyTrainConfig()


def default_config() -> ToyTrainConfig:
    """ganlab's recommended preset: on the parabola it reaches a grid JS of about 0.03 bits within 3-5k
    iterations (a few seconds of CPU).

    Compared with the lecture: a 2-D latent (the data is a curve; fewer idle latent directions), 64-unit
    layers, batch 64, and the settings of modern GANs: D learns faster than G (two time-scale rule,
    Heusel et al. 2017: 1e-3 vs 5e-4), Adam with β1 = 0 and β2 = 0.99 (as StyleGAN2) so the momentum does
    not carry G round the equilibrium, and pictures/metrics from an EMA of G's weights (decay 0.99).
    """
    return ToyTrainConfig(
        model=ToyConfig(latent_dim=2, g_width=64, d_width=64),
        lr_g=5e-4, lr_d=1e-3, beta1_g=0.0, beta2_g=0.99, beta1_d=0.0, beta2_d=0.99,
        batch_size=64, ema_decay=0.99,
    )


def check_train_config(cfg: ToyTrainConfig) -> None:
    """Raise ValueError naming the first field that is out of range."""
    check_config(cfg.model)
    if cfg.model.data_dim != 2:
        raise ValueError("the toy trainer works in the plane: model.data_dim must be 2.")
    for name, allowed in (("dataset", DATASETS), ("loss", LOSSES), ("optimizer", OPTIMIZERS)):
        if getattr(cfg, name) not in allowed:
            raise ValueError(f"{name} must be one of {allowed}, got {getattr(cfg, name)!r}.")
    for name in ("lr_g", "lr_d"):
        if not 0 < getattr(cfg, name) <= 1:
            raise ValueError(f"{name} must be in (0, 1], got {getattr(cfg, name)}.")
    for name in ("beta1_g", "beta2_g", "beta1_d", "beta2_d"):
        if not 0 <= getattr(cfg, name) < 1:
            raise ValueError(f"{name} must be in [0, 1), got {getattr(cfg, name)}.")
    checks = (("d_steps", 1, 20), ("batch_size", 1, 4096), ("label_smoothing", 0.0, 0.5),
              ("top_k", 1e-9, 1.0), ("top_k_anneal_steps", 0, 10**9), ("gp_weight", 0.0, 1e4),
              ("ema_decay", 0.0, 0.99999), ("naive_set_size", 1, MAX_POINTS))
    for name, lo, hi in checks:
        if not lo <= getattr(cfg, name) <= hi:
            raise ValueError(f"{name} must be in [{lo:g}, {hi:g}], got {getattr(cfg, name)}.")


# ----------------------------------------------------------------------------------------------------------
# data

def sample_parabola(rng: np.random.Generator, n: int) -> np.ndarray:
    x = rng.uniform(-1, 1, n)
    return np.stack([x, x * x], 1).astype(np.float32)  # (n, 2)


def sample_ring(rng: np.random.Generator, n: int) -> np.ndarray:
    angle = rng.uniform(0, 2 * np.pi, n)
    radius = 0.8 + 0.03 * rng.standard_normal(n)
    return np.stack([radius * np.cos(angle), radius * np.sin(angle)], 1).astype(np.float32)


def sample_8gaussians(rng: np.random.Generator, n: int) -> np.ndarray:
    angle = rng.integers(0, 8, n) * (np.pi / 4)
    centers = 0.8 * np.stack([np.cos(angle), np.sin(angle)], 1)
    return (centers + 0.05 * rng.standard_normal((n, 2))).astype(np.float32)


def sample_moons(rng: np.random.Generator, n: int) -> np.ndarray:
    t = rng.uniform(0, np.pi, n)
    upper = rng.random(n) < 0.5
    x = np.where(upper, np.cos(t), 1 - np.cos(t))
    y = np.where(upper, np.sin(t), 0.5 - np.sin(t))
    xy = np.stack([x - 0.5, y - 0.25], 1) * 0.6 + 0.03 * rng.standard_normal((n, 2))
    return xy.astype(np.float32)


def sample_spiral(rng: np.random.Generator, n: int) -> np.ndarray:
    t = np.sqrt(rng.uniform(0, 1, n))  # sqrt: uniform density along the arc, roughly
    angle, radius = 3 * np.pi * t, 0.05 + 0.85 * t
    xy = np.stack([radius * np.cos(angle), radius * np.sin(angle)], 1) + 0.02 * rng.standard_normal((n, 2))
    return xy.astype(np.float32)


SAMPLERS = {"parabola": sample_parabola, "ring": sample_ring, "8gaussians": sample_8gaussians,
            "moons": sample_moons, "spiral": sample_spiral}


def normalize_points(points: np.ndarray) -> np.ndarray:
    """Centre user points on their bounding box and scale the larger side to [-1, 1] (aspect kept)."""
    points = np.asarray(points, dtype=np.float64)
    lo, hi = points.min(0), points.max(0)
    half = float((hi - lo).max()) / 2
    if half <= 0:
        raise ValueError("all points are identical: a distribution needs some spread.")
    return ((points - (lo + hi) / 2) / half).astype(np.float32)


def _check_points(points: np.ndarray, source: str) -> np.ndarray:
    if len(points) < MIN_POINTS:
        raise ValueError(f"{source} has {len(points)} points; at least {MIN_POINTS} are needed.")
    if len(points) > MAX_POINTS:
        raise ValueError(f"{source} has {len(points)} points; at most {MAX_POINTS:,} are allowed.")
    if float(np.ptp(points, axis=0).max()) <= 0:
        raise ValueError(f"all points in {source} are identical: a distribution needs some spread.")
    return points


def points_from_csv(data: str | bytes | Path) -> np.ndarray:
    """Parse x,y rows (comma, semicolon, tab or space separated; an optional header line; '#' comments).

    Raises ValueError with the line number for anything that is not exactly two finite numbers, for files
    over MAX_CSV_BYTES, and for fewer than MIN_POINTS or more than MAX_POINTS rows. Returns (n, 2) float32,
    in the file's own units (see normalize_points).
    """
    if isinstance(data, Path) or (isinstance(data, str) and "\n" not in data and len(data) < 4096
                                  and Path(data).is_file()):
        path = Path(data)
        if path.stat().st_size > MAX_CSV_BYTES:
            raise ValueError(f"the CSV file is {path.stat().st_size:,} bytes; the limit is {MAX_CSV_BYTES:,}.")
        data = path.read_bytes()
    if isinstance(data, bytes):
        if len(data) > MAX_CSV_BYTES:
            raise ValueError(f"the CSV file is {len(data):,} bytes; the limit is {MAX_CSV_BYTES:,}.")
        try:
            data = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise ValueError("the CSV file is not UTF-8 text.") from None
    if len(data) > MAX_CSV_BYTES:
        raise ValueError(f"the CSV text is {len(data):,} characters; the limit is {MAX_CSV_BYTES:,}.")
    rows: list[tuple[float, float]] = []
    seen_data = False
    for lineno, line in enumerate(io.StringIO(data), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        fields = [f for f in re.split(r"[,;\t ]+", line) if f != ""]
        if len(fields) != 2:
            raise ValueError(f"line {lineno}: expected 2 columns (x, y), found {len(fields)}: {line[:60]!r}.")
        values = []
        for f in fields:
            try:
                values.append(float(f))
            except ValueError:
                values.append(None)
        if not seen_data and all(v is None for v in values):
            seen_data = True  # a header line such as "x,y"
            continue
        seen_data = True
        for f, v in zip(fields, values):
            if v is None:
                raise ValueError(f"line {lineno}: {f[:30]!r} is not a number.")
            if not math.isfinite(v):
                raise ValueError(f"line {lineno}: {f[:30]!r} is not a finite number.")
        rows.append((values[0], values[1]))
        if len(rows) > MAX_POINTS:
            raise ValueError(f"the CSV file has more than {MAX_POINTS:,} points; that is the limit.")
    return _check_points(np.array(rows, dtype=np.float32).reshape(-1, 2), "the CSV file")


def points_from_drawing(image: np.ndarray, max_points: int = 2000) -> np.ndarray:
    """Turn a canvas drawing into points: every inked pixel becomes (x, y), y up, scaled to [-1, 1].

    image: (H, W), (H, W, 3) or (H, W, 4) uint8. Ink is an opaque, non-white pixel (RGBA) or a dark pixel
    (grey/RGB). At most ``max_points`` pixels are kept, evenly spaced in scan order (no randomness).
    """
    if image is None:
        raise ValueError("the drawing is empty: draw a few strokes first.")
    image = np.asarray(image)
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] not in (1, 3, 4)) or image.size == 0:
        raise ValueError(f"expected an (H, W[, 1|3|4]) image, got shape {image.shape}.")
    image = image.astype(np.float32)
    if image.ndim == 2:
        image = image[:, :, None]
    rgb = image[:, :, :3] if image.shape[2] >= 3 else np.repeat(image[:, :, :1], 3, 2)
    luminance = rgb @ np.array([0.299, 0.587, 0.114], np.float32)  # (H, W)
    if image.shape[2] == 4:
        ink = (image[:, :, 3] > 127) & (luminance < 200)
    else:
        ink = luminance < 128
    rows, cols = np.nonzero(ink)
    if len(rows) < MIN_POINTS:
        raise ValueError("the drawing is empty: draw a few strokes first.")
    if len(rows) > max_points:
        keep = np.linspace(0, len(rows) - 1, max_points).astype(int)
        rows, cols = rows[keep], cols[keep]
    h, w = ink.shape
    scale = max(h, w) - 1 or 1
    points = np.stack([cols * 2.0 / scale - 1, 1 - rows * 2.0 / scale], 1).astype(np.float32)
    return _check_points(points, "the drawing")


# ----------------------------------------------------------------------------------------------------------
# numpy networks

class _Activation:
    """φ, φ' and φ'' (the last for the WGAN-GP double backward) of one activation, on numpy arrays."""

    def __init__(self, name: str):
        if name not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {ACTIVATIONS}, got {name!r}.")
        self.name = name
        self.has_curvature = name in ("tanh", "elu", "softplus")  # φ'' ≠ 0 somewhere

    def __call__(self, a: np.ndarray) -> np.ndarray:
        if self.name == "relu":
            return np.maximum(a, 0)
        if self.name == "leakyrelu":
            return np.where(a > 0, a, LEAKY_SLOPE * a)
        if self.name == "tanh":
            return np.tanh(a)
        if self.name == "elu":
            return np.where(a > 0, a, np.expm1(np.minimum(a, 0)))
        return np.logaddexp(0, a)  # softplus

    def grad(self, a: np.ndarray, h: np.ndarray) -> np.ndarray:
        """φ'(a), given h = φ(a)."""
        if self.name == "relu":
            return (h > 0).astype(a.dtype)
        if self.name == "leakyrelu":
            return np.where(a > 0, 1, LEAKY_SLOPE).astype(a.dtype)
        if self.name == "tanh":
            return 1 - h * h
        if self.name == "elu":
            return np.where(a > 0, 1, h + 1).astype(a.dtype)
        return 0.5 * (1 + np.tanh(0.5 * a))  # softplus' = σ

    def grad2(self, a: np.ndarray, h: np.ndarray) -> np.ndarray:
        """φ''(a), given h = φ(a)."""
        if self.name in ("relu", "leakyrelu"):
            return np.zeros_like(a)
        if self.name == "tanh":
            return -2 * h * (1 - h * h)
        if self.name == "elu":
            return np.where(a > 0, 0, h + 1).astype(a.dtype)
        s = 0.5 * (1 + np.tanh(0.5 * a))
        return s * (1 - s)


class NumpyMLP:
    """A float32 MLP whose weights live in one flat buffer ``params`` (gradients in ``grads``).

    weights[i] has shape (n_in, n_out) (x @ W, the transpose of nn.Linear.weight); layer i's pre-activation
    is hs[i] @ weights[i] + biases[i]. Initialisation matches nn.Linear's default: U(±1/sqrt(n_in)).
    """

    def __init__(self, sizes: list[int], activation: str, rng: np.random.Generator):
        self.sizes = list(sizes)
        self.act = _Activation(activation)
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
            h = self.act(a)
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
            if self.act.name == "relu":
                np.multiply(g, hs[i] > 0, out=g)  # dL/da
            else:
                g *= self.act.grad(pre[i - 1], hs[i])

    def input_gradient_penalty(self, x: np.ndarray, weight: float) -> tuple[float, np.ndarray]:
        """WGAN-GP: weight · mean_n (‖∂out/∂x_n‖ - 1)² and its gradient wrt params (flat), by hand.

        The penalty depends on the weights through the backward pass ∂out/∂x, so its gradient is a reverse
        pass through that backward pass (a "double backward"); φ'' enters for curved activations.
        """
        n_layers = len(self.weights)
        out, (hs, pre) = self.forward(x)
        dphi = [self.act.grad(a, h) for a, h in zip(pre, hs[1:])]
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
            if self.act.has_curvature:
                a_bar[l] = delta_bar * u[l] * self.act.grad2(pre[l], hs[l + 1])
        weight_grads[-1][:, 0] += g_bar.sum(0)        # u_last = W_last^T broadcast over the batch
        if self.act.has_curvature:  # push dP/da_l back through the forward pass
            h_bar = None
            for l in range(n_layers - 2, -1, -1):
                a_total = a_bar[l] if h_bar is None else a_bar[l] + h_bar * dphi[l]
                weight_grads[l] += hs[l].T @ a_total
                bias_grads[l] += a_total.sum(0)
                h_bar = a_total @ self.weights[l].T
        return penalty, grads


# ----------------------------------------------------------------------------------------------------------
# losses: pure functions of D's scores s (before the head); gradients are dLoss/ds, batch mean included

def _softplus(x: np.ndarray) -> np.ndarray:
    return np.logaddexp(0, x)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1 + np.tanh(0.5 * x))


def _avg(a: np.ndarray) -> float:
    return float(a.sum()) / a.size  # ndarray.mean() costs several times more on tiny arrays


def discriminator_loss(loss: str, s_real: np.ndarray, s_fake: np.ndarray, real_target: float = 1.0):
    """D's loss (without WGAN-GP's penalty) -> (value, dL/ds_real (B,), dL/ds_fake (B,))."""
    n_r, n_f = len(s_real), len(s_fake)
    if loss in ("non-saturating", "minimax"):
        # BCE(σ(s), t) = t·softplus(-s) + (1-t)·softplus(s); the fake target is 0
        real_term = _avg(_softplus(-s_real)) if real_target == 1 else \
            _avg(real_target * _softplus(-s_real) + (1 - real_target) * _softplus(s_real))
        value = real_term + _avg(_softplus(s_fake))
        return value, (_sigmoid(s_real) - real_target) / n_r, _sigmoid(s_fake) / n_f
    if loss == "lsgan":
        value = 0.5 * _avg((s_real - real_target) ** 2) + 0.5 * _avg(s_fake ** 2)
        return value, (s_real - real_target) / n_r, s_fake / n_f
    if loss == "wgan-gp":
        value = _avg(s_fake) - _avg(s_real)
        return value, np.full_like(s_real, -1 / n_r), np.full_like(s_fake, 1 / n_f)
    if loss == "hinge":
        value = _avg(np.maximum(0, 1 - s_real)) + _avg(np.maximum(0, 1 + s_fake))
        return value, -(s_real < 1).astype(s_real.dtype) / n_r, (s_fake > -1).astype(s_fake.dtype) / n_f
    raise ValueError(f"loss must be one of {LOSSES}, got {loss!r}.")


def generator_loss(loss: str, s_fake: np.ndarray):
    """G's loss -> (value, dL/ds_fake (B,))."""
    n = len(s_fake)
    if loss == "non-saturating":
        return _avg(_softplus(-s_fake)), (_sigmoid(s_fake) - 1) / n
    if loss == "minimax":  # minimise log(1 - σ(s)) = -softplus(s)
        return -_avg(_softplus(s_fake)), -_sigmoid(s_fake) / n
    if loss == "lsgan":
        return 0.5 * _avg((s_fake - 1) ** 2), (s_fake - 1) / n
    if loss in ("wgan-gp", "hinge"):
        return -_avg(s_fake), np.full_like(s_fake, -1 / n)
    raise ValueError(f"loss must be one of {LOSSES}, got {loss!r}.")


def nearest_point_loss(points: np.ndarray, real_set: np.ndarray):
    """The lecture's naive loss: mean squared distance to the nearest stored real point -> (value, dL/dpoints)."""
    diff = points[:, None, :] - real_set[None, :, :]  # (B, M, 2)
    d2 = (diff * diff).sum(2)  # (B, M)
    nearest = real_set[d2.argmin(1)]  # (B, 2)
    delta = points - nearest
    return float((delta * delta).sum(1).mean()), 2 * delta / len(points)


# ----------------------------------------------------------------------------------------------------------
# optimizers on flat buffers, with PyTorch's update rules

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


# ----------------------------------------------------------------------------------------------------------
# metrics

def grid_extent(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The bounding box of points (lo, hi), widened where it is flat so every bin has positive size."""
    lo, hi = points.min(0).astype(np.float64), points.max(0).astype(np.float64)
    span = np.maximum(hi - lo, 1e-3 * max(float((hi - lo).max()), 1e-6))
    mid = (lo + hi) / 2
    lo, hi = np.minimum(lo, mid - span / 2), np.maximum(hi, mid + span / 2)
    return lo, hi


def grid_histogram(points: np.ndarray, lo: np.ndarray, hi: np.ndarray, bins: int = GRID_BINS) -> np.ndarray:
    """Counts of points in a bins×bins grid over [lo, hi] (closed: points on hi fall in the last bin), then
    one last entry counting the points outside. Returns (bins*bins + 1,) int64 summing to len(points)."""
    points = np.asarray(points, np.float64)
    inside = np.all((points >= lo) & (points <= hi), 1)
    ij = np.floor((points[inside] - lo) / (hi - lo) * bins).astype(np.int64)
    np.clip(ij, 0, bins - 1, out=ij)
    counts = np.bincount(ij[:, 1] * bins + ij[:, 0], minlength=bins * bins)
    return np.append(counts, np.count_nonzero(~inside))


def js_divergence_bits(p_counts: np.ndarray, q_counts: np.ndarray) -> float:
    """Jensen-Shannon divergence (base 2, in [0, 1]) between two histograms given as counts."""
    p = np.asarray(p_counts, np.float64)
    q = np.asarray(q_counts, np.float64)
    p, q = p / p.sum(), q / q.sum()
    m = (p + q) / 2
    js = 0.0
    for a in (p, q):
        nz = a > 0
        js += 0.5 * float((a[nz] * np.log2(a[nz] / m[nz])).sum())
    return min(max(js, 0.0), 1.0)


def sliced_wasserstein(a: np.ndarray, b: np.ndarray, n_directions: int = N_DIRECTIONS) -> float:
    """Mean over evenly spaced directions of the 1-D Wasserstein-1 distance between the projections.
    Uses the first min(len(a), len(b)) points of each (pass shuffled or i.i.d. samples)."""
    n = min(len(a), len(b))
    angles = np.arange(n_directions) * (np.pi / n_directions)
    directions = np.stack([np.cos(angles), np.sin(angles)])  # (2, n_directions)
    pa = np.sort(np.asarray(a[:n], np.float64) @ directions, axis=0)  # (n, n_directions)
    pb = np.sort(np.asarray(b[:n], np.float64) @ directions, axis=0)
    return float(np.abs(pa - pb).mean())


# ----------------------------------------------------------------------------------------------------------
# curves with bounded memory

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


# ----------------------------------------------------------------------------------------------------------
# the trainer

class ToyTrainer:
    """A GAN (and optionally the lecture's naive generator) on a 2-D dataset, trained with numpy.

    config: a ToyTrainConfig (copied); seed: seeds every random draw of this trainer; points: (n, 2) user
    points, required when config.dataset == "points" (they are normalised with normalize_points).
    """

    def __init__(self, config: ToyTrainConfig | None = None, seed: int = 0, points: np.ndarray | None = None):
        cfg = copy.deepcopy(config if config is not None else default_config())
        cfg.model = dataclasses.replace(cfg.model, d_output=LOSS_HEAD[cfg.loss]) if cfg.loss in LOSS_HEAD \
            else cfg.model
        check_train_config(cfg)
        self.config, self.seed = cfg, int(seed)
        self.rng = np.random.default_rng([self.seed, 0])         # training draws
        self.sample_rng = np.random.default_rng([self.seed, 1])  # sample() draws, so sampling never
        eval_rng = np.random.default_rng([self.seed, 2])         # changes the training trajectory
        if cfg.dataset == "points":
            if points is None:
                raise ValueError('dataset "points" needs the points: ToyTrainer(config, points=...).')
            self.points = normalize_points(_check_points(np.asarray(points, np.float32).reshape(-1, 2),
                                                         "the point set"))
        elif points is not None:
            raise ValueError(f'points were given but dataset is {cfg.dataset!r}; use dataset="points".')
        else:
            self.points = None
        m = cfg.model
        self.G = NumpyMLP(layer_sizes(m.latent_dim, m.g_width, m.g_depth, 2), m.g_activation, self.rng)
        self.D = NumpyMLP(layer_sizes(2, m.d_width, m.d_depth, 1), m.d_activation, self.rng)
        self.g_init = self.G.params.copy()
        self.opt_g = FlatOptimizer(cfg.optimizer, len(self.G.params))
        self.opt_d = FlatOptimizer(cfg.optimizer, len(self.D.params))
        self.ema = self.G.params.copy() if cfg.ema_decay > 0 else None
        self.iteration = 0
        self.train_seconds = 0.0
        self.last_its_per_second = 0.0
        self.log = CurveLog(("d_loss", "g_loss", "d_real", "d_fake"))
        self.metric_log = CurveLog(("js", "sw", "naive_js"), capacity=2048)
        self._real_buf, self._real_at = np.zeros((0, 2), np.float32), 0
        self._noise_buf, self._noise_at = np.zeros((0, m.latent_dim), np.float32), 0
        # fixed sets for metrics and pictures
        self.reference = self._draw_data(eval_rng, N_REFERENCE)  # (N_REFERENCE, 2)
        self.grid_lo, self.grid_hi = grid_extent(self.reference)
        self.reference_hist = grid_histogram(self.reference, self.grid_lo, self.grid_hi)
        self.eval_z = self._draw_noise(eval_rng, N_EVAL)  # (N_EVAL, latent_dim)
        self.display_z = self.eval_z[:N_DISPLAY]
        self.display_real = self.reference[:N_DISPLAY]
        center, half = (self.grid_lo + self.grid_hi) / 2, float((self.grid_hi - self.grid_lo).max()) / 2 * 1.4
        self.view = (center[0] - half, center[0] + half, center[1] - half, center[1] + half)  # x0, x1, y0, y1
        self.naive_G = None
        self.naive_real = self._draw_data(eval_rng, cfg.naive_set_size)  # the naive loss's stored real set
        if cfg.naive:
            self._start_naive()

    # -- data and noise, drawn in chunks ------------------------------------------------------------------
    def _draw_data(self, rng: np.random.Generator, n: int) -> np.ndarray:
        if self.config.dataset == "points":
            return self.points[rng.integers(0, len(self.points), n)]
        return SAMPLERS[self.config.dataset](rng, n)

    def _draw_noise(self, rng: np.random.Generator, n: int) -> np.ndarray:
        d = self.config.model.latent_dim
        if self.config.model.noise == "uniform":
            return rng.uniform(-1, 1, (n, d)).astype(np.float32)
        return rng.standard_normal((n, d), dtype=np.float32)

    def _real(self, n: int) -> np.ndarray:
        if self._real_at + n > len(self._real_buf):
            self._real_buf, self._real_at = self._draw_data(self.rng, max(CHUNK, n)), 0
        self._real_at += n
        return self._real_buf[self._real_at - n:self._real_at]

    def _noise(self, n: int) -> np.ndarray:
        if self._noise_at + n > len(self._noise_buf):
            self._noise_buf, self._noise_at = self._draw_noise(self.rng, max(CHUNK, n)), 0
        self._noise_at += n
        return self._noise_buf[self._noise_at - n:self._noise_at]

    # -- gradients (public so tests can compare them with autograd) -----------------------------------
    def discriminator_gradients(self, real: np.ndarray, fake: np.ndarray) -> tuple[float, float, float]:
        """Fill D.grads with dL_D/dθ_D on a real and a fake batch; return (loss, mean D(real), mean D(fake))."""
        cfg = self.config
        n = len(real)
        out, cache = self.D.forward(np.concatenate([real, fake]))  # (2B, 1)
        s = out[:, 0]
        loss, g_real, g_fake = discriminator_loss(cfg.loss, s[:n], s[n:], 1.0 - cfg.label_smoothing)
        self.D.backward(cache, np.concatenate([g_real, g_fake])[:, None])
        if cfg.loss == "wgan-gp" and cfg.gp_weight > 0:
            eps = self.rng.random((n, 1), dtype=np.float32)
            penalty, gp_grads = self.D.input_gradient_penalty(eps * real + (1 - eps) * fake, cfg.gp_weight)
            self.D.grads += gp_grads
            loss += penalty
        return loss, *self._mean_d(s[:n], s[n:])

    def _mean_d(self, s_real: np.ndarray, s_fake: np.ndarray) -> tuple[float, float]:
        if self.config.model.d_output == "sigmoid":
            return _avg(_sigmoid(s_real)), _avg(_sigmoid(s_fake))
        return _avg(s_real), _avg(s_fake)

    def top_k_count(self, batch: int) -> int:
        """How many of a fake batch G learns from at the current iteration (Sinha et al. 2020)."""
        cfg = self.config
        if cfg.top_k >= 1:
            return batch
        ramp = 1.0 if cfg.top_k_anneal_steps == 0 else min(1.0, self.iteration / cfg.top_k_anneal_steps)
        return max(1, int(round(batch * (1 - (1 - cfg.top_k) * ramp))))

    def generator_gradients(self, fake: np.ndarray, g_cache) -> float:
        """Fill G.grads with dL_G/dθ_G for the fakes G produced (with their forward cache); return the loss."""
        out, d_cache = self.D.forward(fake)  # (B, 1)
        s = out[:, 0]
        k = self.top_k_count(len(s))
        if k < len(s):  # only the k fakes D finds most realistic pass gradient to G
            keep = np.argpartition(-s, k - 1)[:k]
            loss, g_keep = generator_loss(self.config.loss, s[keep])
            g_s = np.zeros_like(s)
            g_s[keep] = g_keep
        else:
            loss, g_s = generator_loss(self.config.loss, s)
        g_fake = self.D.backward(d_cache, g_s[:, None], param_grads=False, input_grad=True)  # (B, 2)
        self.G.backward(g_cache, g_fake)
        return loss

    # -- training -------------------------------------------------------------------------------------------
    @_one_blas_thread
    def step(self, n: int = 1) -> None:
        """n iterations: d_steps D updates (fresh real and fake batches each), then one G update on the last
        fake batch (as the lecture's loop does: fake = G(z); D step on fake.detach(); G step on D(fake))."""
        cfg = self.config
        batch = cfg.batch_size
        stats = np.empty((n, 4))
        for i in range(n):
            for _ in range(cfg.d_steps):
                z = self._noise(batch)
                fake, g_cache = self.G.forward(z)  # (B, 2)
                d_loss, d_real, d_fake = self.discriminator_gradients(self._real(batch), fake)
                self.opt_d.step(self.D.params, self.D.grads, cfg.lr_d, cfg.beta1_d, cfg.beta2_d)
            g_loss = self.generator_gradients(fake, g_cache)
            self.opt_g.step(self.G.params, self.G.grads, cfg.lr_g, cfg.beta1_g, cfg.beta2_g)
            if self.ema is not None:
                self.ema += (1 - cfg.ema_decay) * (self.G.params - self.ema)
            if self.naive_G is not None:
                self._naive_step(batch)
            stats[i] = d_loss, g_loss, d_real, d_fake
            self.iteration += 1
        self.log.extend(stats, self.iteration)

    def _start_naive(self) -> None:
        self.naive_G = NumpyMLP(self.G.sizes, self.config.model.g_activation, self.rng)
        self.naive_G.params[...] = self.g_init  # same start as the GAN's G, for a fair comparison
        self.opt_naive = FlatOptimizer(self.config.optimizer, len(self.naive_G.params))

    def _naive_step(self, batch: int) -> None:
        cfg = self.config
        out, cache = self.naive_G.forward(self._noise(batch))
        _, g_out = nearest_point_loss(out, self.naive_real)
        self.naive_G.backward(cache, g_out)
        self.opt_naive.step(self.naive_G.params, self.naive_G.grads, cfg.lr_g, cfg.beta1_g, cfg.beta2_g)

    @_one_blas_thread
    def train_for(self, seconds: float, max_steps: int | None = None) -> int:
        """Train for about ``seconds`` of wall time (at most max_steps iterations); return iterations done."""
        start = time.perf_counter()
        done, chunk = 0, max(1, int(min(seconds, 0.02) * self.last_its_per_second)) or 4
        while True:
            n = chunk if max_steps is None else min(chunk, max_steps - done)
            if n <= 0:
                break
            t0 = time.perf_counter()
            self.step(n)
            done += n
            now = time.perf_counter()
            left = seconds - (now - start)
            if left <= 0:
                break
            per_step = (now - t0) / n
            chunk = int(max(1, min(left, 0.02) / max(per_step, 1e-7)))  # chunks of ≤ 20 ms
        elapsed = time.perf_counter() - start
        self.train_seconds += elapsed
        if done and elapsed > 0:
            self.last_its_per_second = done / elapsed
        return done

    def update(self, **changes) -> None:
        """Change live settings (LIVE_FIELDS) without a reset; anything else raises ValueError."""
        bad = sorted(set(changes) - set(LIVE_FIELDS))
        if bad:
            raise ValueError(f"{', '.join(bad)} cannot change during training: reset to apply "
                             f"(live settings: {', '.join(LIVE_FIELDS)}).")
        new = dataclasses.replace(self.config, **changes)
        if new.loss in LOSS_HEAD:
            new.model = dataclasses.replace(new.model, d_output=LOSS_HEAD[new.loss])
        check_train_config(new)
        if new.ema_decay > 0 and self.ema is None:
            self.ema = self.G.params.copy()
        elif new.ema_decay == 0:
            self.ema = None
        self.config = new
        if new.naive and self.naive_G is None:
            self._start_naive()
        elif not new.naive:
            self.naive_G = None

    # -- what the pictures and metrics read ---------------------------------------------------------------
    def _g_params(self) -> np.ndarray:
        return self.ema if self.ema is not None else self.G.params

    @_one_blas_thread
    def generate(self, z: np.ndarray, naive: bool = False) -> np.ndarray:
        """Points for latents z (N, latent_dim) -> (N, 2), with the EMA weights of G when enabled."""
        if naive:
            return self.naive_G.forward(z)[0]
        return self.G.forward(np.asarray(z, np.float32), self._g_params())[0]

    def sample(self, n: int, naive: bool = False) -> np.ndarray:
        """n generated points (n, 2) from fresh latents (the trainer's sampling RNG)."""
        return self.generate(self._draw_noise(self.sample_rng, n), naive=naive)

    @_one_blas_thread
    def discriminator_scores(self, points: np.ndarray) -> np.ndarray:
        """D(points): probabilities for a sigmoid head, raw scores otherwise; (N,)."""
        s = self.D.forward(np.asarray(points, np.float32))[0][:, 0]
        return _sigmoid(s) if self.config.model.d_output == "sigmoid" else s

    def discriminator_grid(self, resolution: int = 48) -> np.ndarray:
        """D over the view box at pixel centres: (resolution, resolution), row 0 at the top (largest y)."""
        x0, x1, y0, y1 = self.view
        xs = x0 + (np.arange(resolution) + 0.5) / resolution * (x1 - x0)
        ys = y1 - (np.arange(resolution) + 0.5) / resolution * (y1 - y0)
        gx, gy = np.meshgrid(xs, ys)
        return self.discriminator_scores(np.stack([gx.ravel(), gy.ravel()], 1)).reshape(resolution, resolution)

    @_one_blas_thread
    def point_gradients(self, points: np.ndarray) -> np.ndarray:
        """-dL_G/dx at each point (N, 2): the direction G's loss pushes a generated point, per point."""
        points = np.asarray(points, np.float32)
        out, cache = self.D.forward(points)
        _, g_s = generator_loss(self.config.loss, out[:, 0])
        return -self.D.backward(cache, (g_s * len(points))[:, None], param_grads=False, input_grad=True)

    @_one_blas_thread
    def manifold(self, steps: int = 120, lines: int = 9) -> list[np.ndarray]:
        """The generator's image of a latent line (latent_dim 1) or grid (first two latent axes, the others
        at 0): a list of polylines (k, 2). Spans ±2.5 for normal noise, ±1 for uniform."""
        d = self.config.model.latent_dim
        r = 1.0 if self.config.model.noise == "uniform" else 2.5
        t = np.linspace(-r, r, steps, dtype=np.float32)
        if d == 1:
            return [self.generate(t[:, None])]
        z = np.zeros((2, lines, steps, d), np.float32)  # (axis, line, step, latent)
        offsets = np.linspace(-r, r, lines, dtype=np.float32)
        z[0, :, :, 0], z[0, :, :, 1] = t[None, :], offsets[:, None]
        z[1, :, :, 1], z[1, :, :, 0] = t[None, :], offsets[:, None]
        points = self.generate(z.reshape(-1, d)).reshape(2 * lines, steps, 2)  # one forward for all lines
        return list(points)

    @_one_blas_thread
    def metrics(self, log: bool = True) -> dict[str, float]:
        """Grid JS divergence (bits) and sliced Wasserstein distance of G (and the naive G) vs the reference."""
        fake = self.generate(self.eval_z)
        out = {"iteration": self.iteration,
               "js": js_divergence_bits(self.reference_hist, grid_histogram(fake, self.grid_lo, self.grid_hi)),
               "sw": sliced_wasserstein(self.reference[:N_SLICED], fake[:N_SLICED]),
               "naive_js": float("nan")}
        if self.naive_G is not None:
            naive = self.generate(self.eval_z, naive=True)
            out["naive_js"] = js_divergence_bits(self.reference_hist,
                                                 grid_histogram(naive, self.grid_lo, self.grid_hi))
        if log and (self.metric_log.n == 0 or self.metric_log.x[self.metric_log.n - 1] < self.iteration):
            self.metric_log.extend(np.array([[out["js"], out["sw"], out["naive_js"]]]), self.iteration)
        return out

    # -- export ---------------------------------------------------------------------------------------------
    def export_modules(self):
        """(Generator, Discriminator) torch modules (ganlab.models.toy) holding the current weights
        (G's EMA weights when EMA is on)."""
        import torch

        from .models.toy import Discriminator, Generator

        generator, discriminator = Generator(self.config.model), Discriminator(self.config.model)
        for module, net, params in ((generator, self.G, self._g_params()), (discriminator, self.D, None)):
            weights, biases = net.views_of(params if params is not None else net.params)
            linears = [layer for layer in module.net if isinstance(layer, torch.nn.Linear)]
            with torch.no_grad():
                for layer, w, b in zip(linears, weights, biases):
                    layer.weight.copy_(torch.from_numpy(np.ascontiguousarray(w.T)))
                    layer.bias.copy_(torch.from_numpy(b.copy()))
        return generator.eval(), discriminator.eval()

    def save_checkpoint(self, path: str | Path) -> Path:
        """Write a zip holding config.json + model.safetensors (see ganlab.models.toy.save_pretrained)."""
        import tempfile
        import zipfile

        from .models.toy import save_pretrained

        path = Path(path)
        generator, discriminator = self.export_modules()
        train = dataclasses.asdict(self.config)
        train.pop("model")
        extra = {"training": {**train, "seed": self.seed, "iterations": self.iteration,
                              "ema_weights": self.ema is not None}, "metrics": self.metrics(log=False)}
        with tempfile.TemporaryDirectory() as tmp:
            folder = save_pretrained(Path(tmp) / "toy2d", generator, discriminator, extra)
            with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
                for f in ("config.json", "model.safetensors"):
                    zf.write(folder / f, f"toy2d/{f}")
        return path


# ----------------------------------------------------------------------------------------------------------
# rendering (numpy + PIL, no matplotlib): one frame = the plane + three curve panels

REAL_RGB = (27, 120, 55)
FAKE_RGB = (118, 42, 131)
NAIVE_RGB = (230, 120, 20)
D_REAL_RGB = np.array([168, 222, 174], np.float32)  # heatmap where D says "real"
D_FAKE_RGB = np.array([214, 184, 232], np.float32)  # where D says "fake"
D_MID_RGB = np.array([250, 250, 250], np.float32)
PANEL_BG = (255, 255, 255)
AXIS_RGB = (200, 200, 200)
TEXT_RGB = (40, 40, 40)


def heatmap_rgb(values: np.ndarray, probability: bool) -> np.ndarray:
    """Colour D's values (H, W): fake-purple below 0.5, white at 0.5, real-green above (H, W, 3) uint8.
    Raw scores (linear heads) are shown relative to their spread over the view: 0.5 + 0.5 tanh(z-score)."""
    v = values.astype(np.float32)
    if not probability:
        v = 0.5 + 0.5 * np.tanh((v - v.mean()) / (2 * v.std() + 1e-6))
    t = np.clip(v * 2 - 1, -1, 1)[..., None]  # -1 fake .. +1 real
    rgb = np.where(t > 0, D_MID_RGB + t * (D_REAL_RGB - D_MID_RGB), D_MID_RGB - t * (D_FAKE_RGB - D_MID_RGB))
    return rgb.astype(np.uint8)


_TEXT_CACHE: dict[str, object] = {}


def draw_text(image, xy: tuple[float, float], text: str, rgb) -> None:
    """ImageDraw.text with the glyph masks cached (PIL's text rendering dominated the frame time)."""
    from PIL import ImageFont

    mask = _TEXT_CACHE.get(text)
    if mask is None:
        if "font" not in _TEXT_CACHE:
            _TEXT_CACHE["font"] = ImageFont.load_default()
        font = _TEXT_CACHE["font"]
        left, top, right, bottom = font.getbbox(text)
        from PIL import Image, ImageDraw

        mask = Image.new("L", (max(right, 1), max(bottom, 1)), 0)
        ImageDraw.Draw(mask).text((0, 0), text, fill=255, font=font)
        if len(_TEXT_CACHE) > 2048:
            _TEXT_CACHE.clear()
        _TEXT_CACHE[text] = mask
    image.paste(rgb, (int(xy[0]), int(xy[1]), int(xy[0]) + mask.size[0], int(xy[1]) + mask.size[1]), mask)


def _to_pixels(points: np.ndarray, view, size: int) -> np.ndarray:
    x0, x1, y0, y1 = view
    px = (points[:, 0] - x0) / (x1 - x0) * (size - 1)
    py = (1 - (points[:, 1] - y0) / (y1 - y0)) * (size - 1)
    return np.stack([px, py], 1)


def draw_dots(image: np.ndarray, pixels: np.ndarray, rgb, radius: int = 1) -> None:
    """Square dots of side 2·radius+1 at pixel positions (N, 2), in place; dots off the image are skipped."""
    h, w = image.shape[:2]
    p = np.round(pixels).astype(np.int64)
    p = p[(p[:, 0] >= 0) & (p[:, 0] < w) & (p[:, 1] >= 0) & (p[:, 1] < h)]
    d = np.arange(-radius, radius + 1)
    rows = np.clip(p[:, 1, None, None] + d[None, :, None], 0, h - 1)  # (N, k, 1)
    cols = np.clip(p[:, 0, None, None] + d[None, None, :], 0, w - 1)  # (N, 1, k)
    image[rows, cols] = rgb  # one fancy-indexed write for all N·k² pixels


def render_plane(trainer: ToyTrainer, size: int = 400, show_heatmap: bool = True, show_manifold: bool = True,
                 show_gradients: bool = True, n_arrows: int = 32):
    """The data plane: D's heatmap, axes, G's manifold, real (green) and fake (purple) points, the naive G's
    points (orange), and arrows along -dL_G/dx on some fakes. Returns a PIL RGB image (size × size)."""
    from PIL import Image, ImageDraw

    view = trainer.view
    if show_heatmap:
        grid = heatmap_rgb(trainer.discriminator_grid(48), trainer.config.model.d_output == "sigmoid")
        image = Image.fromarray(grid).resize((size, size), Image.BILINEAR)
    else:
        image = Image.new("RGB", (size, size), PANEL_BG)
    draw = ImageDraw.Draw(image)
    origin = _to_pixels(np.zeros((1, 2)), view, size)[0]
    draw.line([(0, origin[1]), (size, origin[1])], fill=AXIS_RGB)
    draw.line([(origin[0], 0), (origin[0], size)], fill=AXIS_RGB)
    if show_manifold:
        for line in trainer.manifold(steps=80 if trainer.config.model.latent_dim > 1 else 200):
            pts = _to_pixels(line, view, size).clip(-size, 2 * size)
            draw.line(pts.ravel().tolist(), fill=(178, 140, 190), width=1)
    fake = trainer.generate(trainer.display_z)
    pixels = np.asarray(image).copy()
    draw_dots(pixels, _to_pixels(trainer.display_real, view, size), REAL_RGB)
    if trainer.naive_G is not None:
        draw_dots(pixels, _to_pixels(trainer.generate(trainer.display_z, naive=True), view, size), NAIVE_RGB)
    draw_dots(pixels, _to_pixels(fake, view, size), FAKE_RGB)
    image = Image.fromarray(pixels)
    draw = ImageDraw.Draw(image)
    if show_gradients and n_arrows:
        base = fake[:n_arrows]
        grad = trainer.point_gradients(base)
        norm = np.linalg.norm(grad, axis=1)
        length = 28 * norm / (norm.max() + 1e-12)  # the longest arrow is 28 px
        start = _to_pixels(base, view, size)
        direction = grad / (norm[:, None] + 1e-12) * np.array([1, -1])  # y axis points down in pixels
        end = start + direction * length[:, None]
        for (sx, sy), (ex, ey), (dx, dy), ln in zip(start, end, direction, length):
            if ln < 1.5 or not (0 <= sx < size and 0 <= sy < size):
                continue
            draw.line([(sx, sy), (ex, ey)], fill=(60, 20, 70))
            for side in (1, -1):  # arrow head: two short strokes
                hx, hy = dx * 0.8 - side * dy * 0.6, dy * 0.8 + side * dx * 0.6
                draw.line([(ex, ey), (ex - 4 * hx, ey - 4 * hy)], fill=(60, 20, 70))
    draw_text(image, (6, 4), f"iteration {trainer.iteration:,}", TEXT_RGB)
    return image


def render_curves(series: list[tuple[np.ndarray, np.ndarray, tuple, str]], title: str, width: int = 360,
                  height: int = 133, y_range: tuple[float, float] | None = None, x_max: float | None = None):
    """A small line chart: series = [(x, y, rgb, label)], drawn with at most `width` points each."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (width, height), PANEL_BG)
    draw = ImageDraw.Draw(image)
    left, right, top, bottom = 40, width - 6, 16, height - 14
    draw.rectangle([left, top, right, bottom], outline=AXIS_RGB)
    draw_text(image, (left, 2), title, TEXT_RGB)
    finite = [y[np.isfinite(y)] for _, y, _, _ in series if len(y)]
    finite = [y for y in finite if len(y)]
    if not finite:
        return image
    if y_range is None:
        lo = min(float(np.percentile(y, 1)) for y in finite)
        hi = max(float(np.percentile(y, 99)) for y in finite)
    else:
        lo, hi = y_range
    if hi - lo < 1e-9:
        lo, hi = lo - 0.5, hi + 0.5
    x_hi = x_max if x_max else max(float(x[-1]) for x, y, _, _ in series if len(x)) or 1.0
    draw_text(image, (2, top - 2), f"{hi:.3g}", TEXT_RGB)
    draw_text(image, (2, bottom - 10), f"{lo:.3g}", TEXT_RGB)
    draw_text(image, (right - 60, bottom + 2), f"{x_hi:,.0f} it", TEXT_RGB)
    legend_x = left + 8 + 6 * len(title)
    for x, y, rgb, label in series:
        ok = np.isfinite(y)
        x, y = x[ok], y[ok]
        if len(x) == 0:
            continue
        if len(x) > (right - left):
            idx = np.linspace(0, len(x) - 1, right - left).astype(int)
            x, y = x[idx], y[idx]
        px = left + x / x_hi * (right - left)
        py = bottom - (np.clip(y, lo, hi) - lo) / (hi - lo) * (bottom - top)
        if len(px) == 1:
            draw.point([(float(px[0]), float(py[0]))], fill=rgb)
        else:
            draw.line(list(zip(px.tolist(), py.tolist())), fill=rgb, width=1)
        draw_text(image, (legend_x, 2), label, rgb)
        legend_x += 6 * len(label) + 10
    return image


def render_curve_panels(trainer: ToyTrainer, height: int = 400, width: int = 360):
    """Losses, mean D(real)/D(fake) and the distances, stacked: a PIL image (width × height)."""
    from PIL import Image

    image = Image.new("RGB", (width, height), PANEL_BG)
    log, mlog = trainer.log, trainer.metric_log
    x_max = max(trainer.iteration, 1)
    h = height // 3
    probability = trainer.config.model.d_output == "sigmoid"
    panels = [
        ([(*log.series("d_loss"), (30, 90, 180), "D"), (*log.series("g_loss"), FAKE_RGB, "G")], "loss", None),
        ([(*log.series("d_real"), REAL_RGB, "D(real)"), (*log.series("d_fake"), FAKE_RGB, "D(fake)")],
         "mean D" if probability else "mean score", (0.0, 1.0) if probability else None),
        ([(*mlog.series("js"), FAKE_RGB, "JS bits"), (*mlog.series("sw"), (30, 90, 180), "SW")]
         + ([(*mlog.series("naive_js"), NAIVE_RGB, "naive JS")] if trainer.naive_G is not None else []),
         "distance", None),
    ]
    for i, (series, title, y_range) in enumerate(panels):
        image.paste(render_curves(series, title, width, h, y_range, x_max), (0, i * h))
    return image


@_one_blas_thread
def render_frame(trainer: ToyTrainer, size: int = 400, refresh_metrics: bool = True, curves=None,
                 **plane_options) -> np.ndarray:
    """The whole picture: the plane (size × size) and, to its right, the curve panels (360 wide; pass
    ``curves`` from render_curve_panels to reuse them). The distances are measured now if refresh_metrics
    and not yet at this iteration. Returns (size, size + 360, 3) uint8."""
    from PIL import Image

    log = trainer.metric_log
    if log.n == 0 or (refresh_metrics and log.x[log.n - 1] < trainer.iteration):
        trainer.metrics()
    frame = Image.new("RGB", (size + 360, size), PANEL_BG)
    frame.paste(render_plane(trainer, size, **plane_options), (0, 0))
    frame.paste(curves if curves is not None else render_curve_panels(trainer, size), (size, 0))
    return np.asarray(frame)


def save_gif(frames: list[np.ndarray], path: str | Path, fps: float = 10) -> Path:
    """Write frames (H, W, 3) uint8 as a looping GIF with imageio."""
    import imageio.v3 as iio

    if not frames:
        raise ValueError("no frames recorded yet: start training first.")
    iio.imwrite(path, np.stack(frames), extension=".gif", duration=1000 / fps, loop=0)
    return Path(path)
