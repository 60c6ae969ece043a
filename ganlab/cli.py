"""``python -m ganlab``: generate, interpolate, train, evaluate, push.

    python -m ganlab generate --model dcgan-mnist --seeds 0-7,42 --out out/ --grid
    python -m ganlab interpolate --model stylegan2-fashion --seeds 1,5,9 --frames 48 --slerp --loop --out walk.gif
    python -m ganlab train dcgan --dataset mnist --out checkpoints/dcgan-mnist --data-dir data --steps 6000
    python -m ganlab evaluate dcgan-mnist
    python -m ganlab import ffhq.pkl --out checkpoints/stylegan2-ffhq
"""
from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

MAX_FRAMES = 240


def parse_seeds(text: str) -> list[int]:
    """'0-7,42' → [0, 1, ..., 7, 42] (StyleGAN's --seeds syntax)."""
    seeds: list[int] = []
    try:
        for part in str(text).replace(" ", "").split(","):
            if not part:
                continue
            if "-" in part[1:]:
                a, b = part.split("-", 1)
                lo, hi = int(a), int(b)
                if hi < lo or hi - lo > 10000:
                    raise ValueError
                seeds.extend(range(lo, hi + 1))
            else:
                seeds.append(int(part))
    except ValueError:
        raise argparse.ArgumentTypeError(f"bad seed list {text!r}: use numbers and ranges like 0-7,42.") from None
    if not seeds:
        raise argparse.ArgumentTypeError("give at least one seed, e.g. 0-7,42.")
    return seeds


