"""``python -m ganlab``: generate, interpolate, train, evaluate, import, catalog, push, deploy.

    python -m ganlab generate --model dcgan-mnist --seeds 0-7,42 --out out/ --grid
    python -m ganlab interpolate --model stylegan2-fashion --seeds 1,5,9 --frames 48 --slerp --loop --out walk.gif
    python -m ganlab train dcgan --dataset mnist --out checkpoints/dcgan-mnist --data-dir data --steps 6000
    python -m ganlab evaluate dcgan-mnist
    python -m ganlab import ffhq.pkl --out checkpoints/stylegan2-ffhq
    python -m ganlab import stylegan2-ada-ffhq            # a catalog name: downloaded, verified, converted
    python -m ganlab deploy alice/ganlab --dry-run
"""
from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path


def parse_seeds(text: str) -> list[int]:
    """'0-7,42' → [0, 1, ..., 7, 42] (StyleGAN's --seeds syntax); the rule is ganlab.views.parse_list's."""
    from . import latent, views
    try:
        return views.parse_list(text, "seed", 0, latent.MAX_SEED, views.MAX_SEEDS)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def build_parser() -> argparse.ArgumentParser:
    from . import importers
    from .device import add_argument as add_device
    from .data import DATASETS
    from .losses import LOSSES
    from .models import FAMILIES

    fmt = argparse.ArgumentDefaultsHelpFormatter
    p = argparse.ArgumentParser(prog="python -m ganlab", description="ganlab: learn and show GANs.", formatter_class=fmt)
    sub = p.add_subparsers(dest="command", required=True)

    g = sub.add_parser("generate", help="write one PNG per seed (settings in PNG text metadata)", formatter_class=fmt)
    g.add_argument("--model", required=True, help="bundled name, checkpoint folder or Hub repo id")
    g.add_argument("--seeds", type=parse_seeds, default=parse_seeds("0-7"), help="seeds, e.g. 0-7,42")
    g.add_argument("--out", type=Path, default=Path("out"), help="output folder")
    g.add_argument("--class", dest="label", type=parse_class, default=None,
                   help="class index, or 'all': every seed in every class, a row per seed (conditional models; "
                        "default: the class each seed draws, as ganlab.load(...).sample does)")
    g.add_argument("--truncation", type=float, default=1.0, help="truncation ψ (1 = off, 0 = average)")
    g.add_argument("--grid", action="store_true", help="also write grid.png with every seed")
    g.add_argument("--scale", type=int, default=1, help="nearest-neighbour upscaling factor for the PNGs")
    add_device(g, "render")

    i = sub.add_parser("interpolate", help="a latent walk through keyframe seeds as a GIF", formatter_class=fmt)
    i.add_argument("--model", required=True)
    i.add_argument("--seeds", type=parse_seeds, required=True, help="keyframe seeds, e.g. 1,5,9")
    i.add_argument("--frames", type=int, default=48, help="number of frames (≤ 240)")
    i.add_argument("--fps", type=float, default=24.0)
    i.add_argument("--slerp", action="store_true", help="spherical instead of linear interpolation")
    i.add_argument("--loop", action="store_true", help="go back to the first keyframe for a seamless loop")
    i.add_argument("--class", dest="label", type=int, default=None,
                   help="class index (conditional models; default: the class the first keyframe's seed draws)")
    i.add_argument("--truncation", type=float, default=1.0)
    i.add_argument("--size", type=int, default=256, help="GIF side in pixels: small images are upscaled crisply to it")
    i.add_argument("--frame-size", default="full", help="each image rendered in full, then downscaled (antialiased) "
                   "to this side in pixels, e.g. 256 for a smaller GIF of a big model; 'full': the model's size")
    i.add_argument("--out", type=Path, default=Path("walk.gif"))
    add_device(i, "render")

    t = sub.add_parser("train", help="train a generator (or the evaluation classifier)", formatter_class=fmt)
    t.add_argument("family", choices=[*FAMILIES, "classifier"])
    t.add_argument("--dataset", choices=list(DATASETS), default="mnist")
    t.add_argument("--out", type=Path, default=None, help="run / checkpoint folder (default checkpoints/FAMILY-DATASET)")
    t.add_argument("--data-dir", default="data", help="torchvision data folder; downloads there if missing")
    t.add_argument("--steps", type=int, default=5000, help="generator updates")
    t.add_argument("--epochs", type=float, default=0.0, help="passes over the data (overrides --steps)")
    t.add_argument("--batch", type=int, default=64)
    t.add_argument("--lr", type=float, nargs="+", default=[2e-4], metavar="LR", help="one lr for both, or G D")
    t.add_argument("--betas", type=float, nargs=2, default=[0.5, 0.999])
    t.add_argument("--loss", choices=[*LOSSES, *OLD_LOSSES], default="non-saturating",
                   metavar="{" + ",".join(LOSSES) + "}",
                   help="GAN loss ('bce' is the old name of non-saturating)")
    t.add_argument("--d-steps", type=int, default=1, help="D updates per G update")
    t.add_argument("--label-smoothing", type=float, default=0.0,
                   help="one-sided label smoothing: amount taken off D's real target (0 = off, 0.1 typical)")
    t.add_argument("--ema-decay", "--ema", dest="ema_decay", type=float, default=0.0,
                   help="EMA decay of G's weights (0 = off; --ema is the old spelling)")
    t.add_argument("--r1", type=float, default=0.0, help="R1 γ (0 = off)")
    t.add_argument("--gp-weight", type=float, default=10.0, help="λ of the WGAN-GP gradient penalty")
    t.add_argument("--top-k", type=float, default=1.0,
                   help="top-k G updates: final fraction of fakes kept (1 = all = off; Sinha et al.: 0.5)")
    t.add_argument("--mixing", type=float, default=0.9, help="StyleGAN2 style-mixing probability")
    t.add_argument("--mode-seeking", type=float, default=0.0, help="λ of MSGAN's mode-seeking term (0 = off)")
    t.add_argument("--model-config", type=json.loads, default={}, help="JSON overrides of the family's config")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--sample-every", type=int, default=500)
    t.add_argument("--save-minutes", type=float, default=3.0, help="train-state save interval")
    t.add_argument("--limit", type=int, default=0, help="use only the first N training images")
    t.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = default)")
    t.add_argument("--resume", action="store_true", help="continue from OUT/train_state")
    add_device(t, "train GANs (under torchrun: NCCL between CUDA GPUs, one per process; gloo on the CPU; the "
                  "evaluation classifier trains on the CPU)")

    e = sub.add_parser("evaluate", help="FD, precision/recall, class histogram → metrics.json", formatter_class=fmt)
    e.add_argument("model")
    e.add_argument("--data-dir", default="data")
    e.add_argument("--samples", type=int, default=10000)
    e.add_argument("--out", type=Path, default=None, help="metrics file (default: the checkpoint's metrics.json)")
    add_device(e, "generate the samples")

    im = sub.add_parser("import", help="convert an upstream checkpoint (NVIDIA pickle, zoo .pth, ...) into a "
                        "ganlab checkpoint folder", formatter_class=fmt)
    im.add_argument("source", help="a catalog name (python -m ganlab catalog), an http(s) URL or a local file")
    im.add_argument("--out", type=Path, default=None, help="the checkpoint folder to write (default: the imported "
                    "models' folder, where the app and ganlab.load(NAME) find it)")
    im.add_argument("--format", default="auto", choices=["auto", *importers.FORMATS], help="upstream format (auto: detect)")
    im.add_argument("--avg", action="store_true", help="GAN zoo (progan, dcgan-zoo): import the checkpoint's averaged "
                    "generator avgG instead of netG (netG is what torch.hub's hub branch serves)")

    sub.add_parser("catalog", help="list the upstream models `import` can fetch by name (size, resolution, licence)")

    h = sub.add_parser("push", help="upload a checkpoint folder to the Hugging Face Hub", formatter_class=fmt)
    h.add_argument("model")
    h.add_argument("--repo-id", required=True)
    h.add_argument("--private", action="store_true")

    from .deploy import add_parser as add_deploy_parser
    add_deploy_parser(sub)
    return p


