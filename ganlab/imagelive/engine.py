"""One live image-GAN run: ganlab's trainer (ganlab.train.Trainer, stepped a slice at a time) plus what watching
it needs. No UI code: every method returns plain data (numbers, lists, PNG bytes), so a worker process can
serve it and a test or the bench can read it.

What a snapshot holds:
- a grid drawn from latents fixed for the whole run (the first 64 of :data:`QUALITY_SAMPLES`, 8 × 8; for the
  conditional GAN a row per class), so that change is visible;
- the last D and G losses and mean D(real) / D(fake) (as the loss reads D: a probability for the BCE losses);
- the class histogram of the :data:`QUALITY_SAMPLES` fixed samples as the bundled evaluation classifier sees
  them (ganlab.evaluate), the number of classes among them and the classifier's mean top-1 probability;
- the quality curve: the Fréchet distance between :data:`FD_SAMPLES` samples and the test split in that
  classifier's feature space, measured every :data:`FD_SECONDS` of training (a small sample: it reads higher
  than ``python -m ganlab evaluate``'s 10,000-sample FD, but falls as the model learns);
- the loss curves (bounded, toy.curves.CurveLog) and the timeline of grids, which the GIF export draws from.
"""
from __future__ import annotations

import dataclasses
import io
import time

import torch
from PIL import Image, ImageDraw

from .. import evaluate
from ..models.base import to_uint8
from ..toy.curves import CurveLog
from ..toy.gif import save_gif
from ..train import Trainer
from . import data
from .config import ARCH_NAMES, LIVE_FIELDS, ImageConfig, from_dict, to_dict, train_config, train_settings

QUALITY_SAMPLES = 256       # fixed latents of the histogram; the grid shows the first 64 (8 per class for cGAN)
GRID_COLUMNS = 8
FD_SAMPLES = 512            # fixed latents of the FD curve (a small sample: cheap enough to measure often)
FD_SECONDS = 10.0           # seconds of training between two FD measurements
QUALITY_SECONDS = 3.0       # ... between two classifications of the fixed samples (histogram, top-1)
CURVE_POINTS = 400          # points per curve sent to the page
TIMELINE_FRAMES = 240       # grids kept for the slider and the GIF; when full, every other one is dropped
GIF_SCALE = 2               # the GIF's pixels per image pixel (nearest neighbour)
GIF_FRAMES = 60             # at most this many grids in a GIF, evenly spaced over the timeline
GIF_FPS = 8
CURVES = ("d_loss", "g_loss", "d_real", "d_fake")


