"""Train a ganlab generator: the alternating GAN loop, resumable, deterministic, data-parallel under torchrun.

Each step: ``d_steps`` discriminator updates on a real batch and a detached fake batch, then one generator
update through the frozen discriminator; then the EMA of G. The lecture's tricks are options of this one loop:
loss variants, D steps per G step, one-sided label smoothing, top-k generator updates, R1 / gradient penalty,
EMA, with the names the toy engine uses too (loss, label_smoothing, top_k, ema_decay, gp_weight, batch). For a
conditional model the D step's fakes are drawn for the real batch's labels, so that real[i] and fake[i] share
a label: WGAN-GP's interpolate between them is then an image of that class, scored by D for that class. The
G step draws fresh random labels. The reported d_real / d_fake are D's mean output as the loss reads it: a
probability for the BCE losses, the raw score for LSGAN, hinge and WGAN-GP. Every few minutes (and on Ctrl-C /
SIGTERM) the full train state goes to ``OUT/train_state/`` as safetensors + JSON, and the EMA generator to
``OUT/`` as a loadable checkpoint.
"""
from __future__ import annotations

import copy
import csv
import dataclasses
import json
import os
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.distributed as dist
from safetensors.torch import load_file, save_file
from tqdm import tqdm

from . import checkpoint, data, device, losses
from .models import CONFIGS, FAMILIES


@dataclass
class TrainConfig:
    family: str                               # a key of ganlab.models.FAMILIES (mlp | dcgan | cgan | stylegan2)
    dataset: str = "mnist"                    # mnist | fashion-mnist
    out: str = "runs/model"                   # run folder = checkpoint folder
    data_dir: str = "data"                    # torchvision-layout data folder (downloaded there if missing)
    steps: int = 5000                         # generator updates (``epochs`` overrides when set)
    epochs: float = 0.0                       # passes over the training set, counted in D batches
    batch: int = 64                           # batch size (real images per D step; as the toy's ``batch``)
    lr_g: float = 2e-4
    lr_d: float = 2e-4
    betas: tuple = (0.5, 0.999)               # Adam betas; the lecture: β1 0.5, else D's loss drops to zero
    loss: str = "non-saturating"              # non-saturating | minimax | lsgan | hinge | wgan-gp (losses.LOSSES)
    d_steps: int = 1                          # D updates per G update
    label_smoothing: float = 0.0              # one-sided: D's real target is 1 − this (0 = off; Salimans: 0.1)
    ema_decay: float = 0.0                    # EMA decay of G's weights (0 = off; 0.999 typical)
    r1: float = 0.0                           # R1 γ (0 = off), applied lazily every ``r1_every`` steps
    r1_every: int = 16
    gp_weight: float = 10.0                   # λ of the WGAN-GP gradient penalty (loss wgan-gp only)
    top_k: float = 1.0                        # top-k G updates: final fraction of fakes kept (1 = all = off;
                                              #   Sinha et al.: 0.5), annealed from 1 by γ^epoch
    mixing: float = 0.9                       # style-mixing regularisation probability (style-based families)
    mode_seeking: float = 0.0                 # λ of the mode-seeking term (Mao et al. 2019, MSGAN; 0 = off)
    seed: int = 0
    model: dict = field(default_factory=dict)  # overrides of the family's config dataclass
    sample_every: int = 500                   # sample grid of fixed latents every N steps
    save_minutes: float = 3.0                 # train-state save interval
    limit: int = 0                            # use only the first N training images (tests, quick tries)
    threads: int = 0                          # torch CPU threads (0 = torch's default)
    device: str = ""                          # auto | cpu | cuda | mps ("" = $GANLAB_DEVICE or auto; ganlab.device)


LIVE_SETTINGS = ("lr_g", "lr_d", "betas", "batch", "loss", "d_steps", "label_smoothing", "gp_weight", "top_k",
                 "mode_seeking")                # what Trainer.update may change between two steps


def check_settings(cfg: TrainConfig) -> None:
    """ValueError naming the first setting of ``cfg`` that the loop cannot use."""
    if cfg.loss not in losses.LOSSES:
        raise ValueError(f"unknown loss {cfg.loss!r}: use one of {', '.join(losses.LOSSES)}.")
    if not 0 <= cfg.label_smoothing <= 0.5:
        raise ValueError(f"label_smoothing is the amount taken off D's real target, 0 (off) to 0.5; "
                         f"got {cfg.label_smoothing}.")
    if not 0 < cfg.top_k <= 1:
        raise ValueError(f"top_k is the fraction of fakes G learns from, in (0, 1] (1 = all = off); "
                         f"got {cfg.top_k}.")
    if not 0 <= cfg.ema_decay < 1:
        raise ValueError(f"ema_decay must be in [0, 1) (0 = off), got {cfg.ema_decay}.")


