"""The toy GAN's trainer: a GAN (and optionally the lecture's naive generator) on 2-D points, trained in numpy.

    from ganlab.toy import ToyTrainer, lecture_config, default_config
    t = ToyTrainer(lecture_config(seed=0))     # the lecture's parabola GAN
    t.step(1000)                               # 1000 iterations: d_steps D updates + 1 G update each
    xy = t.sample(500)                         # numpy (500, 2) generated points

Why numpy: the nets are tiny (50 units, batch 32), so a PyTorch loop spends nearly all its time in per-op
dispatch, autograd bookkeeping and optimizer overhead. Here each net keeps its weights in one flat buffer,
forward/backward are written out by hand and the optimizers update the whole buffer in a few vectorized ops;
data and latents are drawn in large chunks. It performs the same updates as the lecture's PyTorch loop (the
tests check gradients and optimizer steps against autograd and torch.optim), several times faster
(bench/toy.py measures it).

The lecture's *naive generator* (same network and start, loss = squared distance to the nearest point of a
stored real set) can train alongside: it lands on the data but in a narrow range, as nothing asks for variety.
Top-k (Sinha et al. 2020) lets G learn only from the fakes D scores highest. All randomness comes from numpy
Generators owned by the trainer; the global RNGs are never touched.

What the pictures need is offered through :meth:`ToyTrainer.plane` and :meth:`ToyTrainer.history` (plain data,
see ganlab.toy.render); nothing outside reads the trainer's internals.
"""
from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import metrics as M
from .blas import one_blas_thread
from .config import LIVE_FIELDS, ToyConfig, current_names, default_config, to_dict
from .curves import CurveLog
from .data import MAX_POINTS, SAMPLERS, check_points, normalize_points
from .losses import LOSS_HEAD, avg, discriminator_loss, generator_loss, nearest_point_loss, sigmoid
from .nets import NumpyMLP, layer_sizes
from .optim import FlatOptimizer

N_REFERENCE = 10_000    # fixed real samples the metrics compare against
N_EVAL = 10_000         # fixed latents whose images the metrics measure
N_SLICED = 2_000        # points per side for the sliced Wasserstein distance
N_DISPLAY = 512         # fixed latents / real samples drawn in the pictures
NAIVE_SET_SIZE = 256    # real points stored for the naive G's loss
CHUNK = 8192            # rows of data / latents drawn per refill


@dataclass
class Plane:
    """What the data plane shows, in data coordinates (see render.render_plane)."""
    iteration: int
    view: tuple[float, float, float, float]  # x0, x1, y0, y1
    probability: bool                        # D's values are probabilities (sigmoid head), else raw scores
    real: np.ndarray                         # (N, 2) real points
    fake: np.ndarray                         # (N, 2) G's points
    naive: np.ndarray | None = None          # (N, 2) the naive G's points, when it trains
    heat: np.ndarray | None = None           # (R, R) D over the view, row 0 at the top
    manifold: list | None = None             # polylines (k, 2): G's image of a latent line or grid
    arrows: np.ndarray | None = None         # (A, 2) -dL_G/dx at the first A fakes


@dataclass
class History:
    """The curves (see render.render_curve_panels): name -> (iterations, values)."""
    iteration: int
    probability: bool
    naive: bool
    series: dict