class ImageRun:
    """A live run of ``config`` on ``images`` (default: the dataset from ``data_dir``, see imagelive.data),
    measured with ``classifier`` (default: the bundled one of the dataset)."""

    def __init__(self, config: ImageConfig | dict, data_dir: str | None = None, images: data.Images | None = None,
                 classifier: evaluate.Classifier | None = None):
        self.config = config if isinstance(config, ImageConfig) else from_dict(config)
        c = self.config
        self.images = images if images is not None else data.load(c.dataset, data_dir)
        self.classifier = classifier if classifier is not None else evaluate.load_classifier(c.dataset)
        self.trainer = Trainer(train_config(c, str(data.data_dir(data_dir))), images=(self.images.x, self.images.y))
        self.trainer.command = "the app's live image-GAN tab (settings: training.live)"
        G = self.trainer.G
        self.fixed_z = G.latents(QUALITY_SAMPLES, seed=c.seed + 1)
        self.fd_z = G.latents(FD_SAMPLES, seed=c.seed + 2)
        self.fixed_y = torch.arange(QUALITY_SAMPLES) % G.num_classes if G.num_classes else None
        self.fd_y = torch.arange(FD_SAMPLES) % G.num_classes if G.num_classes else None
        if G.num_classes:   # row k of the grid: the first GRID_COLUMNS samples of class k
            self.grid_index = [k + G.num_classes * j for k in range(G.num_classes) for j in range(GRID_COLUMNS)]
        else:
            self.grid_index = list(range(GRID_COLUMNS * GRID_COLUMNS))
        self.test_mu, self.test_sigma = data.test_statistics(self.images, self.classifier)
        self.curves = CurveLog(CURVES)
        self.fd_curve: list[tuple[int, float, float]] = []      # (step, train seconds, FD)
        self.timeline: list[tuple[int, float, bytes]] = []      # (step, train seconds, grid PNG)
        self.timeline_every, self.snapshots = 1, 0
        self.train_seconds, self.last = 0.0, {k: float("nan") for k in CURVES}
        self.images_seen = 0                                     # real images D has seen (epochs of the data)
        self.quality: dict | None = None

    # -- training ------------------------------------------------------------------------------------------
    @property
    def step_count(self) -> int:
        return self.trainer.step

    def step(self, n: int = 1) -> int:
        """Train exactly ``n`` steps (d_steps D updates and one G update each); returns the step reached."""
        return self.train_for(float("inf"), max_steps=n)

    def train_for(self, seconds: float, max_steps: int | None = None) -> int:
        """Train for at most about ``seconds`` (at least one step; no step that would end past ``seconds`` by the
        last step's time), at most ``max_steps`` steps; returns the step reached."""
        start, done = time.perf_counter(), 0
        while max_steps is None or done < max_steps:
            before = time.perf_counter()
            stats = self.trainer.train_step()
            self.curves.extend([[stats[k] for k in CURVES]], self.trainer.step)
            self.last, done = stats, done + 1
            self.images_seen += self.trainer.cfg.batch * self.trainer.cfg.d_steps
            now = time.perf_counter()
            if now + (now - before) - start >= seconds:       # the next step would end past ``seconds``
                break
        self.train_seconds += time.perf_counter() - start
        return self.trainer.step

    def update(self, **changes) -> ImageConfig:
        """Change live settings (config.LIVE_FIELDS) between two steps; ValueError, nothing changed, otherwise."""
        restart = sorted(set(changes) - set(LIVE_FIELDS))
        if restart:
            raise ValueError(f"{', '.join(restart)} cannot change during a run: it starts a new one.")
        cfg = dataclasses.replace(self.config, **changes)     # checks every value against the table
        self.trainer.update(**train_settings(cfg))
        self.config = cfg
        return cfg

    # -- what the visitor sees -----------------------------------------------------------------------------
    @property
    def sampler(self):
        """The generator the pictures come from: the EMA of G's weights when the run keeps one, else G."""
        return self.trainer.G_ema if self.trainer.G_ema is not None else self.trainer.G

    @torch.no_grad()
    def _generate(self, z: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        g = self.sampler
        was = g.training
        g.eval()
        try:
            return g.generate(z, y).cpu()               # the classifier and the PNGs are on the CPU
        finally:
            g.train(was)

    @torch.no_grad()
    def snapshot(self, record: bool = True) -> dict:
        """What the page shows now (see the module's docstring); ``record`` adds the grid to the timeline. The
        grid is drawn every time; the classifier's view every QUALITY_SECONDS of training, the FD every
        FD_SECONDS (and both at the first snapshot and after ``measure()``)."""
        png = grid_png(self._generate(self.fixed_z[self.grid_index], _take(self.fixed_y, self.grid_index)))
        if self.quality is None or self.train_seconds - self.quality["train_seconds"] >= QUALITY_SECONDS:
            self.quality = self.classified()
        if not self.fd_curve or self.train_seconds - self.fd_curve[-1][1] >= FD_SECONDS:
            self.fd_curve.append((self.trainer.step, round(self.train_seconds, 2), self.fd()))
        if record:
            self._record(png)
        return {"step": self.trainer.step, "train_seconds": self.train_seconds,
                "steps_per_second": self.trainer.step / self.train_seconds if self.train_seconds else 0.0,
                "images_seen": self.images_seen, "epoch": self.images_seen / len(self.images.x),
                **{k: float(self.last[k]) for k in CURVES}, "grid": png, "quality": dict(self.quality),
                "fd": list(self.fd_curve), "timeline_frames": len(self.timeline), "curves": self.curve_points()}

    def measure(self) -> dict:
        """The classifier's view and the FD now, whatever the cadence; returns the quality dict."""
        self.quality = self.classified()
        if not self.fd_curve or self.fd_curve[-1][0] != self.trainer.step:
            self.fd_curve.append((self.trainer.step, round(self.train_seconds, 2), self.fd()))
        return dict(self.quality)

    @torch.no_grad()
    def classified(self) -> dict:
        """The QUALITY_SAMPLES fixed samples as the classifier sees them: the class histogram, how many classes
        appear, the mean top-1 probability, and for the conditional GAN how often the requested class is seen."""
        images = self._generate(self.fixed_z, self.fixed_y)                  # (256, C, S, S) in [-1, 1]
        probs = torch.softmax(self.classifier(evaluate.to_classifier_input(images)), 1)
        top1, predicted = probs.max(1)
        histogram = torch.bincount(predicted, minlength=probs.shape[1])
        return {"step": self.trainer.step, "train_seconds": self.train_seconds,
                "class_names": list(self.class_names), "histogram": histogram.tolist(),
                "classes_covered": int((histogram > 0).sum()), "top1": float(top1.mean()),
                "class_accuracy": (float((predicted == self.fixed_y).double().mean())
                                   if self.fixed_y is not None else None)}

    def curve_points(self, most: int = CURVE_POINTS) -> dict:
        """The loss and mean-D curves, at most ``most`` points evenly spread over the run."""
        n = self.curves.n
        idx = torch.linspace(0, n - 1, min(n, most)).round().long().tolist() if n else []
        x = self.curves.x
        return {"step": [int(x[i]) for i in idx], **{k: [float(self.curves.series(k)[1][i]) for i in idx]
                                                     for k in CURVES}}

    @property
    def class_names(self) -> tuple[str, ...]:
        return tuple(self.classifier.config.class_names) or tuple(str(i) for i in range(10))

    @torch.no_grad()
    def fd(self) -> float:
        """FD between the FD_SAMPLES fixed samples and the test split, in the classifier's feature space."""
        features, _ = evaluate.classify(self.classifier, self._generate(self.fd_z, self.fd_y))
        mu, sigma = evaluate.feature_statistics(features)
        return round(evaluate.frechet_distance(mu, sigma, self.test_mu, self.test_sigma), 3)

    def _record(self, png: bytes) -> None:
        self.snapshots += 1
        if self.snapshots % self.timeline_every:
            return
        self.timeline.append((self.trainer.step, round(self.train_seconds, 2), png))
        if len(self.timeline) >= TIMELINE_FRAMES:
            self.timeline, self.timeline_every = self.timeline[::2], self.timeline_every * 2

    def timeline_frame(self, i: int) -> tuple[int, float, bytes]:
        """(step, train seconds, grid PNG) of the i-th recorded grid; IndexError when there is none."""
        if not self.timeline:
            raise IndexError("no grids recorded yet: start training first.")
        return self.timeline[max(0, min(int(i), len(self.timeline) - 1))]

    # -- export --------------------------------------------------------------------------------------------
    def settings(self) -> dict:
        """The run's settings and progress, as its exports carry them."""
        return {"kind": "ganlab live image GAN", **to_dict(self.config), "step": self.trainer.step,
                "train_seconds": round(self.train_seconds, 1)}

    def save_gif(self, path: str, scale: int = GIF_SCALE, max_frames: int = GIF_FRAMES) -> str:
        """The timeline as a GIF (at most ``max_frames`` grids, ``scale`` × larger, each captioned with its step),
        with the run's settings in its comment (ganlab.export.read_settings reads them). ValueError when nothing
        is recorded yet."""
        if not self.timeline:
            raise ValueError("nothing recorded yet: start training first.")
        label = f"{ARCH_NAMES[self.config.arch]} · {self.config.dataset}"
        frames = [captioned(png, f"{label} · step {step:,} · {seconds:.0f} s", scale)
                  for step, seconds, png in self.timeline]
        return str(save_gif(frames, path, self.settings(), fps=GIF_FPS, width=frames[0].width, max_frames=max_frames))

    def save_checkpoint(self, folder: str) -> str:
        """The generator reached (Trainer.final_G) as an ordinary ganlab checkpoint folder with its card;
        ``ganlab.load(folder)`` works on it."""
        from ..card import write_card

        self.trainer.elapsed = self.train_seconds
        out = self.trainer.save_generator(folder, live=self.settings())
        write_card(out)
        return str(out)


def _take(labels: torch.Tensor | None, index: list[int]) -> torch.Tensor | None:
    return None if labels is None else labels[index]


def grid_png(images: torch.Tensor, columns: int = GRID_COLUMNS) -> bytes:
    """Images (N, C, S, S) in [-1, 1] as one PNG grid, ``columns`` wide, 2 px grey gaps."""
    from torchvision.utils import make_grid   # here: its import costs the app's start time

    grid = make_grid(images, nrow=columns, padding=2, pad_value=0.0)          # (C', H, W), gaps mid-grey
    pixels = to_uint8(grid[None])[0]                                          # (H, W, 3)
    buffer = io.BytesIO()
    Image.fromarray(pixels[..., 0] if images.shape[1] == 1 else pixels).save(buffer, "PNG", compress_level=3)
    return buffer.getvalue()


def captioned(png: bytes, text: str, scale: int = GIF_SCALE) -> Image.Image:
    """A grid PNG scaled ``scale`` × (nearest neighbour) above a caption line, as an RGB image."""
    grid = Image.open(io.BytesIO(png)).convert("RGB")
    grid = grid.resize((grid.width * scale, grid.height * scale), Image.NEAREST)
    frame = Image.new("RGB", (grid.width, grid.height + 16), (255, 255, 255))
    frame.paste(grid, (0, 0))
    ImageDraw.Draw(frame).text((4, grid.height + 2), text, fill=(40, 40, 40))
    return frame