class Trainer:
    """The loop, one step at a time: ``train_step()`` (or ``fit()`` for the CLI's whole run); ``update()`` changes
    training settings between two steps; ``final_G`` / ``save_generator()`` give the generator reached so far.
    ``images``: the training tensors (x, y) as data.load_tensors returns them, instead of loading them from
    ``cfg.data_dir`` (a live session keeps them once per process)."""

    def __init__(self, cfg: TrainConfig, images: tuple | None = None):
        if cfg.family not in FAMILIES:
            raise ValueError(f"unknown family {cfg.family!r}: use one of {', '.join(FAMILIES)}.")
        if FAMILIES[cfg.family].Discriminator is None:
            raise ValueError(f"{cfg.family} models are imported from upstream checkpoints; ganlab does not train them.")
        check_settings(cfg)
        self.cfg = cfg
        if cfg.threads:
            torch.set_num_threads(cfg.threads)
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        self.device = device.resolve(cfg.device or None)
        if self.device.type == "cuda" and self.world > 1:     # torchrun: one GPU per process
            self.device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
            torch.cuda.set_device(self.device)
        if self.world > 1 and not dist.is_initialized():
            dist.init_process_group(device.backend(self.device))
        self.out = Path(cfg.out)
        family = FAMILIES[cfg.family]
        # the dataset's class names: the labels of a conditional model, kept for evaluation and display otherwise
        model_cfg = {"class_names": data.class_names(cfg.dataset), **cfg.model}
        torch.manual_seed(cfg.seed)  # initial weights; training randomness below uses its own generators
        self.G = family.Generator(CONFIGS[cfg.family](**{k: tuple(v) if isinstance(v, list) else v
                                                          for k, v in model_cfg.items()}))
        self.D = family.Discriminator(self.G.config)
        self.G.to(self.device), self.D.to(self.device)
        unknown = sorted(set(self.G.training_options) - {f.name for f in dataclasses.fields(cfg)})
        if unknown:
            raise ValueError(f"{self.G.display_name} asks for training options {unknown} that TrainConfig lacks.")
        self.G_ema = copy.deepcopy(self.G).eval() if cfg.ema_decay else None
        (lr_g, betas_g), (lr_d, betas_d) = self.adam_settings()
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=lr_g, betas=betas_g)
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=lr_d, betas=betas_d)
        # the data stay on the CPU; next_real moves each batch to the device
        self.x, self.y = images if images is not None else \
            data.load_tensors(cfg.dataset, cfg.data_dir, True, self.G.image_size, cfg.limit or None)
        self.schedule = data.BatchSchedule(len(self.x), cfg.batch, cfg.seed, self.rank, self.world)
        self.total_steps = (int(cfg.epochs * self.schedule.per_epoch / cfg.d_steps) if cfg.epochs else cfg.steps)
        self.gen = torch.Generator().manual_seed(cfg.seed * 7919 + self.rank)   # z, fake labels, GP mixing
        self.step, self.batches, self.elapsed = 0, 0, 0.0
        self.fixed_z = self.G.latents(8 * 8, seed=cfg.seed)              # the seeds seed … seed + 63
        self.fixed_y = torch.arange(len(self.fixed_z)) % self.G.num_classes if self.G.num_classes else None

    def adam_settings(self) -> tuple[tuple[float, tuple], tuple[float, tuple]]:
        """(lr, betas) of G's and D's Adam; D's corrected for lazy R1 (its steps come in r1_every + 1 parts)."""
        c = self.cfg
        r1_scale = c.r1_every / (c.r1_every + 1) if c.r1 else 1.0
        return (c.lr_g, tuple(c.betas)), (c.lr_d * r1_scale, tuple(b ** r1_scale for b in c.betas))

    def update(self, **changes) -> None:
        """Change training settings (LIVE_SETTINGS) between two steps, e.g. ``update(lr_g=1e-4, batch=64)``;
        ValueError, nothing changed, for another setting or a value the loop cannot use. The optimizers keep
        their moments; a new batch size continues the data schedule's current position."""
        other = sorted(set(changes) - set(LIVE_SETTINGS))
        if other:
            raise ValueError(f"{', '.join(other)} cannot change during a run (live: {', '.join(LIVE_SETTINGS)}).")
        cfg = dataclasses.replace(self.cfg, **changes)
        check_settings(cfg)
        schedule = self.schedule
        if cfg.batch != self.cfg.batch:
            schedule = data.BatchSchedule(len(self.x), cfg.batch, cfg.seed, self.rank, self.world)
        self.cfg, self.schedule = cfg, schedule
        for opt, (lr, betas) in zip((self.opt_g, self.opt_d), self.adam_settings()):
            for group in opt.param_groups:
                group["lr"], group["betas"] = lr, betas

    # -- one step ---------------------------------------------------------------------------------------
    def next_real(self):
        idx = self.schedule.indices(self.batches)
        self.batches += 1
        return self.x[idx].to(self.device), (self.y[idx].to(self.device) if self.conditional else None)

    @property
    def conditional(self) -> bool:
        return self.G.num_classes > 0

    def fake_batch(self, n, update_stats=False, paired=False, labels=None):
        """G's output for n fresh latents, for ``labels`` or random labels; ``paired``: the second half repeats
        the first half's labels, for the mode-seeking term. Returns (images, labels, z)."""
        z = torch.randn(n, self.G.z_dim, generator=self.gen) if self.G.latent_dist == "normal" else \
            torch.rand(n, self.G.z_dim, generator=self.gen) * 2 - 1
        y = labels
        if y is None and self.conditional:
            y = torch.randint(self.G.num_classes, (n,), generator=self.gen)
        if paired and y is not None:
            y[n // 2: 2 * (n // 2)] = y[: n // 2]
        z, y = z.to(self.device), (None if y is None else y.to(self.device))   # drawn on the CPU generator
        options = {name: getattr(self.cfg, name) for name in self.G.training_options}
        return self.G.forward_train(z, y, update_stats=update_stats, **options), y, z

    def train_step(self) -> dict:
        c = self.cfg
        self.G.train(), self.D.train()
        for k in range(c.d_steps):
            real, y_real = self.next_real()
            with torch.no_grad():   # a conditional D sees the fakes with the real batch's labels (see fit's doc)
                fake, y_fake, _ = self.fake_batch(real.shape[0], labels=y_real)
            d_real, d_fake = self.D(real, y_real), self.D(fake, y_fake)
            loss_d = losses.d_loss(c.loss, d_real, d_fake, c.label_smoothing)
            if c.loss == "wgan-gp":   # interpolates of real[i] and fake[i], which share the label y_real[i]
                loss_d = loss_d + c.gp_weight * losses.gradient_penalty(self.D, real, fake, y_real, self.gen)
            if c.r1 and k == 0 and self.step % c.r1_every == 0:
                loss_d = loss_d + c.r1 / 2 * c.r1_every * losses.r1_penalty(self.D, real, y_real)
            self.opt_d.zero_grad(set_to_none=True)
            loss_d.backward()
            self.sync_grads(self.D)
            self.opt_d.step()
        fake, y_fake, z = self.fake_batch(real.shape[0], update_stats=True, paired=c.mode_seeking > 0)
        for p in self.D.parameters():
            p.requires_grad_(False)
        d_out = self.D(fake, y_fake)
        top_k = None
        if c.top_k < 1:
            top_k = losses.top_k_count(d_out.shape[0], self.batches / self.schedule.per_epoch, nu=c.top_k)
        loss_g = losses.g_loss(c.loss, d_out, top_k)
        if c.mode_seeking:
            loss_g = loss_g + c.mode_seeking * losses.mode_seeking(fake, z)
        self.opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        for p in self.D.parameters():
            p.requires_grad_(True)
        self.sync_grads(self.G)
        self.opt_g.step()
        if self.G_ema is not None:
            beta = min(c.ema_decay, (1 + self.step) / (10 + self.step))  # warm-up: early EMA forgets the random init
            with torch.no_grad():
                for pe, p in zip(self.G_ema.parameters(), self.G.parameters()):
                    pe.lerp_(p, 1 - beta)
                for be, b in zip(self.G_ema.buffers(), self.G.buffers()):
                    be.copy_(b)
        self.step += 1
        return {"d_loss": loss_d.item(), "g_loss": loss_g.item(),      # mean D as the loss reads it:
                "d_real": losses.mean_score(c.loss, d_real),           # a probability for the BCE losses,
                "d_fake": losses.mean_score(c.loss, d_fake)}           # the raw critic value otherwise

    def sync_grads(self, module):
        """Average gradients over processes (data parallelism, as DDP does; also works with R1's double
        backward, which DDP does not support)."""
        if self.world > 1:
            for p in module.parameters():
                if p.grad is not None:
                    dist.all_reduce(p.grad)
                    p.grad /= self.world

    # -- the loop ---------------------------------------------------------------------------------------
    def fit(self, resume: bool = False, max_steps: int | None = None) -> dict:
        """Train to ``total_steps`` (or ``max_steps`` more steps); returns the last logged losses."""
        if resume:
            self.load_state()
        target = self.total_steps if max_steps is None else min(self.total_steps, self.step + max_steps)
        main = self.rank == 0
        if main:
            self.out.mkdir(parents=True, exist_ok=True)
            (self.out / "samples").mkdir(exist_ok=True)
        log_path = self.out / "train_log.csv"
        stop = {"flag": False}
        old = signal.signal(signal.SIGTERM, lambda *a: stop.update(flag=True)) if main and _main_thread() else None
        last_save, t0, stats = time.time(), time.time() - self.elapsed, {}
        bar = tqdm(total=target, initial=self.step, disable=not main, mininterval=1 if os.isatty(2) else 30,
                   desc=f"{self.cfg.family} {self.cfg.dataset}")
        try:
            with open(log_path, "a", newline="") if main else open(os.devnull, "w") as f:
                log = csv.writer(f)
                if main and f.tell() == 0:
                    log.writerow(["step", "seconds", "d_loss", "g_loss", "d_real", "d_fake"])
                while self.step < target and not stop["flag"]:
                    stats = self.train_step()
                    self.elapsed = time.time() - t0
                    if main and (self.step % 10 == 0 or self.step == target):
                        log.writerow([self.step, round(self.elapsed, 2)] + [round(v, 5) for v in stats.values()])
                        bar.set_postfix({k: f"{v:.3f}" for k, v in stats.items()}, refresh=False)
                    bar.update(1)
                    if main and self.step % self.cfg.sample_every == 0:
                        self.save_samples(self.out / "samples" / f"step{self.step:07d}.png")
                    if time.time() - last_save > self.cfg.save_minutes * 60:
                        f.flush()
                        self.save_state()
                        last_save = time.time()
        except KeyboardInterrupt:
            print("\ninterrupted: saving the train state so that --resume continues from here")
        finally:
            bar.close()
            self.save_state()
            if old is not None:
                signal.signal(signal.SIGTERM, old)
        if main:
            self.save_samples(self.out / "samples.png")
            plot_losses(log_path, self.out / "losses.png")
        return stats

    def close(self) -> None:
        """Leave the process group cleanly under torchrun: every rank waits for the others (rank 0's last save),
        then gloo is shut down. A rank that just exited with the group alive could abort in gloo's threads
        ("terminate called without an active exception")."""
        if self.world > 1 and dist.is_initialized():
            dist.barrier()
            dist.destroy_process_group()

    # -- outputs ----------------------------------------------------------------------------------------
    @property
    def final_G(self):
        """The generator to ship: the EMA copy when training with EMA, with BatchNorm statistics recomputed for
        the averaged weights (BigGAN's "standing statistics"); G's own running stats belong to G's weights."""
        if self.G_ema is None:
            return self.G
        if not any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in self.G_ema.modules()):
            return self.G_ema
        g = copy.deepcopy(self.G_ema)
        gen = torch.Generator().manual_seed(self.cfg.seed + self.step)
        for m in g.modules():
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                m.reset_running_stats()
                m.momentum = None  # cumulative average over the passes below
        g.train()
        with torch.no_grad():
            for _ in range(8):
                z = torch.randn(256, g.z_dim, generator=gen)
                y = torch.randint(g.num_classes, (256,), generator=gen) if g.num_classes else None
                g(z.to(self.device), None if y is None else y.to(self.device))
        for m in g.modules():
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                m.momentum = 0.1
        return g.eval()

    @torch.no_grad()
    def save_samples(self, path: Path, g=None):
        g = g or self.final_G
        was = g.training
        g.eval()
        imgs = g.generate(self.fixed_z, self.fixed_y)
        g.train(was)
        from torchvision.utils import make_grid, save_image   # here: its import costs the app's start time

        save_image(make_grid(imgs, nrow=8, normalize=True, value_range=(-1, 1), padding=1), path)

    def summary(self) -> dict:
        c = dataclasses.asdict(self.cfg)
        c = {k: v for k, v in c.items() if k not in ("out", "data_dir", "threads", "sample_every", "save_minutes",
                                                     "device")}
        return {"command": getattr(self, "command", ""), "steps": self.step, "images_seen": self.step * self.cfg.batch * self.cfg.d_steps,
                "wall_seconds": round(self.elapsed, 1), "processes": self.world, "ema": bool(self.cfg.ema_decay),
                "device": self.device.type, "torch": torch.__version__, "settings": c}

    def save_state(self):
        """Everything needed to continue exactly: G, D, EMA, both optimizers, step counters, RNG states."""
        if self.rank != 0:
            return
        d = self.out / "train_state"
        d.mkdir(parents=True, exist_ok=True)
        tensors = {f"G.{k}": v for k, v in self.G.state_dict().items()}
        tensors.update({f"D.{k}": v for k, v in self.D.state_dict().items()})
        if self.G_ema is not None:
            tensors.update({f"E.{k}": v for k, v in self.G_ema.state_dict().items()})
        meta = {"step": self.step, "batches": self.batches, "elapsed": self.elapsed,
                "config": dataclasses.asdict(self.cfg)}
        for name, opt in (("opt_g", self.opt_g), ("opt_d", self.opt_d)):
            sd = opt.state_dict()
            meta[name] = {"param_groups": sd["param_groups"]}
            for pid, st in sd["state"].items():
                for k, v in st.items():
                    tensors[f"{name}.{pid}.{k}"] = v.cpu() if torch.is_tensor(v) else torch.tensor(v)
        tensors["rng.torch"] = torch.get_rng_state()
        tensors["rng.gen"] = self.gen.get_state()
        tmp = d / "state.safetensors.tmp"
        save_file({k: v.detach().cpu().contiguous().clone() for k, v in tensors.items()}, str(tmp))
        (d / "state.json.tmp").write_text(json.dumps(meta, indent=1))
        os.replace(tmp, d / "state.safetensors")
        os.replace(d / "state.json.tmp", d / "state.json")
        self.save_generator(self.out)

    def save_generator(self, folder, **extra) -> Path:
        """The generator to ship (``final_G``) as a ganlab checkpoint folder, with this run's summary (and
        ``extra`` entries in its training block)."""
        return checkpoint.save(self.final_G, folder, dataset=self.cfg.dataset, training={**self.summary(), **extra})

    def load_state(self):
        d = self.out / "train_state"
        if not (d / "state.json").is_file():
            raise FileNotFoundError(f"{d}: no train state to resume from.")
        meta = json.loads((d / "state.json").read_text())
        t = load_file(str(d / "state.safetensors"))          # on the CPU: load_state_dict copies to the device
        self.G.load_state_dict({k[2:]: v for k, v in t.items() if k.startswith("G.")}, strict=True)
        self.D.load_state_dict({k[2:]: v for k, v in t.items() if k.startswith("D.")}, strict=True)
        if self.G_ema is not None:
            self.G_ema.load_state_dict({k[2:]: v for k, v in t.items() if k.startswith("E.")}, strict=True)
        for name, opt in (("opt_g", self.opt_g), ("opt_d", self.opt_d)):
            state: dict = {}
            for k, v in t.items():
                if k.startswith(name + "."):
                    _, pid, key = k.split(".", 2)
                    state.setdefault(int(pid), {})[key] = v
            opt.load_state_dict({"state": state, "param_groups": meta[name]["param_groups"]})
        torch.set_rng_state(t["rng.torch"])
        self.gen.set_state(t["rng.gen"])
        self.step, self.batches, self.elapsed = meta["step"], meta["batches"], meta["elapsed"]


def _main_thread() -> bool:
    import threading
    return threading.current_thread() is threading.main_thread()


def plot_losses(csv_path: Path, png_path: Path) -> None:
    """D and G losses against steps, from the run's CSV log."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = list(csv.DictReader(open(csv_path)))
    if not rows:
        return
    steps = [int(r["step"]) for r in rows]
    fig, ax = plt.subplots(figsize=(7, 3.2), dpi=100)
    for key, old in (("d_loss", "loss_d"), ("g_loss", "loss_g")):       # logs written before the rename: loss_d
        key = key if key in rows[0] else old
        ax.plot(steps, [float(r[key]) for r in rows], label=key[0].upper() + " loss", lw=0.8)
    ax.set_xlabel("step"), ax.legend(), ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(png_path)
    plt.close(fig)