OLD_LOSSES = {"bce": "non-saturating"}


def old_spellings(a, argv) -> list[str]:
    """Convert train options written in the old train.py vocabulary to the shared one
    (the toy engine's names: ``ganlab.toy.config``), in place; returns one deprecation note per conversion."""
    notes = []
    if a.loss in OLD_LOSSES:
        notes.append(f"--loss {a.loss} is now called {OLD_LOSSES[a.loss]}")
        a.loss = OLD_LOSSES[a.loss]
    if 0.5 < a.label_smoothing <= 1:          # the old meaning: D's real target (0.9 = smoothing by 0.1)
        notes.append(f"--label-smoothing is now the amount taken off the real target: {a.label_smoothing:g} "
                     f"(the old real target) means --label-smoothing {1 - a.label_smoothing:g}")
        a.label_smoothing = round(1 - a.label_smoothing, 10)
    if a.top_k == 0:                          # the old "off"
        notes.append("--top-k 0 (the old 'off') is now --top-k 1 (every fake counts)")
        a.top_k = 1.0
    if any(x == "--ema" or x.startswith("--ema=") for x in argv):
        notes.append("--ema is now spelled --ema-decay")
    return notes


def parse_class(text: str) -> int | str:
    """--class: a class index, or "all"."""
    if text.strip().lower() == "all":
        return "all"
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a class index or 'all', got {text!r}") from None


