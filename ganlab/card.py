"""Model cards: the ``README.md`` of a checkpoint folder, written from its ``config.json`` and ``metrics.json``.

The card carries Hugging Face YAML front matter (library_name, tags, datasets, license) so that a pushed folder
shows up properly on the Hub, then the architecture, the data and its licence, how the model was trained (steps,
wall time on this CPU, the exact command) and how it scores. ``ganlab.evaluate.evaluate_model`` rewrites the
card after each evaluation; ``metrics_table`` gives the comparison table of several models for the README.
"""
from __future__ import annotations

import json
from pathlib import Path

from . import checkpoint
from .models import FAMILIES, display_name

DATASETS = {  # dataset → (display name, Hugging Face dataset id, licence id, licence name, homepage)
    "mnist": ("MNIST", "ylecun/mnist", "cc-by-sa-3.0", "CC BY-SA 3.0", "http://yann.lecun.com/exdb/mnist/"),
    "fashion-mnist": ("Fashion-MNIST", "zalando-datasets/fashion_mnist", "mit", "MIT",
                      "https://github.com/zalandoresearch/fashion-mnist"),
}
TABLE_COLUMNS = ["model", "family", "dataset", "params", "steps", "train time", "FD (floor)", "precision", "recall",
                 "min class %", "class acc"]


def read_metrics(folder: Path) -> dict:
    path = Path(folder) / "metrics.json"
    if not path.is_file():
        return {}
    try:
        metrics = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as e:
        raise ValueError(f"{path}: not valid JSON ({e}).") from None
    return metrics if isinstance(metrics, dict) else {}


def format_seconds(seconds) -> str:
    """1234.5 → '20.6 min'; '' when unknown."""
    if seconds is None:
        return ""
    s = float(seconds)
    if s < 90:
        return f"{s:.0f} s"
    if s < 90 * 60:
        return f"{s / 60:.1f} min"
    return f"{s / 3600:.1f} h"


def _fmt(x, spec: str = ".3f", missing: str = "—") -> str:
    return missing if x is None else format(x, spec)


def _yaml_list(items) -> str:
    return "\n".join(f"- {json.dumps(i)}" for i in items)


def _family_description(family: str) -> str:
    """The first paragraph of the family module's docstring (it names and cites the architecture) and its
    paragraph on deviations from the paper, when it has one."""
    doc = (FAMILIES[family].__doc__ or "").strip() if family in FAMILIES else ""
    paragraphs = doc.split("\n\n")
    keep = paragraphs[:1] + [p for p in paragraphs[1:] if p.startswith("Deviations")]
    return "\n\n".join(p.replace("\n", " ") if not p.startswith("Deviations") else p for p in keep)


def _json_block(config: dict) -> str:
    """A JSON object with one key per line and each value on that line (lists stay on one line)."""
    items = [f"  {json.dumps(k)}: {json.dumps(v, ensure_ascii=False)}" for k, v in config.items()]
    return "{\n" + ",\n".join(items) + "\n}"


def _module_rows(model) -> list[str]:
    rows = []
    for name, module in model.named_children():
        n = sum(p.numel() for p in module.parameters())
        rows.append(f"| `{name}` | {type(module).__name__} | {n:,} |")
    return rows


