"""Presets of the live image-GAN tab: each architecture on each dataset with the lectures' settings and with
ganlab's recommended ones, and the one-click experiments, each with a note that says what to look for.

Each experiment's effect is checked numerically in tests/test_imagelive_presets.py (on MNIST, the runs of the
notes), so the notes promise only what those runs show.
"""
from __future__ import annotations

from dataclasses import dataclass

from .. import data
from .config import ARCH_NAMES, ARCHS, ImageConfig

LECTURE = {   # the lectures' recipes (../shared/docs/lecture-notes.md; bench/baselines for the DCGAN)
    "mlp": dict(),          # lecture A: the table's defaults (96-d uniform noise, Adam 1e-3, β1 0.5, batch 128)
    "dcgan": dict(arch="dcgan", z_dim=64, latent_dist="normal"),     # lecture A's DCGAN: 3 epochs, batch 128,
    "cgan": dict(arch="cgan", z_dim=64, latent_dist="normal"),       # Adam 1e-3, β1 0.5; cGAN: the same + labels
}
RECOMMENDED = {   # ganlab's settings for a live run on a CPU: recognisable images within a minute or two
    "mlp": dict(label_smoothing=0.1, ema_decay=0.99),
    "dcgan": dict(arch="dcgan", z_dim=64, latent_dist="normal", batch=32, lr_g=1e-3, lr_d=1e-3),
    "cgan": dict(arch="cgan", z_dim=64, latent_dist="normal", batch=32, lr_g=1e-3, lr_d=1e-3),
}
NOTES = {
    "lecture": ("{arch}, the lecture's settings: {what}. Look for: noise, then blurry shapes, then {items}; "
                "the class histogram shows which classes G draws (often few at first)."),
    "recommended": ("{arch}, ganlab's recommended settings: {what}. Look for: {items} sooner than with the "
                    "lecture's settings, and the FD curve falling faster."),
}
WHAT = {
    "lecture": {"mlp": "96-d uniform noise, Adam 1e-3 with β1 0.5, batch 128 (lecture A)",
                "dcgan": "Adam 1e-3 with β1 0.5, batch 128 (lecture A's DCGAN)",
                "cgan": "Adam 1e-3 with β1 0.5, batch 128, labels as learned embeddings"},
    "recommended": {"mlp": "the lecture's, plus one-sided label smoothing 0.1 and pictures from an EMA of G's "
                            "weights",
                    "dcgan": "batch 32 (more, cheaper steps a second on a CPU), Adam 1e-3 with β1 0.5",
                    "cgan": "batch 32, Adam 1e-3 with β1 0.5; a row per class in the grid"},
}


@dataclass(frozen=True)
class Preset:
    config: ImageConfig
    note: str           # what to look for (Markdown)


def preset_name(arch: str, kind: str, dataset: str) -> str:
    """e.g. "MLP-GAN, the lecture's settings · MNIST", "DCGAN, recommended · Fashion-MNIST"."""
    settings = "the lecture's settings" if kind == "lecture" else "recommended"
    return f"{ARCH_NAMES[arch]}, {settings} · {data.display_name(dataset)}"


def _architecture_presets() -> dict[str, Preset]:
    out = {}
    for dataset in data.DATASETS:
        items = "digits" if dataset == "mnist" else "clothes and shoes"
        for arch in ARCHS:
            for kind, table in (("lecture", LECTURE), ("recommended", RECOMMENDED)):
                note = NOTES[kind].format(arch=ARCH_NAMES[arch], what=WHAT[kind][arch], items=items)
                out[preset_name(arch, kind, dataset)] = Preset(ImageConfig(**table[arch], dataset=dataset), note)
    return out


ARCHITECTURES = _architecture_presets()
LECTURE_MLP = preset_name("mlp", "lecture", "mnist")
RECOMMENDED_MNIST = preset_name("dcgan", "recommended", "mnist")

EXPERIMENTS = {
    "experiment: the lecture's settings vs the recommended ones": Preset(
        ARCHITECTURES[RECOMMENDED_MNIST].config, (
            "ganlab's recommended MNIST run: a DCGAN with batch 32 and Adam 1e-3. Run *MLP-GAN, the lecture's "
            "settings · MNIST* too and compare after the same minute of training on a CPU (about 400 steps here "
            "against 1,400 of the lecture's MLP-GAN): here all ten digits are among the fixed samples, the "
            "classifier is sure of them, and the FD is well below the lecture run's.")),
    "experiment: β1 = 0.9 (lecture A's warning)": Preset(ImageConfig(beta1=0.9), (
        "Lecture A's MLP-GAN with Adam's default β1 = 0.9 instead of 0.5. The lecture warns that D's loss then "
        "often drops to zero and G never learns. Look for: mean D(real) near 1 and D(fake) near 0, and a grid "
        "that stays noise or blobs while the lecture's β1 = 0.5 run draws digits.")),
    "experiment: a discriminator that wins": Preset(
        ImageConfig(loss="minimax", lr_d=4e-3, lr_g=2e-4, d_steps=5), (
            "The original minimax loss (G minimises log(1 − D(G(z)))) against a strong D: 5 D steps per G step "
            "and a 20× higher D learning rate. Look for: within a hundred steps D(real) ≈ 1 and D(fake) ≈ 0, "
            "G's loss goes flat near 0 (its gradient vanishes where D is sure) and the grid stays a blur (the "
            "FD stays above 1,000). Switch the loss to non-saturating: G's loss turns large instead of flat "
            "(its gradient no longer vanishes), but this D still wins; lower D's learning rate or its steps to "
            "let G catch up.")),
    "experiment: mode collapse": Preset(ImageConfig(batch=64, lr_g=2e-4, lr_d=2e-4), (
        "The lecture's MLP-GAN with a 5× smaller learning rate and half the batch (2e-4, 64). Look for: the "
        "grid's samples are all the same digit, and after 800 steps the classifier still finds one class "
        "among the 256 fixed samples, where the lecture's settings show several by then. Try raising "
        "*mode-seeking λ* (MSGAN's term), which rewards G for keeping different latents apart.")),
}
PRESETS = {**ARCHITECTURES, **EXPERIMENTS}
