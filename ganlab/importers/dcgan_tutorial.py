"""Importer of generators in the layout of the PyTorch DCGAN tutorial (``dcgan_faces_tutorial.py``: ``netG.main`` is
an ``nn.Sequential`` of ConvTranspose / BatchNorm / ReLU triples ending in ConvTranspose + Tanh).

Accepted files:
- a Python wheel that ships such weights (the MIT-licensed ``gan_face_generate`` wheel from PyPI: its
  ``gan_face_generate/weights.tar`` holds ``{'netG_state_dict': ...}``). The wheel is read as a zip archive; the
  weights are loaded from memory with ``torch.load(weights_only=True)``; the package itself is never imported,
  installed or run;
- a bare ``torch.save`` file of the state dict, or of ``{'netG_state_dict' | 'netG' | 'state_dict': state_dict}``
  (:data:`WRAPPERS`); keys saved from ``nn.DataParallel(netG)`` (all prefixed ``module.``) are read without the
  prefix (:data:`PREFIXES`).

Converted to ganlab's ``dcgan-radford`` family; ``generate`` = ``netG.eval()(z.view(n, nz, 1, 1))``.
Not supported (refused with a message): kernel sizes other than 4, layers with a bias, conditional variants.
"""
from __future__ import annotations

import re
import zipfile
from pathlib import Path

from ..models import CheckpointError
from ..models.dcgan_radford import Generator
from . import _torchfile

NAME = "dcgan-tutorial"
DESCRIPTION = "PyTorch DCGAN-tutorial netG state dict (main.0 … main.12), or a wheel that ships one"
OPTIONS: dict = {}                                             # only the common dataset / licence labels
WEIGHT_SUFFIXES = (".tar", ".pt", ".pth", ".ckpt", ".bin")
_SIGNATURE = ("main.0.weight", "main.1.running_mean")          # ConvTranspose then BatchNorm (the tutorial's D has no BN at 1)
WRAPPERS = ("netG_state_dict", "netG", "state_dict")           # training scripts' save dicts, tried in this order
PREFIXES = ("module.",)            # a prefix on every key, dropped: nn.DataParallel(netG).state_dict()
MAX_WHEEL_READ = 1 << 30           # bytes of wheel members read in all (far above any wheel of GAN weights)


def _matches(keys: set[str]) -> bool:
    return all(any(p + k in keys for p in ("", *PREFIXES)) for k in _SIGNATURE)


def _unprefixed(sd: dict) -> dict:
    """The state dict without a :data:`PREFIXES` prefix that every key carries."""
    for prefix in PREFIXES:
        if sd and all(k.startswith(prefix) for k in sd):
            return {k[len(prefix):]: v for k, v in sd.items()}
    return sd


def _members(z: zipfile.ZipFile):
    """(name, bytes) of the wheel's candidate weights files, each read within the archive limits, all together
    within :data:`MAX_WHEEL_READ`."""
    total = 0
    for n in _wheel_members(z)[:_torchfile.MAX_MEMBERS]:
        data = _torchfile.read_member(z, n)
        total += len(data)
        if total > MAX_WHEEL_READ:
            raise CheckpointError(f"the wheel's weights files expand beyond {MAX_WHEEL_READ:,} bytes in all.")
        yield n, data


def _is_wheel(z: zipfile.ZipFile) -> bool:
    return any(n.endswith(".dist-info/WHEEL") for n in z.namelist())


def _wheel_members(z: zipfile.ZipFile) -> list[str]:
    return [n for n in z.namelist() if n.endswith(WEIGHT_SUFFIXES) and ".dist-info/" not in n]


def detect(path) -> bool:
    path = Path(path)
    if _matches(_torchfile.state_keys(path)):
        return True
    try:
        with zipfile.ZipFile(path) as z:
            return _is_wheel(z) and any(_matches(_torchfile.state_keys(data)) for _, data in _members(z))
    except (zipfile.BadZipFile, OSError, KeyError, ValueError, CheckpointError):
        return False