def write_card(folder: str | Path, metrics: dict | None = None) -> Path:
    """Write ``folder/README.md`` from ``config.json`` (and ``metrics.json`` or ``metrics``); returns its path."""
    folder = Path(folder)
    cfg = checkpoint.read_config(folder)
    model = checkpoint.load(str(folder))
    metrics = read_metrics(folder) if metrics is None else metrics
    family, dataset = model.family, cfg.get("dataset", "")
    data_name, hub_id, licence_id, licence_name, homepage = DATASETS.get(dataset, (dataset or "unknown", None, None,
                                                                                    None, None))
    training = cfg.get("training") or {}
    conditional = model.num_classes > 0
    name = folder.name
    family_name = model.display_name
    params = model.num_parameters()

    tags = ["gan", "ganlab", family, "image-generation", "pytorch", dataset or "unknown-dataset"]
    front = ["---", "library_name: ganlab", "tags:", _yaml_list(tags)]
    if hub_id:
        front += ["datasets:", _yaml_list([hub_id])]
    if licence_id:
        front.append(f"license: {licence_id}")
    front += ["pipeline_tag: unconditional-image-generation", "---", ""]

    kind = "" if model.always_conditional else ("class-conditional " if conditional else "unconditional ")
    lines = front + [
        f"# {name}",
        "",
        f"{'An' if kind.startswith('u') else 'A'} {kind}**{family_name}** generator of {model.image_size}×{model.image_size} greyscale images, trained on "
        f"**{data_name}** on a CPU with ganlab, a small library for learning and showing GANs.",
        "",
    ]
    if (folder / "samples.png").is_file():
        lines += ["![Samples from fixed seeds](samples.png)", "",
                  "*Samples from the fixed noise of the training run"
                  + (", classes 0, 1, 2, … in reading order.*" if conditional else ".*"), ""]

    label = ", labels=[3] * 8" if conditional else ""
    lines += [
        "## Usage", "",
        "```python",
        "import ganlab",
        "",
        f'model = ganlab.load("{name}")          # a bundled name, this folder, or its Hub repo id',
        f"images = model.sample(8, seed=0{label})   # uint8 (8, H, W, 1)",
        "```", "",
        "```bash",
        f"python -m ganlab generate --model {name} --seeds 0-7 --grid" + (" --class 3" if conditional else ""),
        "```", "",
        "## Architecture", "",
        _family_description(family), "",
        f"**{params:,} parameters** (generator only), {format(params * 4 / 2**20, '.1f')} MB as float32. "
        f"Latent: {model.z_dim}-d, {model.latent_dist}" + (f"; {model.num_classes} classes." if conditional else "."), "",
        "| module | type | parameters |", "|---|---|---:|", *_module_rows(model), "",
        "<details><summary>Constructor config (<code>config.json</code>)</summary>", "",
        "```json", _json_block(cfg.get("config", {})), "```", "", "</details>", "",
    ]

    names = model.class_names if conditional else list(cfg.get("class_names") or model.config.class_names)
    if names:
        what = "Classes (label → name)" if conditional else "Classes of the training data (the model is unconditional)"
        listed = ("the digits 0–9" if list(names) == [str(i) for i in range(len(names))] else
                  ", ".join(f"{i} {n}" for i, n in enumerate(names)))
        lines += ["## Classes", "", f"{what}: {listed}.", ""]

    lines += ["## Training data", ""]
    if licence_name:
        lines += [f"[{data_name}]({homepage}), the training split (60,000 images; the 10,000 test images are kept for "
                  f"evaluation). {data_name} is licensed under **{licence_name}**; these weights are released under the "
                  "same licence.", ""]
    else:
        lines += [f"{data_name}.", ""]

    lines += ["## Training", ""]
    if training:
        settings = training.get("settings") or {}
        rows = [("steps (generator updates)", training.get("steps")),
                ("images seen by D", f"{training['images_seen']:,}" if training.get("images_seen") else None),
                ("wall time", f"{format_seconds(training.get('wall_seconds'))} on this CPU"
                 + (f" ({training.get('processes')} processes)" if (training.get("processes") or 1) > 1 else "")
                 if training.get("wall_seconds") is not None else None),
                ("loss", settings.get("loss")), ("batch", settings.get("batch")),
                ("learning rates (G, D)", f"{settings['lr_g']}, {settings['lr_d']}" if "lr_g" in settings else None),
                ("Adam betas", settings.get("betas")), ("EMA of G", settings.get("ema_decay", settings.get("ema")) or None),
                ("R1 γ", settings.get("r1") or None), ("seed", settings.get("seed")),
                ("torch", training.get("torch"))]
        lines += ["| | |", "|---|---|"] + [f"| {k} | {v} |" for k, v in rows if v not in (None, "")] + [""]
        if training.get("command"):
            lines += ["Command:", "", "```bash", training["command"], "```", ""]
    else:
        lines += ["No training summary in config.json.", ""]

    lines += ["## Evaluation", ""]
    if metrics:
        lines += _metrics_section(metrics)
    else:
        lines += [f"Not evaluated yet: `python -m ganlab evaluate {name} --data-dir DATA`.", ""]

    path = folder / "README.md"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def _metrics_section(m: dict) -> list[str]:
    acc = m.get("classifier_test_accuracy")
    pr_ref = m.get("precision_recall_train_vs_test") or [None, None]
    rows = [("Fréchet distance (FD) ↓", _fmt(m.get("fd")), _fmt(m.get("fd_floor_train_vs_test"))),
            ("precision ↑", _fmt(m.get("precision")), _fmt(pr_ref[0])),
            ("recall ↑", _fmt(m.get("recall")), _fmt(pr_ref[1])),
            ("min class fraction (bar 5 %)", _fmt(m.get("min_class_fraction"), ".1%"), "")]
    if m.get("class_accuracy") is not None:
        rows.append(("requested class recognised", _fmt(m.get("class_accuracy"), ".1%"), _fmt(acc, ".1%")))
    step = f" at step {m['training_steps']}" if m.get("training_steps") is not None else ""
    lines = [f"Against the {m.get('dataset')} test split{step}, with {m.get('n_samples')} samples "
             f"(batch i of 500 uses seed {m.get('seed', 0)} + i; truncation 1).", "",
             "| metric | this model | real train vs test |", "|---|---:|---:|"]
    lines += [f"| {a} | {b} | {c} |" for a, b, c in rows]
    hist = m.get("class_histogram") or {}
    if hist:
        lines += ["", f"Class histogram ({m.get('class_histogram_of', 'samples')}, as the classifier predicts):", "",
                  "| " + " | ".join(hist) + " |", "|" + "---:|" * len(hist),
                  "| " + " | ".join(f"{v:.1%}" for v in hist.values()) + " |"]
    lines += ["",
              f"Features are the penultimate layer of a small CNN classifier trained on the same dataset "
              f"(test accuracy {_fmt(acc, '.2%')}), standing in for Inception-v3, so the numbers compare ganlab models "
              "with each other, not with published FIDs. FD compares Gaussians fitted to the features of the samples "
              f"and of the {m.get('n_real', 10000)} test images; its floor is the distance between as many real "
              "training images and the test images. Precision and recall use k-NN manifolds "
              f"(Kynkäänniemi et al. 2019, k = {m.get('k', 3)}, {m.get('precision_recall_samples')} vs "
              f"{m.get('precision_recall_samples')} features). Evaluation took {format_seconds(m.get('seconds'))}.", ""]
    return lines


