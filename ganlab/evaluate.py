"""Evaluating generators with a small per-dataset CNN classifier.

The classifier's penultimate layer is the feature space (as Inception-v3's pool layer is for FID) of:

- the Fréchet distance (Heusel et al. 2017, "GANs Trained by a Two Time-Scale Update Rule Converge to a Local
  Nash Equilibrium") between generated samples and the test split, next to the train-vs-test distance of real
  images as its floor;
- precision and recall with k-NN manifolds (Kynkäänniemi et al. 2019, "Improved Precision and Recall Metric
  for Assessing Generative Models"): precision = the share of samples inside the real manifold, recall = the
  share of real images inside the samples' manifold;
- the class histogram of the samples as the classifier sees them (a collapsed mode shows as a missing class),
  and for conditional models the accuracy with which the classifier recognises the requested class.

A classifier is a checkpoint folder ``checkpoints/classifiers/<dataset>/`` with ``config.json`` (family
"classifier") and ``model.safetensors``; it is not a generator, so ``ganlab.list_models()`` never lists it.
The real images' feature statistics are cached next to it, keyed by the classifier's weights.

    python -m ganlab train classifier --dataset mnist --data-dir data --threads 1
    python -m ganlab evaluate dcgan-mnist --data-dir data
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from . import checkpoint, data, latent
from .checkpoint import CheckpointError
from .models.base import build_config

FAMILY = "classifier"
IMAGE_SIZE = 28             # the classifier's input side; larger generator outputs are center-cropped to it
N_REAL = 10_000             # real images per side of the FD floor (test split vs as many training images)
N_PR = 5_000                # features per side for precision / recall
K_NN = 3                    # k of the k-NN manifolds (Kynkäänniemi et al. use k = 3)
BATCH = 500                 # generator / classifier batch when extracting features
MIN_CLASS_FRACTION = 0.05   # the bar for each class's share of unconditional samples
EVAL_SEED = 0               # batch i of generated samples uses seed EVAL_SEED + i
AUGMENT = {                 # training augmentation per dataset, chosen by test accuracy over 3 epochs: ±2 px
    "mnist": {"max_shift": 2, "flip": False},            # shifts help on digits; on Fashion-MNIST, whose items are
    "fashion-mnist": {"max_shift": 0, "flip": False},    # centred, shifts and flips both cost accuracy
}


def classifiers_dir() -> Path:
    return Path(checkpoint.CHECKPOINTS_DIR) / "classifiers"


# -- the classifier -------------------------------------------------------------------------------------
@dataclass
class ClassifierConfig:
    num_classes: int = 10           # classes of the dataset
    class_names: tuple = ()         # their names, in label order
    image_size: int = IMAGE_SIZE    # input side in pixels
    channels: int = 1               # 1 = greyscale
    widths: tuple = (16, 32)        # conv widths at full and half resolution (each conv followed by 2×2 max-pool)
    feature_dim: int = 128          # width of the penultimate layer: the feature space of FD and precision/recall
    dropout: float = 0.25           # dropout before the last layer (training only)


class Classifier(nn.Module):
    """conv 3×3 → BN → ReLU → max-pool, twice, → fc ``feature_dim`` → ReLU (the features) → dropout → fc classes."""

    def __init__(self, config: ClassifierConfig | dict):
        super().__init__()
        c = self.config = build_config(ClassifierConfig, config)
        layers, ch = [], c.channels
        for w in c.widths:
            layers += [nn.Conv2d(ch, w, 3, padding=1, bias=False), nn.BatchNorm2d(w), nn.ReLU(), nn.MaxPool2d(2)]
            ch = w
        side = c.image_size // 2 ** len(c.widths)
        self.conv = nn.Sequential(*layers)
        self.fc = nn.Sequential(nn.Flatten(), nn.Linear(ch * side * side, c.feature_dim), nn.ReLU())
        self.head = nn.Sequential(nn.Dropout(c.dropout), nn.Linear(c.feature_dim, c.num_classes))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Images (N, C, S, S) in [-1, 1] → penultimate features (N, feature_dim)."""
        return self.fc(self.conv(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))                                 # (N, num_classes) logits

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())


