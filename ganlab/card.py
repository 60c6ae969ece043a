"""Every description of a model, written here once: the model card (the ``README.md`` of a checkpoint folder,
from its ``config.json`` and ``metrics.json``) of ganlab's own models and of imported ones, and the app's
"About this model" panel (:func:`describe`).

The card carries Hugging Face YAML front matter (library_name, tags, datasets, license) so that a pushed folder
shows up properly on the Hub. A model ganlab trained: the architecture, the data and its licence, how the model
was trained (steps, wall time on this CPU, the exact command) and how it scores; ``ganlab.evaluate.evaluate_model``
rewrites the card after each evaluation. An imported model: where it came from, its licence (the catalog's rule,
:func:`ganlab.catalog.non_commercial`) and its upstream configuration. ``metrics_table`` gives the comparison
table of several models for the README.
"""
from __future__ import annotations

import html
import json
from pathlib import Path

from . import catalog, checkpoint
from .data import DATASETS
from .data import display_name as dataset_name
from .models import FAMILIES, display_name
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


def family_summary(family: str) -> str:
    """The first paragraph of the family module's docstring (it names and cites the architecture), on one line."""
    doc = (FAMILIES[family].__doc__ or "").strip() if family in FAMILIES else ""
    return doc.split("\n\n")[0].replace("\n", " ")


def _family_description(family: str) -> str:
    """:func:`family_summary` and the docstring's paragraph on deviations from the paper, when it has one."""
    doc = (FAMILIES[family].__doc__ or "").strip() if family in FAMILIES else ""
    return "\n\n".join([family_summary(family)] + [p for p in doc.split("\n\n")[1:] if p.startswith("Deviations")])


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


def write_card(folder: str | Path, metrics: dict | None = None, model=None) -> Path:
    """Write ``folder/README.md`` from ``config.json`` (and ``metrics.json`` or ``metrics``) of a model ganlab
    trained, or of an imported one (its config has a ``source`` block); returns its path. ``model``: the loaded
    generator when the caller holds it (an import), else it is loaded from the folder."""
    folder = Path(folder)
    cfg = checkpoint.read_config(folder)
    model = checkpoint.load(str(folder)) if model is None else model
    lines = _front_matter(model, cfg)
    if cfg.get("source"):
        lines += _imported_card(folder.name, model, cfg)
    else:
        lines += _trained_card(folder, model, cfg, read_metrics(folder) if metrics is None else metrics)
    path = folder / "README.md"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def _front_matter(model, cfg: dict) -> list[str]:
    """The Hub's YAML front matter; the data's licence is the weights' only for models ganlab trained."""
    dataset, imported = cfg.get("dataset", ""), bool(cfg.get("source"))
    known = DATASETS.get(dataset)
    tags = ["gan", "ganlab", model.family, "image-generation"] + \
        (["imported"] if imported else ["pytorch", dataset or "unknown-dataset"])
    front = ["---", "library_name: ganlab", "tags:", _yaml_list(tags)]
    if known and not imported:
        front += ["datasets:", _yaml_list([known.hub_id]), f"license: {known.licence_id}"]
    return front + ["pipeline_tag: unconditional-image-generation", "---", ""]


def licence_line(source: dict) -> str:
    """The licence of imported weights, said as :func:`ganlab.catalog.non_commercial` rules."""
    nc = catalog.non_commercial(source.get("licence"), source.get("origin"))
    mark = "**non-commercial**: " if nc else "" if nc is False else "check before commercial use: "
    return mark + html.escape(str(source.get("licence") or "not stated"))


def _imported_card(name: str, model, cfg: dict) -> list[str]:
    """An imported checkpoint: where it came from, its licence, its upstream configuration."""
    source, dataset = cfg["source"], cfg.get("dataset", "")
    size, ch = model.image_size, model.channels
    kind = f"a class-conditional ({model.num_classes} classes)" if model.num_classes else "an unconditional"
    return [
        f"# {name}", "",
        f"{kind.capitalize()} **{model.display_name}** generator of {size}×{size} "
        f"{'colour' if ch == 3 else 'greyscale'} images ({dataset or 'unknown dataset'}), imported into ganlab from "
        f"an upstream `{source.get('format')}` checkpoint. ganlab did not train it.", "",
        "## Source", "",
        f"- origin: `{source.get('origin')}`",
        f"- sha256: `{source.get('sha256')}`",
        f"- licence: {licence_line(source)} (the weights keep their upstream licence)",
        f"- format: `{source.get('format')}`", "",
        "## Usage", "", "```python", "import ganlab", "",
        f'model = ganlab.load("{name}")          # its name, this folder, or its Hub repo id',
        "images = model.sample(4, seed=0" + (", labels=[0] * 4" if model.num_classes else "") + ")   # uint8 (4, H, W, C)",
        "```", "",
        f"**{model.num_parameters():,} parameters**; latent {model.z_dim}-d.", "",
        "The MNIST-classifier metrics of ganlab's evaluation do not apply to this dataset and are not reported.", "",
        "<details><summary>Upstream configuration</summary>", "", "```json",
        json.dumps(source.get("upstream") or {}, indent=1, default=str), "```", "", "</details>", "",
    ]