def metrics_table(names) -> str:
    """A markdown table comparing models (bundled names or checkpoint folders) for the README."""
    lines = ["| " + " | ".join(TABLE_COLUMNS) + " |", "|" + "---|" * 3 + "---:|" * (len(TABLE_COLUMNS) - 3)]
    for name in names:
        folder = checkpoint.resolve(str(name))
        cfg = checkpoint.read_config(folder)
        m = read_metrics(folder)
        training = cfg.get("training") or {}
        params = checkpoint.load(str(folder)).num_parameters()
        fd = (f"{m['fd']:.2f} ({m['fd_floor_train_vs_test']:.2f})" if m.get("fd") is not None else "—")
        row = [str(name), display_name(cfg.get("family", "")),
               DATASETS.get(cfg.get("dataset"), (cfg.get("dataset") or "—",))[0], f"{params / 1e6:.2f} M",
               f"{training['steps']:,}" if training.get("steps") is not None else "—",
               format_seconds(training.get("wall_seconds")) or "—", fd,
               _fmt(m.get("precision"), ".2f"), _fmt(m.get("recall"), ".2f"),
               _fmt(None if m.get("min_class_fraction") is None else 100 * m["min_class_fraction"], ".1f"),
               _fmt(m.get("class_accuracy"), ".1%")]
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)