def build_parser() -> argparse.ArgumentParser:
    from .losses import LOSSES
    from .data import DATASETS

    fmt = argparse.ArgumentDefaultsHelpFormatter
    p = argparse.ArgumentParser(prog="python -m ganlab", description="ganlab: learn and show GANs.", formatter_class=fmt)
    sub = p.add_subparsers(dest="command", required=True)

    g = sub.add_parser("generate", help="write one PNG per seed (settings in PNG text metadata)", formatter_class=fmt)
    g.add_argument("--model", required=True, help="bundled name, checkpoint folder or Hub repo id")
    g.add_argument("--seeds", type=parse_seeds, default=parse_seeds("0-7"), help="seeds, e.g. 0-7,42")
    g.add_argument("--out", type=Path, default=Path("out"), help="output folder")
    g.add_argument("--class", dest="label", type=parse_class, default=None,
                   help="class index, or 'all': every seed in every class, a row per seed (conditional models)")
    g.add_argument("--truncation", type=float, default=1.0, help="truncation ψ (1 = off, 0 = average)")
    g.add_argument("--grid", action="store_true", help="also write grid.png with every seed")
    g.add_argument("--scale", type=int, default=1, help="nearest-neighbour upscaling factor for the PNGs")

    i = sub.add_parser("interpolate", help="a latent walk through keyframe seeds as a GIF", formatter_class=fmt)
    i.add_argument("--model", required=True)
    i.add_argument("--seeds", type=parse_seeds, required=True, help="keyframe seeds, e.g. 1,5,9")
    i.add_argument("--frames", type=int, default=48, help=f"number of frames (≤ {MAX_FRAMES})")
    i.add_argument("--fps", type=float, default=24.0)
    i.add_argument("--slerp", action="store_true", help="spherical instead of linear interpolation")
    i.add_argument("--loop", action="store_true", help="go back to the first keyframe for a seamless loop")
    i.add_argument("--class", dest="label", type=int, default=None, help="class index (conditional models)")
    i.add_argument("--truncation", type=float, default=1.0)
    i.add_argument("--size", type=int, default=256, help="GIF side in pixels")
    i.add_argument("--out", type=Path, default=Path("walk.gif"))

    t = sub.add_parser("train", help="train a generator (or the evaluation classifier)", formatter_class=fmt)
    t.add_argument("family", choices=["mlp", "dcgan", "cgan", "stylegan2", "classifier"])
    t.add_argument("--dataset", choices=list(DATASETS), default="mnist")
    t.add_argument("--out", type=Path, default=None, help="run / checkpoint folder (default checkpoints/FAMILY-DATASET)")
    t.add_argument("--data-dir", default="data", help="torchvision data folder; downloads there if missing")
    t.add_argument("--steps", type=int, default=5000, help="generator updates")
    t.add_argument("--epochs", type=float, default=0.0, help="passes over the data (overrides --steps)")
    t.add_argument("--batch", type=int, default=64)
    t.add_argument("--lr", type=float, nargs="+", default=[2e-4], metavar="LR", help="one lr for both, or G D")
    t.add_argument("--betas", type=float, nargs=2, default=[0.5, 0.999])
    t.add_argument("--loss", choices=LOSSES, default="bce")
    t.add_argument("--d-steps", type=int, default=1, help="D updates per G update")
    t.add_argument("--label-smoothing", type=float, default=1.0, help="real target for D (0.9 = one-sided smoothing)")
    t.add_argument("--ema", type=float, default=0.0, help="EMA decay of G (0 = off)")
    t.add_argument("--r1", type=float, default=0.0, help="R1 γ (0 = off)")
    t.add_argument("--top-k", type=float, default=0.0, help="top-k G updates: final fraction kept (0 = off)")
    t.add_argument("--mixing", type=float, default=0.9, help="StyleGAN2 style-mixing probability")
    t.add_argument("--mode-seeking", type=float, default=0.0, help="λ of MSGAN's mode-seeking term (0 = off)")
    t.add_argument("--model-config", type=json.loads, default={}, help="JSON overrides of the family's config")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--sample-every", type=int, default=500)
    t.add_argument("--save-minutes", type=float, default=3.0, help="train-state save interval")
    t.add_argument("--limit", type=int, default=0, help="use only the first N training images")
    t.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = default)")
    t.add_argument("--resume", action="store_true", help="continue from OUT/train_state")

    e = sub.add_parser("evaluate", help="FD, precision/recall, class histogram → metrics.json", formatter_class=fmt)
    e.add_argument("model")
    e.add_argument("--data-dir", default="data")
    e.add_argument("--samples", type=int, default=10000)
    e.add_argument("--out", type=Path, default=None, help="metrics file (default: the checkpoint's metrics.json)")

    im = sub.add_parser("import", help="convert an upstream checkpoint (NVIDIA pickle, zoo .pth, ...) into a "
                        "ganlab checkpoint folder", formatter_class=fmt)
    im.add_argument("source", help="a local checkpoint file")
    im.add_argument("--out", type=Path, required=True, help="the checkpoint folder to write")
    im.add_argument("--format", default="auto", choices=["auto", "stylegan2-ada", "stylegan1", "progan", "dcgan-zoo",
                                                         "dcgan-tutorial"], help="upstream format (auto: detect)")
    im.add_argument("--avg", action="store_true", help="GAN zoo (progan, dcgan-zoo): import the checkpoint's averaged "
                    "generator avgG instead of netG (netG is what torch.hub's hub branch serves)")

    h = sub.add_parser("push", help="upload a checkpoint folder to the Hugging Face Hub", formatter_class=fmt)
    h.add_argument("model")
    h.add_argument("--repo-id", required=True)
    h.add_argument("--private", action="store_true")
    return p


def parse_class(text: str) -> int | str:
    """--class: a class index, or "all"."""
    if text.strip().lower() == "all":
        return "all"
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a class index or 'all', got {text!r}") from None