def shift_augment(x: torch.Tensor, max_shift: int, generator: torch.Generator) -> torch.Tensor:
    """Translate each image by up to ``max_shift`` pixels in x and y, filling with the background (-1)."""
    n, _, h, w = x.shape
    xp = F.pad(x, [max_shift] * 4, value=-1.0)                                # (N, C, H + 2s, W + 2s)
    dy, dx = torch.randint(0, 2 * max_shift + 1, (2, n), generator=generator)
    rows = (dy[:, None] + torch.arange(h))[:, None, :, None]                 # (N, 1, H, 1)
    cols = (dx[:, None] + torch.arange(w))[:, None, None, :]                 # (N, 1, 1, W)
    chans = torch.arange(x.shape[1])[None, :, None, None]
    return xp[torch.arange(n)[:, None, None, None], chans, rows, cols]       # (N, C, H, W)


@torch.no_grad()
def accuracy(model: Classifier, x: torch.Tensor, y: torch.Tensor) -> float:
    model.eval()
    correct = sum(int((model(x[i:i + BATCH]).argmax(1) == y[i:i + BATCH]).sum()) for i in range(0, len(x), BATCH))
    return correct / max(len(x), 1)


def train_classifier(dataset: str, data_dir: str, out: str | Path | None = None, seed: int = 0, epochs: float = 3,
                     threads: int = 0, command: str = "", limit: int | None = None, batch: int = 128,
                     lr: float = 2e-3, max_shift: int | None = None, flip: bool | None = None,
                     config: dict | None = None) -> Path:
    """Train the evaluation classifier of ``dataset`` (Adam with a one-cycle lr; ±``max_shift`` px shifts and
    horizontal flips as ``AUGMENT`` chooses unless given), measure its test accuracy and save it to ``out``
    (default ``checkpoints/classifiers/<dataset>/``). ``limit`` uses only the first N train and test images."""
    data.check_dataset(dataset)
    max_shift = AUGMENT[dataset]["max_shift"] if max_shift is None else int(max_shift)
    flip = AUGMENT[dataset]["flip"] if flip is None else bool(flip)
    if not epochs > 0:
        raise ValueError(f"epochs must be > 0, got {epochs}.")
    if threads:
        torch.set_num_threads(threads)
    out = Path(out) if out else classifiers_dir() / dataset
    t0 = time.time()
    x, y = data.load_tensors(dataset, data_dir, train=True, limit=limit)
    x_test, y_test = data.load_tensors(dataset, data_dir, train=False, limit=limit)
    torch.manual_seed(seed)  # initial weights only; batches, dropout masks and shifts below use ``gen``
    model = Classifier({"class_names": data.class_names(dataset), **(config or {})})
    gen = torch.Generator().manual_seed(seed)
    schedule = data.BatchSchedule(len(x), min(batch, len(x)), seed)
    steps = max(1, int(epochs * schedule.per_epoch))
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps, pct_start=0.15)
    model.train()
    for step in range(steps):
        idx = schedule.indices(step)
        xb = shift_augment(x[idx], max_shift, gen) if max_shift else x[idx]
        if flip:
            mirrored = torch.rand(len(xb), generator=gen) < 0.5
            xb = torch.where(mirrored[:, None, None, None], xb.flip(-1), xb)
        loss = F.cross_entropy(model(xb), y[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        if (step + 1) % max(1, steps // 6) == 0 or step + 1 == steps:
            print(f"classifier {dataset}: step {step + 1}/{steps}, loss {loss.item():.4f}, "
                  f"{time.time() - t0:.0f} s", flush=True)
    test_accuracy = accuracy(model, x_test, y_test)
    seconds = round(time.time() - t0, 1)
    save_classifier(model, out, dataset, test_accuracy, command, {
        "epochs": epochs, "steps": steps, "batch": schedule.batch, "lr": lr, "max_shift": max_shift, "flip": flip, "seed": seed,
        "train_images": len(x), "test_images": len(x_test), "wall_seconds": seconds, "device": "cpu",
        "torch": torch.__version__})
    print(f"classifier {dataset}: test accuracy {test_accuracy:.2%} on {len(x_test)} images "
          f"({model.num_parameters():,} parameters, {seconds:.0f} s) → {out}")
    return out


def save_classifier(model: Classifier, folder: str | Path, dataset: str, test_accuracy: float, command: str = "",
                    training: dict | None = None) -> Path:
    folder = checkpoint.write_folder(folder, {
        "family": FAMILY, "config": dataclasses.asdict(model.config), "dataset": dataset,
        "test_accuracy": round(float(test_accuracy), 5), "command": command, "training": training or {}},
        model.state_dict())
    for stale in folder.glob("real_stats*.safetensors"):  # statistics of the previous weights
        stale.unlink()
    return folder


def load_classifier(dataset: str, folder: str | Path | None = None) -> Classifier:
    """The evaluation classifier of ``dataset`` (from ``folder``, default ``checkpoints/classifiers/<dataset>/``),
    loaded strictly from safetensors, in eval mode; ``.info`` holds its config.json."""
    data.check_dataset(dataset)
    folder = Path(folder) if folder else classifiers_dir() / dataset
    path = folder / "config.json"
    if not path.is_file():
        raise CheckpointError(f"{folder}: no evaluation classifier for {dataset} (config.json not found); train it with "
                              f"`python -m ganlab train classifier --dataset {dataset} --data-dir DATA`.")
    cfg, state = checkpoint.read_folder(folder, family=FAMILY)
    if cfg.get("dataset") != dataset:
        raise CheckpointError(f"{path}: this classifier was trained on {cfg.get('dataset')!r}, not {dataset!r}.")
    try:
        model = Classifier(cfg["config"])
    except (TypeError, ValueError) as e:
        raise CheckpointError(f"{path}: config does not build a classifier ({e}).") from None
    checkpoint.load_state(model, state, folder / "model.safetensors")
    model.info = {k: v for k, v in cfg.items() if k != "config"}
    model.info["folder"] = str(folder)
    return model.eval()


def to_classifier_input(images: torch.Tensor, size: int = IMAGE_SIZE) -> torch.Tensor:
    """Generator output (N, C, S, S) in [-1, 1] → (N, C, size, size): center-cropped when larger (StyleGAN2's
    32×32 images are the 28×28 data padded with -1), refused when smaller."""
    s = images.shape[-1]
    if images.dim() != 4 or images.shape[-2] != s:
        raise ValueError(f"expected square images (N, C, S, S), got {tuple(images.shape)}.")
    if s < size:
        raise ValueError(f"images are {s}×{s} px; the classifier needs at least {size}×{size}.")
    a = (s - size) // 2
    return images[..., a:a + size, a:a + size]


@torch.no_grad()
def classify(model: Classifier, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Features (N, feature_dim) and predicted classes (N,) of images in [-1, 1], in batches."""
    model.eval()
    feats, preds = [], []
    for i in range(0, len(images), BATCH):
        f = model.features(to_classifier_input(images[i:i + BATCH].float()))
        feats.append(f)
        preds.append(model.head(f).argmax(1))
    return torch.cat(feats), torch.cat(preds)


# -- the metrics ----------------------------------------------------------------------------------------
def feature_statistics(features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean (D,) and covariance (D, D) of features (N, D), in float64."""
    f = features.double()
    if f.shape[0] < 2:
        raise ValueError("at least two feature vectors are needed for a covariance.")
    return f.mean(0), torch.cov(f.T)


def frechet_distance(mu1: torch.Tensor, sigma1: torch.Tensor, mu2: torch.Tensor, sigma2: torch.Tensor) -> float:
    """‖μ1 − μ2‖² + Tr(Σ1 + Σ2 − 2 (Σ1 Σ2)^½), the Fréchet distance of two Gaussians. Tr (Σ1 Σ2)^½ is the sum of
    the square roots of the eigenvalues of the symmetric PSD matrix Σ1^½ Σ2 Σ1^½, which eigh computes stably."""
    mu1, mu2, sigma1, sigma2 = (t.double() for t in (mu1, mu2, sigma1, sigma2))
    vals, vecs = torch.linalg.eigh(sigma1)
    sqrt1 = (vecs * vals.clamp(min=0).sqrt()) @ vecs.T                       # Σ1^½
    m = sqrt1 @ sigma2 @ sqrt1
    tr_covmean = torch.linalg.eigvalsh((m + m.T) / 2).clamp(min=0).sqrt().sum()
    fd = (mu1 - mu2).square().sum() + sigma1.trace() + sigma2.trace() - 2 * tr_covmean
    return max(float(fd), 0.0)


def knn_radii(features: torch.Tensor, k: int = K_NN, chunk: int = 1000) -> torch.Tensor:
    """Distance of each feature vector (N, D) to its k-th nearest neighbour in the same set (itself excluded)."""
    if len(features) <= k:
        raise ValueError(f"k-NN manifolds with k = {k} need more than {k} feature vectors, got {len(features)}.")
    out = []
    for i in range(0, len(features), chunk):
        d = torch.cdist(features[i:i + chunk], features)                     # (chunk, N)
        out.append(d.topk(k + 1, dim=1, largest=False).values[:, k])         # index 0 is the point itself
    return torch.cat(out)


def manifold_coverage(points: torch.Tensor, centres: torch.Tensor, radii: torch.Tensor, chunk: int = 1000) -> float:
    """Share of ``points`` inside at least one ball (``centres``, ``radii``)."""
    inside = 0
    for i in range(0, len(points), chunk):
        d = torch.cdist(points[i:i + chunk], centres)                        # (chunk, M)
        inside += int((d <= radii[None]).any(1).sum())
    return inside / len(points)


def precision_recall(real: torch.Tensor, fake: torch.Tensor, k: int = K_NN) -> tuple[float, float]:
    """Improved precision and recall (Kynkäänniemi et al. 2019) of features ``fake`` against ``real``."""
    real, fake = real.float(), fake.float()
    precision = manifold_coverage(fake, real, knn_radii(real, k))
    recall = manifold_coverage(real, fake, knn_radii(fake, k))
    return precision, recall


# -- real statistics, cached next to the classifier ----------------------------------------------------
def _sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def real_statistics(classifier: Classifier, dataset: str, data_dir: str, limit: int | None = None) -> dict:
    """Feature statistics of the test split and of as many training images, the train-vs-test FD floor, and
    ``N_PR`` test (and train) features for precision/recall; cached in the classifier's folder as safetensors,
    recomputed when the classifier's weights change."""
    from safetensors import safe_open
    from safetensors.torch import save_file

    folder = Path(classifier.info["folder"])
    cache = folder / ("real_stats.safetensors" if not limit else f"real_stats_limit{int(limit)}.safetensors")
    key = {"classifier_sha256": _sha256(folder / "model.safetensors"), "dataset": dataset, "limit": str(limit or 0),
           "n_real": str(N_REAL), "n_pr": str(N_PR), "k": str(K_NN)}
    if cache.is_file():
        try:
            with safe_open(str(cache), framework="pt") as f:
                meta = f.metadata() or {}
                if all(meta.get(k) == v for k, v in key.items()):
                    stats = {k: f.get_tensor(k) for k in f.keys()}
                    stats.update(json.loads(meta["values"]))
                    return stats
        except Exception:  # unreadable or partial cache: recompute it
            pass
    n = min(N_REAL, limit) if limit else N_REAL
    x_test, _ = data.load_tensors(dataset, data_dir, train=False, limit=n)
    x_train, _ = data.load_tensors(dataset, data_dir, train=True, limit=n)
    f_test, _ = classify(classifier, x_test)
    f_train, _ = classify(classifier, x_train)
    mu_test, sigma_test = feature_statistics(f_test)
    mu_train, sigma_train = feature_statistics(f_train)
    g = torch.Generator().manual_seed(0)
    n_pr = min(N_PR, len(f_test), len(f_train))
    pr_test = f_test[torch.randperm(len(f_test), generator=g)[:n_pr]].contiguous()
    pr_train = f_train[torch.randperm(len(f_train), generator=g)[:n_pr]].contiguous()
    p, r = precision_recall(pr_test, pr_train)
    values = {"fd_floor_train_vs_test": frechet_distance(mu_train, sigma_train, mu_test, sigma_test),
              "precision_train_vs_test": p, "recall_train_vs_test": r, "n_test": len(f_test), "n_train": len(f_train)}
    stats = {"mu_test": mu_test, "sigma_test": sigma_test, "pr_test": pr_test}
    tmp = cache.with_suffix(".tmp")
    save_file(stats, str(tmp), metadata={**key, "values": json.dumps(values)})
    tmp.replace(cache)
    return {**stats, **values}


# -- evaluating a generator -----------------------------------------------------------------------------
@torch.no_grad()
def sample_features(model, classifier: Classifier, n: int, seed: int = EVAL_SEED) -> tuple[torch.Tensor, torch.Tensor,
                                                                                           torch.Tensor | None]:
    """Features, predicted classes and requested labels (None if unconditional) of ``n`` samples drawn through
    ``model.generate``: batch i generates ``latent.seeded_latents(b, z_dim, seed + i)`` (b fresh draws of
    one stream), conditional models get every class equally often (labels 0, 1, …, C−1, 0, 1, …)."""
    feats, preds = [], []
    labels = torch.arange(n) % model.num_classes if model.num_classes else None
    for i, start in enumerate(range(0, n, BATCH)):
        b = min(BATCH, n - start)
        z = latent.seeded_latents(b, model.z_dim, seed + i, model.latent_dist)
        y = None if labels is None else labels[start:start + b]
        images = model.generate(z, y).cpu()                                  # (b, C, S, S) in [-1, 1]
        f, p = classify(classifier, images)
        feats.append(f), preds.append(p)
    return torch.cat(feats), torch.cat(preds), labels


def evaluate_model(name_or_path: str, data_dir: str, n_samples: int = 10000, out: str | Path | None = None,
                   limit: int | None = None, classifier_dir: str | Path | None = None, seed: int = EVAL_SEED,
                   verbose: bool = True, device=None) -> dict:
    """Evaluate a generator (bundled name, checkpoint folder or Hub repo id) against its dataset's test split;
    writes ``metrics.json`` to the checkpoint folder (or to ``out``: a .json file or a folder) and, when it
    lands in the checkpoint folder, refreshes the model card. ``limit`` uses only N real images per split."""
    from .card import write_card

    t0 = time.time()
    if isinstance(n_samples, bool) or not isinstance(n_samples, int) or n_samples <= 2 * K_NN:
        raise ValueError(f"n_samples must be a whole number > {2 * K_NN}, got {n_samples!r}.")
    folder = checkpoint.resolve(name_or_path)
    cfg = checkpoint.read_config(folder)
    dataset = cfg.get("dataset")
    if dataset not in data.DATASETS:
        raise ValueError(f"{folder / 'config.json'}: dataset {dataset!r} is not one ganlab evaluates "
                         f"({', '.join(data.DATASETS)}).")
    model = checkpoint.load(str(folder), device=device)    # generates there; features on the CPU
    classifier = load_classifier(dataset, classifier_dir)
    real = real_statistics(classifier, dataset, data_dir, limit)
    feats, preds, labels = sample_features(model, classifier, n_samples, seed)
    mu, sigma = feature_statistics(feats)
    fd = frechet_distance(mu, sigma, real["mu_test"], real["sigma_test"])
    n_pr = min(len(real["pr_test"]), n_samples)
    precision, recall = precision_recall(real["pr_test"][:n_pr], feats[:n_pr])
    names = list(data.class_names(dataset))
    counts = torch.bincount(preds, minlength=len(names)).double() / len(preds)
    histogram = {name: round(float(c), 5) for name, c in zip(names, counts)}
    metrics = {
        "model": model.info.get("name", str(name_or_path)),
        "family": model.family,
        "dataset": dataset,
        "training_steps": (cfg.get("training") or {}).get("steps"),
        "n_samples": n_samples,
        "n_real": real["n_test"],
        "fd": round(fd, 4),
        "fd_floor_train_vs_test": round(real["fd_floor_train_vs_test"], 4),
        "precision": round(precision, 4),
        "recall": round(recall, 4),
        "precision_recall_samples": n_pr,
        "precision_recall_train_vs_test": [round(real["precision_train_vs_test"], 4),
                                           round(real["recall_train_vs_test"], 4)],
        "k": K_NN,
        "class_histogram": histogram,
        "class_histogram_of": "class-balanced requests" if labels is not None else "unconditional samples",
        "min_class_fraction": round(float(counts.min()), 5),
        "class_accuracy": None,
        "class_accuracy_per_class": None,
        "classifier_test_accuracy": classifier.info.get("test_accuracy"),
        "feature_space": f"penultimate layer ({classifier.config.feature_dim}-d) of the {dataset} classifier",
        "seed": seed,
        "truncation": 1.0,
        "data_limit": limit or None,
        "seconds": None,
    }
    if labels is not None:
        hit = (preds == labels).double()
        metrics["class_accuracy"] = round(float(hit.mean()), 5)
        metrics["class_accuracy_per_class"] = {name: round(float(hit[labels == c].mean()), 4)
                                               for c, name in enumerate(model.class_names) if (labels == c).any()}
    metrics["seconds"] = round(time.time() - t0, 1)
    path = Path(out) if out else folder / "metrics.json"
    if path.suffix.lower() != ".json":
        path = path / "metrics.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(metrics, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    card = None
    if path.resolve() == (folder / "metrics.json").resolve():
        card = write_card(folder)
    if verbose:
        print(summary(metrics, path, card))
    return metrics


def summary(metrics: dict, path: Path | None = None, card: Path | None = None) -> str:
    """A few lines for the terminal."""
    m = metrics
    step = f", step {m['training_steps']}" if m.get("training_steps") is not None else ""
    n_pr = m["precision_recall_samples"]
    lines = [f"{m['model']} ({m['family']}, {m['dataset']}{step}), {m['n_samples']} samples vs {m['n_real']} test images:",
             f"  FD {m['fd']:.3f} (floor, train vs test: {m['fd_floor_train_vs_test']:.3f})   "
             f"precision {m['precision']:.3f}   recall {m['recall']:.3f}   (k = {m['k']}, {n_pr} vs {n_pr})"]
    hist = "  ".join(f"{k} {v:.1%}" for k, v in m["class_histogram"].items())
    ok = "ok" if m["min_class_fraction"] >= MIN_CLASS_FRACTION else f"below the {MIN_CLASS_FRACTION:.0%} bar"
    lines.append(f"  classes ({m['class_histogram_of']}; min {m['min_class_fraction']:.1%}, {ok}): {hist}")
    if m.get("class_accuracy") is not None:
        lines.append(f"  requested class recognised: {m['class_accuracy']:.1%}")
    acc = m.get("classifier_test_accuracy")
    lines.append(f"  classifier test accuracy {acc:.2%}; {m['seconds']:.0f} s" if acc is not None else
                 f"  {m['seconds']:.0f} s")
    if path is not None:
        lines.append(f"  wrote {path}" + (f" and {card}" if card else ""))
    return "\n".join(lines)