def cmd_generate(a) -> None:
    """One PNG per image (and grid.png), each carrying the settings of the view path that drew it."""
    from . import export, views
    from .checkpoint import load

    m = load(a.model, device=a.device)
    if a.label == "all" and not m.num_classes:
        raise ValueError("--class all needs a conditional model; this one is unconditional.")
    label = views.SEEDED if a.label is None else a.label
    v = views.check_view(m, {"n": 1, "label": label, "truncation": a.truncation})
    images, pairs = views.view_images(m, v, a.seeds)                          # seed-major: a row per seed
    a.out.mkdir(parents=True, exist_ok=True)
    for pair, img in zip(pairs, images):
        seed, label = pair
        name = f"seed{seed:04d}" + ("" if a.label != "all" else f"-class{label}")
        export.save_png(a.out / f"{name}.png", export.upscale(img, a.scale), views.image_settings(m, v, pair))
    if a.grid:
        export.save_png(a.out / "grid.png", export.grid(images, views.view_columns(m, v, len(a.seeds)), a.scale),
                        views.grid_settings(m, v, a.seeds))
    print(f"wrote {len(images)} images to {a.out}")


def cmd_interpolate(a) -> None:
    from . import export, views
    from .checkpoint import load

    views.whole(a.frames, "--frames", 2, views.MAX_FRAMES)                     # before loading: a typo fails fast
    m = load(a.model, device=a.device)
    label = views.SEEDED if a.label is None else a.label
    frames, settings = views.render_walk(m, {"keyframes": a.seeds, "frames": a.frames, "loop": a.loop,
                                             "method": "slerp" if a.slerp else "lerp", "label": label,
                                             "truncation": a.truncation, "fps": a.fps,
                                             "frame_size": a.frame_size}, size=a.size)
    export.save_gif(a.out, frames, a.fps, settings)
    print(f"wrote {a.out} ({len(frames)} frame{'s' * (len(frames) != 1)})")


def cmd_train(a, argv) -> None:
    out = a.out or Path("checkpoints") / f"{a.family}-{a.dataset}"
    if a.family == "classifier":
        from .evaluate import train_classifier
        train_classifier(a.dataset, a.data_dir, out=a.out, seed=a.seed, epochs=a.epochs or 3, threads=a.threads,
                         command="python -m ganlab " + shlex.join(argv))
        return
    from .train import TrainConfig, Trainer

    for note in old_spellings(a, argv):
        print(f"deprecated: {note}", file=sys.stderr)
    lr_g, lr_d = (a.lr[0], a.lr[0]) if len(a.lr) == 1 else a.lr[:2]
    cfg = TrainConfig(family=a.family, dataset=a.dataset, out=str(out), data_dir=a.data_dir, steps=a.steps,
                      epochs=a.epochs, batch=a.batch, lr_g=lr_g, lr_d=lr_d, betas=tuple(a.betas), loss=a.loss,
                      d_steps=a.d_steps, label_smoothing=a.label_smoothing, ema_decay=a.ema_decay, r1=a.r1,
                      gp_weight=a.gp_weight, top_k=a.top_k, mixing=a.mixing, mode_seeking=a.mode_seeking,
                      seed=a.seed, model=a.model_config, sample_every=a.sample_every, save_minutes=a.save_minutes,
                      limit=a.limit, threads=a.threads, device=a.device or "")
    trainer = Trainer(cfg)
    trainer.command = "python -m ganlab " + shlex.join(x for x in argv if x != "--resume")  # the reproducing command
    try:
        trainer.fit(resume=a.resume)
    finally:
        trainer.close()
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
            evaluate_model(a.model, a.data_dir, n_samples=a.samples, out=a.out, device=a.device)
        elif a.command == "import":
            from .importers import import_model
            options = {"avg": True} if a.avg else {}
            print(f"wrote {import_model(a.source, a.out, format=a.format, progress=True, **options)}")
        elif a.command == "catalog":
            from .catalog import markdown_table
            print(markdown_table())
        elif a.command == "deploy":
            return a.run(a)
        elif a.command == "push":
            from .checkpoint import push_to_hub
            print(push_to_hub(a.model, a.repo_id, private=a.private))
    except (ValueError, OSError, RuntimeError) as e:   # CheckpointError, DownloadError, a full disk...: one line
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0