def cmd_generate(a) -> None:
    import imageio.v3 as iio  # noqa: F401  (PNG writing goes through export)
    from . import export, latent
    from .checkpoint import load

    m = load(a.model)
    if a.label == "all" and not m.num_classes:
        raise ValueError("--class all needs a conditional model; this one is unconditional.")
    classes = list(range(m.num_classes)) if a.label == "all" else [a.label]
    seeds = [s for s in a.seeds for _ in classes]                           # seed-major: a row per seed
    labels = None if a.label is None else classes * len(a.seeds)
    z = latent.seed_latents(seeds, m.z_dim, m.latent_dist)
    images = export.generate_images(m, z, labels, a.truncation)
    a.out.mkdir(parents=True, exist_ok=True)
    for seed, label, img in zip(seeds, labels or [None] * len(seeds), images):
        meta = {"model": a.model, "seed": seed, "class": label, "truncation": a.truncation}
        name = f"seed{seed:04d}" + ("" if a.label != "all" else f"-class{label}")
        export.save_png(a.out / f"{name}.png", export.upscale(img, a.scale), meta)
    if a.grid:
        export.save_png(a.out / "grid.png", export.grid(images, nrow=len(classes) if a.label == "all" else None,
                                                        scale=a.scale),
                        {"model": a.model, "seeds": a.seeds, "class": a.label, "truncation": a.truncation})
    print(f"wrote {len(images)} images to {a.out}")


def cmd_interpolate(a) -> None:
    from . import export
    from .checkpoint import load

    if not 2 <= a.frames <= MAX_FRAMES:
        raise ValueError(f"--frames must be between 2 and {MAX_FRAMES}.")
    m = load(a.model)
    frames = export.interpolation_frames(m, a.seeds, a.frames, "slerp" if a.slerp else "lerp", a.loop, a.label,
                                         a.truncation, size=a.size)
    meta = {"model": a.model, "seeds": a.seeds, "frames": a.frames, "fps": a.fps, "method": "slerp" if a.slerp else "lerp",
            "loop": a.loop, "class": a.label, "truncation": a.truncation}
    export.save_gif(a.out, frames, a.fps, meta)
    print(f"wrote {a.out} ({len(frames)} frames)")


def cmd_train(a, argv) -> None:
    out = a.out or Path("checkpoints") / f"{a.family}-{a.dataset}"
    if a.family == "classifier":
        from .evaluate import train_classifier
        train_classifier(a.dataset, a.data_dir, out=a.out, seed=a.seed, epochs=a.epochs or 3, threads=a.threads,
                         command="python -m ganlab " + shlex.join(argv))
        return
    from .train import TrainConfig, Trainer

    lr_g, lr_d = (a.lr[0], a.lr[0]) if len(a.lr) == 1 else a.lr[:2]
    cfg = TrainConfig(family=a.family, dataset=a.dataset, out=str(out), data_dir=a.data_dir, steps=a.steps,
                      epochs=a.epochs, batch=a.batch, lr_g=lr_g, lr_d=lr_d, betas=tuple(a.betas), loss=a.loss,
                      d_steps=a.d_steps, label_smoothing=a.label_smoothing, ema=a.ema, r1=a.r1, top_k=a.top_k,
                      mixing=a.mixing, mode_seeking=a.mode_seeking, seed=a.seed, model=a.model_config, sample_every=a.sample_every,
                      save_minutes=a.save_minutes, limit=a.limit, threads=a.threads)
    trainer = Trainer(cfg)
    trainer.command = "python -m ganlab " + shlex.join(x for x in argv if x != "--resume")  # the reproducing command
    trainer.fit(resume=a.resume)
    print(f"saved {out} at step {trainer.step}")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    a = build_parser().parse_args(argv)
    try:
        if a.command == "generate":
            cmd_generate(a)
        elif a.command == "interpolate":
            cmd_interpolate(a)
        elif a.command == "train":
            cmd_train(a, argv)
        elif a.command == "evaluate":
            from .evaluate import evaluate_model
            evaluate_model(a.model, a.data_dir, n_samples=a.samples, out=a.out)
        elif a.command == "import":
            from .importers import import_model
            options = {"avg": True} if a.avg else {}
            print(f"wrote {import_model(a.source, a.out, format=a.format, **options)}")
        elif a.command == "push":
            from .checkpoint import push_to_hub
            print(push_to_hub(a.model, a.repo_id, private=a.private))
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0