class ToyTrainer:
    """Trains a GAN on a 2-D dataset. config: a ToyConfig (default_config() if None; it holds the seed that
    seeds every random draw); points: (n, 2) user points, required when config.dataset == "points" (they are
    normalised with normalize_points)."""

    def __init__(self, config: ToyConfig | None = None, points: np.ndarray | None = None):
        cfg = self.config = config if config is not None else default_config()
        if not isinstance(cfg, ToyConfig):
            raise TypeError(f"config must be a ToyConfig, got {type(cfg).__name__}.")
        self.rng = np.random.default_rng([cfg.seed, 0])         # training draws
        self.sample_rng = np.random.default_rng([cfg.seed, 1])  # sample() draws, so sampling never
        eval_rng = np.random.default_rng([cfg.seed, 2])         # changes the training trajectory
        if cfg.dataset == "points":
            if points is None:
                raise ValueError('dataset "points" needs the points: ToyTrainer(config, points=...).')
            self.points = normalize_points(check_points(np.asarray(points, np.float32).reshape(-1, 2),
                                                        "the point set"))
        elif points is not None:
            raise ValueError(f'points were given but dataset is {cfg.dataset!r}; use dataset="points".')
        else:
            self.points = None
        self.G = NumpyMLP(layer_sizes(cfg.z_dim, cfg.g_width, cfg.g_depth, 2), cfg.g_activation, self.rng)
        self.D = NumpyMLP(layer_sizes(2, cfg.d_width, cfg.d_depth, 1), cfg.d_activation, self.rng)
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
        self._z_buf, self._z_at = np.zeros((0, cfg.z_dim), np.float32), 0
        # fixed sets for metrics and pictures
        self.reference = self._draw_data(eval_rng, N_REFERENCE)  # (N_REFERENCE, 2)
        self.grid_lo, self.grid_hi = M.grid_extent(self.reference)
        self.reference_hist = M.grid_histogram(self.reference, self.grid_lo, self.grid_hi)
        self.eval_z = self._draw_latents(eval_rng, N_EVAL)  # (N_EVAL, z_dim)
        self.display_z = self.eval_z[:N_DISPLAY]
        self.display_real = self.reference[:N_DISPLAY]
        center, half = (self.grid_lo + self.grid_hi) / 2, float((self.grid_hi - self.grid_lo).max()) / 2 * 1.4
        self.view = (center[0] - half, center[0] + half, center[1] - half, center[1] + half)  # x0, x1, y0, y1
        self.naive_G = None
        self.naive_real = self._draw_data(eval_rng, min(NAIVE_SET_SIZE, MAX_POINTS))  # the naive loss's set
        if cfg.naive:
            self._start_naive()

    @property
    def head(self) -> str:
        """D's output head for the current loss: "sigmoid" (a probability) or "linear" (a raw score)."""
        return LOSS_HEAD[self.config.loss]

    # -- data and latents, drawn in chunks ------------------------------------------------------------------
    def _draw_data(self, rng: np.random.Generator, n: int) -> np.ndarray:
        if self.config.dataset == "points":
            return self.points[rng.integers(0, len(self.points), n)]
        return SAMPLERS[self.config.dataset](rng, n)

    def _draw_latents(self, rng: np.random.Generator, n: int) -> np.ndarray:
        d = self.config.z_dim
        if self.config.latent_dist == "uniform":
            return rng.uniform(-1, 1, (n, d)).astype(np.float32)
        return rng.standard_normal((n, d), dtype=np.float32)

    def _real(self, n: int) -> np.ndarray:
        if self._real_at + n > len(self._real_buf):
            self._real_buf, self._real_at = self._draw_data(self.rng, max(CHUNK, n)), 0
        self._real_at += n
        return self._real_buf[self._real_at - n:self._real_at]

    def _latents(self, n: int) -> np.ndarray:
        if self._z_at + n > len(self._z_buf):
            self._z_buf, self._z_at = self._draw_latents(self.rng, max(CHUNK, n)), 0
        self._z_at += n
        return self._z_buf[self._z_at - n:self._z_at]

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
        if self.head == "sigmoid":
            return loss, avg(sigmoid(s[:n])), avg(sigmoid(s[n:]))
        return loss, avg(s[:n]), avg(s[n:])

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
    @one_blas_thread
    def step(self, n: int = 1) -> None:
        """n iterations: d_steps D updates (fresh real and fake batches each), then one G update on the last
        fake batch (as the lecture's loop does: fake = G(z); D step on fake.detach(); G step on D(fake))."""
        cfg = self.config
        batch = cfg.batch
        stats = np.empty((n, 4))
        for i in range(n):
            for _ in range(cfg.d_steps):
                z = self._latents(batch)
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
        self.naive_G = NumpyMLP(self.G.sizes, self.config.g_activation, self.rng)
        self.naive_G.params[...] = self.g_init  # same start as the GAN's G, for a fair comparison
        self.opt_naive = FlatOptimizer(self.config.optimizer, len(self.naive_G.params))

    def _naive_step(self, batch: int) -> None:
        cfg = self.config
        out, cache = self.naive_G.forward(self._latents(batch))
        _, g_out = nearest_point_loss(out, self.naive_real)
        self.naive_G.backward(cache, g_out)
        self.opt_naive.step(self.naive_G.params, self.naive_G.grads, cfg.lr_g, cfg.beta1_g, cfg.beta2_g)

    @one_blas_thread
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
        """Change live settings (config.LIVE_FIELDS) without a reset; anything else raises ValueError."""
        changes = current_names(changes)
        bad = sorted(set(changes) - set(LIVE_FIELDS))
        if bad:
            raise ValueError(f"{', '.join(bad)} cannot change during training: reset to apply "
                             f"(live settings: {', '.join(LIVE_FIELDS)}).")
        new = dataclasses.replace(self.config, **changes)   # validates
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

    @one_blas_thread
    def generate(self, z: np.ndarray, naive: bool = False) -> np.ndarray:
        """Points for latents z (N, z_dim) -> (N, 2), with the EMA weights of G when enabled."""
        if naive:
            return self.naive_G.forward(z)[0]
        return self.G.forward(np.asarray(z, np.float32), self._g_params())[0]

    def sample(self, n: int, naive: bool = False) -> np.ndarray:
        """n generated points (n, 2) from fresh latents (the trainer's sampling RNG)."""
        return self.generate(self._draw_latents(self.sample_rng, n), naive=naive)

    @one_blas_thread
    def discriminator_scores(self, points: np.ndarray) -> np.ndarray:
        """D(points): probabilities for a sigmoid head, raw scores otherwise; (N,)."""
        s = self.D.forward(np.asarray(points, np.float32))[0][:, 0]
        return sigmoid(s) if self.head == "sigmoid" else s

    def discriminator_grid(self, resolution: int = 48) -> np.ndarray:
        """D over the view box at pixel centres: (resolution, resolution), row 0 at the top (largest y)."""
        x0, x1, y0, y1 = self.view
        xs = x0 + (np.arange(resolution) + 0.5) / resolution * (x1 - x0)
        ys = y1 - (np.arange(resolution) + 0.5) / resolution * (y1 - y0)
        gx, gy = np.meshgrid(xs, ys)
        return self.discriminator_scores(np.stack([gx.ravel(), gy.ravel()], 1)).reshape(resolution, resolution)

    @one_blas_thread
    def point_gradients(self, points: np.ndarray) -> np.ndarray:
        """-dL_G/dx at each point (N, 2): the direction G's loss pushes a generated point, per point."""
        points = np.asarray(points, np.float32)
        out, cache = self.D.forward(points)
        _, g_s = generator_loss(self.config.loss, out[:, 0])
        return -self.D.backward(cache, (g_s * len(points))[:, None], param_grads=False, input_grad=True)

    @one_blas_thread
    def manifold(self, steps: int = 120, lines: int = 9) -> list[np.ndarray]:
        """The generator's image of a latent line (z_dim 1) or grid (first two latent axes, the others
        at 0): a list of polylines (k, 2). Spans ±2.5 for normal latents, ±1 for uniform ones."""
        d = self.config.z_dim
        r = 1.0 if self.config.latent_dist == "uniform" else 2.5
        t = np.linspace(-r, r, steps, dtype=np.float32)
        if d == 1:
            return [self.generate(t[:, None])]
        z = np.zeros((2, lines, steps, d), np.float32)  # (axis, line, step, latent)
        offsets = np.linspace(-r, r, lines, dtype=np.float32)
        z[0, :, :, 0], z[0, :, :, 1] = t[None, :], offsets[:, None]
        z[1, :, :, 1], z[1, :, :, 0] = t[None, :], offsets[:, None]
        points = self.generate(z.reshape(-1, d)).reshape(2 * lines, steps, 2)  # one forward for all lines
        return list(points)

    @one_blas_thread
    def plane(self, heatmap: int = 48, manifold: bool = True, arrows: int = 32) -> Plane:
        """What the data plane shows now: D over a heatmap × heatmap grid (0: none), G's manifold, the fixed
        display latents' points and the gradient arrows on the first ``arrows`` of them."""
        fake = self.generate(self.display_z)
        return Plane(
            iteration=self.iteration, view=self.view, probability=self.head == "sigmoid",
            real=self.display_real, fake=fake,
            naive=self.generate(self.display_z, naive=True) if self.naive_G is not None else None,
            heat=self.discriminator_grid(heatmap) if heatmap else None,
            manifold=self.manifold(steps=80 if self.config.z_dim > 1 else 200) if manifold else None,
            arrows=self.point_gradients(fake[:arrows]) if arrows else None)

    def history(self) -> History:
        """The training and distance curves so far."""
        series = {name: self.log.series(name) for name in self.log.names}
        series |= {name: self.metric_log.series(name) for name in self.metric_log.names}
        return History(self.iteration, self.head == "sigmoid", self.naive_G is not None, series)

    def metrics_due(self, ever: bool = False) -> bool:
        """True when the distances were not yet measured at this iteration (``ever``: not yet at all)."""
        log = self.metric_log
        return log.n == 0 or (not ever and log.x[log.n - 1] < self.iteration)

    @one_blas_thread
    def metrics(self, log: bool = True) -> dict[str, float]:
        """Grid JS divergence (bits) and sliced Wasserstein distance of G (and the naive G) vs the reference."""
        fake = self.generate(self.eval_z)
        out = {"iteration": self.iteration,
               "js": M.js_divergence_bits(self.reference_hist, M.grid_histogram(fake, self.grid_lo, self.grid_hi)),
               "sw": M.sliced_wasserstein(self.reference[:N_SLICED], fake[:N_SLICED]),
               "naive_js": float("nan")}
        if self.naive_G is not None:
            naive = self.generate(self.eval_z, naive=True)
            out["naive_js"] = M.js_divergence_bits(self.reference_hist,
                                                   M.grid_histogram(naive, self.grid_lo, self.grid_hi))
        if log and self.metrics_due():
            self.metric_log.extend(np.array([[out["js"], out["sw"], out["naive_js"]]]), self.iteration)
        return out

    # -- export ---------------------------------------------------------------------------------------------
    def weights(self) -> tuple[list, list, list, list]:
        """(G weights, G biases, D weights, D biases): per layer, weights (n_in, n_out) and biases (n_out,);
        G's are its EMA weights when EMA is on."""
        return (*self.G.views_of(self._g_params()), *self.D.views_of(self.D.params))

    def settings(self) -> dict:
        """The run's settings and progress, as saved with its exports (JSON-ready)."""
        return {**to_dict(self.config), "iterations": self.iteration, "ema_weights": self.ema is not None}

    def save_checkpoint(self, path: str | Path) -> Path:
        """Write a zip holding toy2d/config.json + toy2d/model.safetensors (see ganlab.toy.torch_export; the
        export imports torch, training never does)."""
        from .torch_export import save_zip

        return save_zip(self, path)