def _trained_card(folder: Path, model, cfg: dict, metrics: dict) -> list[str]:
    """A model ganlab trained: architecture, data, training and evaluation."""
    family, dataset = model.family, cfg.get("dataset", "")
    known = DATASETS.get(dataset)
    data_name = known.name if known else dataset or "unknown"
    training = cfg.get("training") or {}
    conditional = model.num_classes > 0
    name = folder.name
    family_name = model.display_name
    params = model.num_parameters()

    kind = "" if model.always_conditional else ("class-conditional " if conditional else "unconditional ")
    lines = [
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
    if known:
        lines += [f"[{data_name}]({known.homepage}), the training split (60,000 images; the 10,000 test images are kept "
                  f"for evaluation). {data_name} is licensed under **{known.licence}**; these weights are released under "
                  "the same licence.", ""]
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
    return lines


def describe(name: str, cfg: dict, params: int | None, metrics: dict, unavailable: str = "") -> str:
    """The app's "About this model" Markdown, from a checkpoint's config.json, its parameter count and metrics:
    architecture, size, latent, classes, data, training, metrics and, for an imported model, licence and origin.
    ``unavailable``: why the model cannot be served ("" when it can)."""
    family = cfg.get("family", "")
    net = cfg.get("config") or {}
    known = DATASETS.get(cfg.get("dataset"))
    training = cfg.get("training") or {}
    classes = cfg.get("class_names") or []
    style_based = family in FAMILIES and FAMILIES[family].Generator.style_based
    lines = [f"#### {name} · {display_name(family)}", "", family_summary(family), "",
             f"- **parameters** (generator): {params:,}" if params else "- **parameters**: —",
             f"- **latent**: {net.get('z_dim')}-d, {net.get('latent_dist', 'normal')}"
             + (f"; W {net.get('w_dim')}-d" if style_based else ""),
             f"- **images**: {net.get('image_size')}×{net.get('image_size')}, "
             f"{'greyscale' if net.get('channels', 1) == 1 else 'colour'}"]
    if classes:
        lines.append(f"- **classes**: {', '.join(classes)}" + (" (the model is unconditional)"
                                                               if not net.get("num_classes")
                                                               else " (conditional: pick one above)"))
    lines.append(f"- **training data**: [{known.name}]({known.homepage}) ({known.licence})" if known else
                 f"- **training data**: {cfg.get('dataset') or 'unknown'}")
    if training:
        lines.append(f"- **training**: {training.get('steps', '?'):,} steps, {training.get('images_seen', 0):,} "
                     f"images seen, {format_seconds(training.get('wall_seconds')) or '?'} on a CPU")
    if metrics:
        lines.append(f"- **metrics** (model card): FD {_fmt(metrics.get('fd'), '.2f')} "
                     f"(floor {_fmt(metrics.get('fd_floor_train_vs_test'), '.2f')}),"
                     f" precision {_fmt(metrics.get('precision'), '.2f')}, recall {_fmt(metrics.get('recall'), '.2f')}"
                     + (f", requested class recognised {_fmt(metrics.get('class_accuracy'), '.1%')}"
                        if metrics.get("class_accuracy") is not None else ""))
    else:
        lines.append("- **metrics**: not evaluated yet")
    lines += _source_lines(cfg.get("source"))
    if unavailable:
        lines.append(f"- **status**: unavailable: {unavailable}")
    return "\n".join(lines)


def _source_lines(source) -> list[str]:
    """Markdown list items about an imported model (config.json's ``source`` block): licence and origin."""
    if not isinstance(source, dict) or not source:
        return []
    origin = str(source.get("origin") or "?")
    if not origin.lower().startswith(("http://", "https://", "pip:")):
        origin = Path(origin).name                      # a path on the server: its name only
    sha = str(source.get("sha256") or "")
    return [f"- **licence**: {licence_line(source)}",
            f"- **source**: imported from `{html.escape(origin)}` ({html.escape(str(source.get('format', '?')))} format"
            + (f", sha256 {sha[:16]}…)" if sha else ")")]


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


def summary(cfg: dict, metrics: dict, params: int | None) -> dict[str, str]:
    """One model's row of the comparison tables (the README's :func:`metrics_table` and the app's Models tab), by
    column name: family, dataset, params, steps, train time, FD (floor), precision, recall, min class %, class acc."""
    training = cfg.get("training") or {}
    m = metrics
    fd, floor = m.get("fd"), m.get("fd_floor_train_vs_test")
    return {"family": display_name(cfg.get("family", "")), "dataset": dataset_name(cfg.get("dataset")),
            "params": "—" if params is None else f"{params / 1e6:.2f} M",
            "steps": f"{training['steps']:,}" if training.get("steps") is not None else "—",
            "train time": format_seconds(training.get("wall_seconds")) or "—",
            "FD (floor)": f"{fd:.2f} ({floor:.2f})" if fd is not None and floor is not None else _fmt(fd, ".2f"),
            "precision": _fmt(m.get("precision"), ".2f"), "recall": _fmt(m.get("recall"), ".2f"),
            "min class %": _fmt(None if m.get("min_class_fraction") is None else 100 * m["min_class_fraction"], ".1f"),
            "class acc": _fmt(m.get("class_accuracy"), ".1%")}


def metrics_table(names) -> str:
    """A markdown table comparing models (bundled names or checkpoint folders) for the README."""
    lines = ["| " + " | ".join(TABLE_COLUMNS) + " |", "|" + "---|" * 3 + "---:|" * (len(TABLE_COLUMNS) - 3)]
    for name in names:
        folder = checkpoint.resolve(str(name))
        row = summary(checkpoint.read_config(folder), read_metrics(folder), checkpoint.load(str(folder)).num_parameters())
        lines.append("| " + " | ".join([str(name)] + [row[c] for c in TABLE_COLUMNS[1:]]) + " |")
    return "\n".join(lines)
