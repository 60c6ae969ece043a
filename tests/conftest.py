import contextlib
import json
import os
import shutil
from pathlib import Path

import tempfile

# imported models live in the user's Hugging Face cache by default: the tests see an empty folder instead
os.environ.setdefault("GANLAB_MODELS_DIR", tempfile.mkdtemp(prefix="ganlab-imported-"))

import pytest  # noqa: E402
import torch  # noqa: E402

from ganlab import checkpoint  # noqa: E402
from ganlab.models import FAMILIES  # noqa: E402

from .http_fixtures import free_port  # noqa: E402,F401  (the test modules import it from here too)

ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = os.environ.get("GANLAB_DATA_DIR", str((ROOT.parent / "shared" / "data").resolve()))

# tiny configs: every family in a few kB, so tests run in seconds on a CPU
TINY = {
    "mlp": {"z_dim": 8, "g_hidden": 16, "d_hidden": 8},
    "dcgan": {"z_dim": 8, "g_fc": 16, "g_channels": 8, "d_channels": 4, "d_fc": 8},
    "cgan": {"z_dim": 8, "g_fc": 16, "g_channels": 8, "d_channels": 4, "d_fc": 8, "embed_dim": 4,
             "num_classes": 10, "class_names": tuple(str(i) for i in range(10))},
    "stylegan2": {"z_dim": 8, "w_dim": 16, "mapping_layers": 2, "channels_base": 8, "image_size": 16},
    "dcgan-radford": {"z_dim": 8, "feature_maps": (16, 8), "image_size": 16},
    "progan": {"z_dim": 8, "scale_channels": (16, 8), "image_size": 8},
    "stylegan1": {"z_dim": 8, "w_dim": 8, "mapping_layers": 2, "block_channels": (8, 4), "image_size": 8},
}


def tiny_generator(family: str, seed: int = 0, **overrides):
    torch.manual_seed(seed)
    m = FAMILIES[family]
    g = m.Generator(m.Generator.config_class(**{**TINY[family], **overrides}))
    with torch.no_grad():  # move StyleGAN's w_avg and noise strengths off zero so that they are exercised
        for name, p in g.named_parameters():
            if name.endswith("noise_strength"):
                p.fill_(0.1)
        if family == "stylegan2":
            g.mapping_net.w_avg.normal_()
    return g.eval()


@pytest.fixture(scope="session")
def tiny_checkpoints(tmp_path_factory):
    """A folder per family with a tiny random-weights checkpoint (never shipped: tests only)."""
    root = tmp_path_factory.mktemp("ckpts")
    for family in FAMILIES:
        checkpoint.save(tiny_generator(family), root / f"tiny-{family}", dataset="mnist",
                        training={"steps": 0, "note": "random weights for tests"})
    return root


@contextlib.contextmanager
def launched_app(root, **build_kwargs):
    """The app over the checkpoint folder(s) ``root``, launched in this process on a free local port, as app.py
    launches it; yields (demo, url) and closes it and its temp files afterwards."""
    from ganlab.ui import build_app, launch_kwargs

    demo = build_app(root, **build_kwargs)
    port = free_port()
    demo.launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=port, quiet=True, **launch_kwargs())
    try:
        yield demo, f"http://127.0.0.1:{port}/"
    finally:
        demo.close()
        demo.ganlab.files.cleanup()


def copy_checkpoints(tiny: Path, root: Path) -> Path:
    """``root`` holding a copy of every tiny checkpoint, for tests that add broken ones beside them."""
    for d in tiny.iterdir():
        shutil.copytree(d, root / d.name)
    return root


def checkpoint_variant(root: Path, name: str, source: str = "tiny-dcgan", **config) -> Path:
    """A copy of ``root/source`` named ``name``, its config.json's model config overridden with ``config``
    (shapes that no longer match the weights); returns the new folder."""
    folder = root / name
    shutil.copytree(root / source, folder)
    if config:
        cfg = json.loads((folder / "config.json").read_text())
        cfg["config"].update(config)
        (folder / "config.json").write_text(json.dumps(cfg))
    return folder


def has_data() -> bool:
    return (Path(DATA_DIR) / "MNIST" / "raw").is_dir()


def pytest_report_header(config):
    return f"data: {'MNIST in ' + DATA_DIR if has_data() else 'synthetic (no MNIST in ' + DATA_DIR + ')'}"


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory) -> str:
    """A torchvision-layout data folder: the real MNIST and Fashion-MNIST in ``DATA_DIR`` (``GANLAB_DATA_DIR``,
    default ``../shared/data``) where present, else a small synthetic set written by ``write_idx_dataset``."""
    if has_data():
        return DATA_DIR
    return str(write_idx_dataset(tmp_path_factory.mktemp("data")))


def write_idx_dataset(root: Path, train: int = 640, test: int = 320, seed: int = 0) -> Path:
    """MNIST- and Fashion-MNIST-like data in torchvision's raw layout (``<root>/MNIST/raw/*-idx?-ubyte``, the
    files ``torchvision.datasets.MNIST`` reads): 28x28 grey images whose class (0-9) sets the position of a
    bright cross, plus noise and jitter, so that a classifier can learn them; every class equally often."""
    import numpy as np

    rng = np.random.default_rng(seed)

    def images(n: int) -> tuple[np.ndarray, np.ndarray]:
        labels = (np.arange(n) % 10).astype(np.uint8)
        rng.shuffle(labels)
        x = rng.integers(0, 40, size=(n, 28, 28)).astype(np.uint8)
        for img, k in zip(x, labels):
            r, c = 4 + 2 * int(k) + rng.integers(-1, 2), 23 - 2 * int(k) + rng.integers(-1, 2)
            img[r - 1:r + 2, 3:25] = 255
            img[3:25, c - 1:c + 2] = 255
        return x, labels

    for folder in ("MNIST", "FashionMNIST"):
        raw = root / folder / "raw"
        raw.mkdir(parents=True)
        for split, n in (("train", train), ("t10k", test)):
            x, y = images(n)
            (raw / f"{split}-images-idx3-ubyte").write_bytes(
                np.array([0x803, n, 28, 28], ">u4").tobytes() + x.tobytes())
            (raw / f"{split}-labels-idx1-ubyte").write_bytes(np.array([0x801, n], ">u4").tobytes() + y.tobytes())
    return root
