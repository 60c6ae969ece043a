"""The README's model tables, from the shipped checkpoints' metrics.json (what `python -m ganlab evaluate` wrote).

    python bench/model_table.py            # print the tables
    python bench/model_table.py --readme   # also replace them in README.md (between the TABLE markers)

Prints every bundled generator's figures, the lecture-recipe baselines (bench/baselines/), and the issue's quality
bars checked against those figures. No figure is typed by hand: re-run after each evaluation.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ganlab import list_models  # noqa: E402
from ganlab.card import metrics_table, read_metrics  # noqa: E402

BASELINES = {"mlp-gan-mnist": "MLP-GAN, lecture recipe: 10 epochs, batch 128, Adam 1e-3 β1 0.5",
             "dcgan-mnist": "DCGAN, lecture recipe: 3 epochs, batch 128, Adam 1e-3 β1 0.5"}
CLASS_BARS = {"mnist": 0.97, "fashion-mnist": 0.85}
START, END = "<!-- TABLE -->", "<!-- /TABLE -->"


def baseline_table() -> str:
    lines = ["| baseline on MNIST | FD (floor) | precision | recall | min class % |", "|---|---:|---:|---:|---:|"]
    for name, what in BASELINES.items():
        m = json.loads((ROOT / "bench" / "baselines" / name / "metrics.json").read_text())
        lines.append(f"| {what} | {m['fd']:.2f} ({m['fd_floor_train_vs_test']:.2f}) | {m['precision']:.2f} | "
                     f"{m['recall']:.2f} | {100 * m['min_class_fraction']:.1f} |")
    return "\n".join(lines)


def bars(names: list[str]) -> list[str]:
    """The quality bars of the training issue, each with its figures and met / missed."""
    m = {n: read_metrics(ROOT / "checkpoints" / n) for n in names}
    base = {n: json.loads((ROOT / "bench" / "baselines" / n / "metrics.json").read_text()) for n in BASELINES}
    out = []

    def bar(ok: bool, text: str):
        out.append(f"- {'met' if ok else 'missed'}: {text}")

    for n, x in m.items():
        if x.get("class_accuracy") is not None:
            target = CLASS_BARS[x["dataset"]]
            bar(x["class_accuracy"] >= target, f"{n} requested class {x['class_accuracy']:.1%} (bar {target:.0%})")
        elif x.get("min_class_fraction") is not None:
            bar(x["min_class_fraction"] >= 0.05, f"{n} smallest class {x['min_class_fraction']:.1%} (bar 5%)")
    if {"dcgan-mnist", "mlp-gan-mnist"} <= set(m):
        d, g = m["dcgan-mnist"]["fd"], m["mlp-gan-mnist"]["fd"]
        bar(d < g, f"DCGAN beats MLP-GAN on MNIST in FD ({d:.2f} against {g:.2f})")
    if {"stylegan2-fashion", "dcgan-fashion"} <= set(m):
        s, d = m["stylegan2-fashion"]["fd"], m["dcgan-fashion"]["fd"]
        bar(s <= 1.5 * d, f"StyleGAN2 within 1.5x of DCGAN's FD on Fashion-MNIST ({s:.2f} against {d:.2f}, "
                          f"{s / d:.2f}x)")
    for n, b in base.items():
        if n in m:
            x = m[n]
            bar(x["fd"] < 0.9 * b["fd"] and x["precision"] > b["precision"],      # "clearly": FD 10 % lower
                f"{n} clearly beats the lecture recipe (FD ≥ 10% lower, higher precision): FD {x['fd']:.2f} vs {b['fd']:.2f}, precision "
                f"{x['precision']:.2f} vs {b['precision']:.2f}, recall {x['recall']:.2f} vs {b['recall']:.2f}, "
                f"smallest class {x['min_class_fraction']:.1%} vs {b['min_class_fraction']:.1%}")
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--readme", action="store_true", help="write the tables into README.md")
    a = p.parse_args()
    names = list_models()
    tables = metrics_table(names) + "\n\nThe lecture's own recipe, trained once as a baseline with the same code " \
                                    "(`bench/baselines/`):\n\n" + baseline_table()
    print(tables)
    print("\nquality bars:\n" + "\n".join(bars(names)))
    if a.readme:
        readme = ROOT / "README.md"
        text = readme.read_text()
        if START not in text or END not in text:
            raise SystemExit(f"README.md has no {START} … {END} block")
        text = re.sub(re.escape(START) + ".*?" + re.escape(END), lambda _: f"{START}\n{tables}\n{END}", text,
                      flags=re.S)
        readme.write_text(text)
        print("\nwrote the tables into README.md")


if __name__ == "__main__":
    main()