def _read(path: Path) -> tuple[object, dict]:
    """The loaded object and a description of where it came from (wheel name/version/member, licence)."""
    try:
        z = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError):
        return _torchfile.load(path, str(path)), {}
    with z:
        if not _is_wheel(z):
            return _torchfile.load(path, str(path)), {}
        try:
            found = [(n, data) for n, data in _members(z) if _matches(_torchfile.state_keys(data))]
            meta_name = next((n for n in z.namelist() if n.endswith(".dist-info/METADATA")), None)
            meta = _torchfile.read_member(z, meta_name)[:1 << 20].decode("utf-8", "replace") if meta_name else ""
        except CheckpointError as e:
            raise CheckpointError(f"{path}: {e}") from None
        if len(found) != 1:
            raise CheckpointError(f"{path}: expected one tutorial-layout weights file in the wheel, found "
                                  f"{[n for n, _ in found][:4] or 'none'}.")
        obj = _torchfile.load(found[0][1], f"{path}!{found[0][0]}")
        found = [found[0][0]]

    def field(key: str) -> str:
        return next((ln.split(":", 1)[1].strip() for ln in meta.splitlines() if ln.startswith(key + ":")), "")

    licences = [ln.rsplit("::", 1)[1].strip() for ln in meta.splitlines() if ln.startswith("Classifier: License ::")]
    info = {"wheel": path.name, "package": field("Name"), "version": field("Version"), "member": found[0],
            "summary": field("Summary"), "homepage": field("Project-URL").split(",")[-1].strip(),
            "licence": ", ".join(licences) or field("License-Expression") or field("License")[:80]}
    return obj, info


def convert(path, dataset: str | None = None, licence: str | None = None):
    """``dataset`` / ``licence`` override what the wheel's metadata says (a bare file says nothing)."""
    path = Path(path)
    obj, info = _read(path)
    for wrapper in WRAPPERS:
        if isinstance(obj, dict) and isinstance(obj.get(wrapper), dict):
            obj = obj[wrapper]
            break
    what = f"{path} ({NAME})"
    sd = _unprefixed(_torchfile.tensor_dict(obj, what))
    convs = sorted(int(m.group(1)) for k in sd if (m := re.fullmatch(r"main\.(\d+)\.weight", k))
                   and sd[k].dim() == 4)
    bns = [i for i in convs if f"main.{i + 1}.running_mean" in sd]
    n = len(bns)
    if n == 0 or convs != [3 * k for k in range(n + 1)] or bns != convs[:-1]:
        raise CheckpointError(f"{what}: not the tutorial layout (transposed convs at main.0, main.3, …, main.{3 * n}; "
                              f"found convs at {convs}).")
    w0 = sd["main.0.weight"]
    nz, fm = int(w0.shape[0]), [int(sd[f"main.{3 * k}.weight"].shape[1]) for k in range(n)]
    channels = int(sd[f"main.{3 * n}.weight"].shape[1])
    table = {}
    for k in range(n):
        table[f"blocks.{k}.0.weight"] = _torchfile.take(sd, f"main.{3 * k}.weight",
                                                       (nz if k == 0 else fm[k - 1], fm[k], 4, 4), what)
        for p in ("weight", "bias", "running_mean", "running_var"):
            table[f"blocks.{k}.1.{p}"] = _torchfile.take(sd, f"main.{3 * k + 1}.{p}", (fm[k],), what)
        if f"main.{3 * k + 1}.num_batches_tracked" in sd:
            table[f"blocks.{k}.1.num_batches_tracked"] = sd[f"main.{3 * k + 1}.num_batches_tracked"]
    table["out.weight"] = _torchfile.take(sd, f"main.{3 * n}.weight", (fm[-1], channels, 4, 4), what)
    used = {f"main.{3 * k}.weight" for k in range(n + 1)} | {
        f"main.{3 * k + 1}.{p}" for k in range(n) for p in ("weight", "bias", "running_mean", "running_var",
                                                             "num_batches_tracked")}
    if set(sd) - used:
        raise CheckpointError(f"{what}: unexpected tensors {sorted(set(sd) - used)[:4]} (biases or extra layers are "
                              "not part of the tutorial's netG).")
    if channels not in (1, 3):
        raise CheckpointError(f"{what}: {channels} output channels; ganlab shows 1 (grey) or 3 (colour).")
    model = Generator({"z_dim": nz, "feature_maps": tuple(fm), "channels": channels, "image_size": 4 * 2 ** n,
                       "output_activation": "tanh"})
    _torchfile.fill(model, table, what)
    upstream = {"class": "Generator(ngpu, nc, nz, ngf)", "nz": nz, "ngf": fm[-1], "nc": channels,
                "feature_maps": fm, "image_size": 4 * 2 ** n, **info}
    summary = info.get("summary", "")
    if dataset is None:
        dataset = "DigiFace-1M (synthetic faces)" if "digiface" in summary.lower() else summary
    return model.eval(), dataset, upstream, licence if licence is not None else info.get("licence", "")
