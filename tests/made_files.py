"""Files the tests make themselves in the layouts ganlab reads from upstream, from random weights, so that the
download, preload and import-in-the-app tests need nothing from ``../shared``: an NVIDIA StyleGAN2-ADA snapshot
pickle (``bench/stylegan2_speed.py``'s writer at a 32-px configuration), a ``torch.save`` file of a given size,
and a wheel in the layout of the catalog's pip entry (a DCGAN-tutorial ``weights.tar`` inside)."""
from __future__ import annotations

import dataclasses
import hashlib
import io
import zipfile
from pathlib import Path

import torch

from bench.stylegan2_speed import upstream_network, write_nvidia_like_pickle
from ganlab import catalog

# upstream constructor arguments of a 32-px colour StyleGAN2-ADA generator (8 ws, as the 32-px fixtures)
SG2_32 = dict(z_dim=16, c_dim=0, w_dim=16, img_resolution=32, img_channels=3, mapping_kwargs=dict(num_layers=2),
              synthesis_kwargs=dict(channel_base=256, channel_max=16, num_fp16_res=0, conv_clamp=256))


def nvidia_pickle(path: Path, seed: int = 0) -> Path:
    """A snapshot pickle (G and G_ema) as NVIDIA's training writes it: a 32-px colour generator, random weights."""
    write_nvidia_like_pickle(upstream_network(seed, SG2_32), path)
    return path


def torch_file(path: Path, numel: int, seed: int = 0) -> Path:
    """A ``torch.save`` file holding ``numel`` random float32 values (a little over 4 × numel bytes)."""
    torch.save({"w": torch.randn(numel, generator=torch.Generator().manual_seed(seed))}, path)
    return path


def tutorial_weights(feature_maps=(32, 16, 8, 4), nz: int = 8, channels: int = 3, seed: int = 0) -> bytes:
    """``torch.save({'netG_state_dict': ...})`` of a netG in the PyTorch DCGAN tutorial's layout (``main.0`` …
    ``main.3n``: ConvTranspose2d without bias, BatchNorm2d, ReLU; a final ConvTranspose2d), random weights."""
    g = torch.Generator().manual_seed(seed)
    sd, widths = {}, (nz, *feature_maps, channels)
    for k in range(len(feature_maps) + 1):
        sd[f"main.{3 * k}.weight"] = 0.3 * torch.randn(widths[k], widths[k + 1], 4, 4, generator=g)
        if k < len(feature_maps):
            c = widths[k + 1]
            sd.update({f"main.{3 * k + 1}.weight": 1 + 0.1 * torch.randn(c, generator=g),
                       f"main.{3 * k + 1}.bias": 0.1 * torch.randn(c, generator=g),
                       f"main.{3 * k + 1}.running_mean": 0.1 * torch.randn(c, generator=g),
                       f"main.{3 * k + 1}.running_var": 1 + torch.rand(c, generator=g),
                       f"main.{3 * k + 1}.num_batches_tracked": torch.tensor(1000)})
    buf = io.BytesIO()
    torch.save({"netG_state_dict": sd}, buf)
    return buf.getvalue()


def catalog_wheel(folder: Path, name: str = "dcgan-faces") -> tuple[Path, catalog.Entry]:
    """A wheel for the catalog's pip entry ``name`` written into ``folder`` (a ``PIP_FIND_LINKS`` index): its file
    name, a minimal dist-info (MIT licence classifier) and the member the importer reads, random tutorial-layout
    weights. Returns the wheel and the entry with this wheel's sha256 and size in place of the published ones."""
    entry = catalog.get(name)
    dist, _, version = entry.url[4:].partition("==")
    info = f"{dist}-{version}.dist-info"
    files = {entry.member: tutorial_weights(),
             f"{info}/METADATA": (f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\nSummary: ganlab test "
                                  "wheel (random weights)\nClassifier: License :: OSI Approved :: MIT License\n").encode(),
             f"{info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: ganlab-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"}
    record = "".join(f"{n},,\n" for n in [*files, f"{info}/RECORD"])
    path = Path(folder) / entry.filename
    with zipfile.ZipFile(path, "w") as z:                     # stored: the weights are the wheel's middle bytes
        for n, data in {**files, f"{info}/RECORD": record.encode()}.items():
            z.writestr(n, data)
    data = path.read_bytes()
    return path, dataclasses.replace(entry, sha256=hashlib.sha256(data).hexdigest(), size=len(data))
