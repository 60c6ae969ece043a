"""Small valid upstream files of every format ganlab imports, written here (no ``../shared`` needed), and the
tools the hostile-input tests and ``bench/hostile.py`` build their attacks with.

``make(fmt, folder)`` writes one valid file of format ``fmt`` (one of :data:`FORMATS`) and returns its path:
a StyleGAN2-ADA network pickle in NVIDIA's persistence layout, the StyleGAN v1 port's state dict, the GAN zoo's
PGAN and DCGAN ``model.save()`` files, the DCGAN tutorial's state dict (bare and inside a wheel), and the legacy
(pre-1.6, non-zip) ``torch.save`` format of one of them. Weights are random with a fixed seed.

:data:`ATTACKS`, :data:`FOLDER_ATTACKS` and :data:`DOWNLOAD_ATTACKS` list the hostile inputs of issue 18 (files,
checkpoint folders, a misbehaving server); ``tests/test_hostile*.py`` check each one and ``bench/hostile.py``
measures them.
"""
from __future__ import annotations

import contextlib
import io
import json
import pickle
import re
import sys
import threading
import types
import zipfile
from collections import OrderedDict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import torch

from ganlab.importers import stylegan2_ada
from ganlab.models.stylegan2 import Generator as SG2

FORMATS = ("stylegan2-ada", "stylegan1", "stylegan1-legacy", "progan", "dcgan-zoo", "dcgan-tutorial",
           "dcgan-tutorial-wheel")
FORMAT_OF = {"stylegan1-legacy": "stylegan1", "dcgan-tutorial-wheel": "dcgan-tutorial"}   # the importer's name
SG2_KWARGS = dict(z_dim=8, c_dim=0, w_dim=8, img_resolution=8, img_channels=3,
                  mapping_kwargs=dict(num_layers=2), synthesis_kwargs=dict(channel_base=64, channel_max=16,
                                                                          conv_clamp=256))


# -- NVIDIA's persistence layout -------------------------------------------------------------------------------
def _reconstruct_persistent_obj(meta):     # never called: only its name goes into the pickle
    raise RuntimeError("not for loading")


class Persisted:
    """Pickles as NVIDIA's ``torch_utils.persistence`` does: ``_reconstruct_persistent_obj(meta)``."""

    def __init__(self, class_name, kwargs=None, tensors=None, modules=None, attrs=None):
        self.meta = dict(type="class", version=6, module_src="# upstream source would be here\n",
                         class_name=class_name,
                         state={"training": False, "_parameters": dict(tensors or {}), "_buffers": {},
                                "_modules": dict(modules or {}), "_init_args": (), "_init_kwargs": kwargs or {},
                                **(attrs or {})})

    def __reduce__(self):
        return _reconstruct_persistent_obj, (self.meta,)


@contextlib.contextmanager
def stand_in_modules(*names: str):
    """Empty modules importable under ``names`` for the time of the block (yielded by name, for the caller to
    fill), as the upstream code's own modules would be when it writes a file; what was there before comes back."""
    saved = {n: sys.modules.get(n) for n in names}
    modules = {n: types.ModuleType(n) for n in names}
    sys.modules.update(modules)
    try:
        yield modules
    finally:
        for n, mod in saved.items():
            if mod is None:
                sys.modules.pop(n, None)
            else:
                sys.modules[n] = mod


@contextlib.contextmanager
def fake_persistence():
    """``torch_utils.persistence`` importable for the time of a ``pickle.dump`` (so that names resolve)."""
    _reconstruct_persistent_obj.__module__ = "torch_utils.persistence"
    with stand_in_modules("torch_utils", "torch_utils.persistence") as modules:
        modules["torch_utils.persistence"]._reconstruct_persistent_obj = _reconstruct_persistent_obj
        yield


def stylegan2_tree(kwargs: dict = SG2_KWARGS, seed: int = 0) -> Persisted:
    """A StyleGAN2-ADA ``G_ema`` as NVIDIA pickles it: upstream tensor names, constructor arguments and the
    attributes its modules store, with the weights of a seeded ganlab generator of that configuration."""
    up = stylegan2_ada.upstream_config(_plain_generator(kwargs))
    config = stylegan2_ada.build_config(up)
    torch.manual_seed(seed)
    model = SG2(config)
    with torch.no_grad():
        for name, t in model.named_parameters():
            if name.endswith(("noise_strength", "bias")):
                t.add_(0.05 * torch.randn(t.shape))
        model.mapping_net.w_avg.copy_(0.1 * torch.randn(config.w_dim))
    sd = model.state_dict()
    res = config.resolutions
    m, s = up["mapping_kwargs"], up["synthesis_kwargs"]
    lin = lambda key, gain: Persisted("FullyConnectedLayer", {}, {"weight": sd[key + ".weight"],
                                                                 "bias": sd[key + ".bias"]}, attrs={"bias_gain": gain})

    def layer(key, up_):
        target = stylegan2_ada.tensor_name(key, res)[:-len(".weight")]
        t = {n: sd[f"{target}.{n}"] for n in ("weight", "bias", "noise_strength", "noise_const")
             if f"{target}.{n}" in sd}
        t["resample_filter"] = sd.get(f"{target}.up_filter", torch.full((4, 4), 1 / 16))
        affine = Persisted("FullyConnectedLayer", {}, {"weight": sd[f"{target}.affine.weight"],
                                                       "bias": sd[f"{target}.affine.bias"]}, attrs={"bias_gain": 1})
        return Persisted("SynthesisLayer", {}, t, {"affine": affine},
                         attrs={"w_dim": up["w_dim"], "use_noise": s["use_noise"], "conv_clamp": s["conv_clamp"],
                                "activation": "lrelu", "up": up_})

    blocks = {}
    for i, r in enumerate(res):
        b = f"synthesis.b{r}"
        rgb = f"synthesis_net.torgbs.{i}"
        torgb = Persisted("ToRGBLayer", {}, {"weight": sd[f"{rgb}.weight"], "bias": sd[f"{rgb}.bias"]},
                          {"affine": Persisted("FullyConnectedLayer", {}, {"weight": sd[f"{rgb}.affine.weight"],
                                                                         "bias": sd[f"{rgb}.affine.bias"]})},
                          attrs={"w_dim": up["w_dim"], "conv_clamp": s["conv_clamp"]})
        modules = {"torgb": torgb, "conv1": layer(f"{b}.conv1.weight", 1)}
        tensors = {"resample_filter": sd[f"{rgb}.up_filter"] if i else torch.full((4, 4), 1 / 16)}
        if i:
            modules["conv0"] = layer(f"{b}.conv0.weight", 2)
        else:
            tensors["const"] = sd["synthesis_net.const"]
        blocks[f"b{r}"] = Persisted("SynthesisBlock", {}, tensors, modules,
                                    attrs={"architecture": "skip", "resolution": r, "w_dim": up["w_dim"]})
    fcs = {f"fc{j}": lin(f"mapping_net.layers.{j}", m["lr_multiplier"]) for j in range(m["num_layers"])}
    mapping = Persisted("MappingNetwork", {}, {}, fcs,
                        attrs={"z_dim": up["z_dim"], "c_dim": up["c_dim"], "w_dim": up["w_dim"],
                               "num_layers": m["num_layers"], "w_avg_beta": m["w_avg_beta"]})
    mapping.meta["state"]["_buffers"] = {"w_avg": sd["mapping_net.w_avg"]}
    synthesis = Persisted("SynthesisNetwork", {}, {}, blocks,
                          attrs={"w_dim": up["w_dim"], "img_resolution": up["img_resolution"],
                                 "img_channels": up["img_channels"]})
    return Persisted("Generator", kwargs, {}, {"synthesis": synthesis, "mapping": mapping},
                     attrs={k: up[k] for k in ("z_dim", "c_dim", "w_dim", "img_resolution", "img_channels")})


def _plain_generator(kwargs):
    from ganlab.importers import _pickle
    return _pickle.PersistedObject(dict(type="class", class_name="Generator",
                                        state={"_init_kwargs": kwargs, "_modules": {}}))


def write_stylegan2(path: Path, g: Persisted | None = None, extra: dict | None = None) -> Path:
    with fake_persistence():
        path.write_bytes(pickle.dumps({"training_set_kwargs": {"path": "faces.zip"}, "G": g or stylegan2_tree(),
                                       "G_ema": g or stylegan2_tree(), **(extra or {})}, protocol=2))
    return path


# -- state-dict formats --------------------------------------------------------------------------------------
def stylegan1_state(seed: int = 0) -> dict:
    """The v1 port's layout at 8 px: z = w = 8, two mapping layers, 8 channels, a 3×3 blur filter."""
    g = torch.Generator().manual_seed(seed)
    r = lambda *s: torch.randn(*s, generator=g)
    sd = {}
    for i in range(2):
        sd[f"g_mapping.dense{i}.weight"], sd[f"g_mapping.dense{i}.bias"] = r(8, 8) * 10, r(8) * 0.1
    for res in (4, 8):
        p = f"g_synthesis.blocks.{res}x{res}"
        if res == 4:
            sd.update({f"{p}.const": r(1, 8, 4, 4), f"{p}.bias": r(8), f"{p}.conv.weight": r(8, 8, 3, 3),
                       f"{p}.conv.bias": r(8) * 0.1})
        else:
            sd.update({f"{p}.conv0_up.weight": r(8, 8, 3, 3), f"{p}.conv0_up.bias": r(8) * 0.1,
                       f"{p}.conv0_up.intermediate.kernel": torch.tensor([[1., 2, 1], [2, 4, 2], [1, 2, 1]])[None, None] / 16,
                       f"{p}.conv1.weight": r(8, 8, 3, 3), f"{p}.conv1.bias": r(8) * 0.1})
        for e in ("epi1", "epi2"):
            sd.update({f"{p}.{e}.top_epi.noise.weight": r(8) * 0.1, f"{p}.{e}.style_mod.lin.weight": r(16, 8),
                       f"{p}.{e}.style_mod.lin.bias": r(16) * 0.1})
    sd.update({"g_synthesis.torgb.weight": r(3, 8, 1, 1), "g_synthesis.torgb.bias": r(3) * 0.1})
    return sd


@contextlib.contextmanager
def zoo_config_class():
    """The zoo's ``models.utils.config.BaseConfig`` importable while a file is written."""
    with stand_in_modules("models", "models.utils", "models.utils.config") as modules:
        cls = type("BaseConfig", (), {"__module__": "models.utils.config"})
        modules["models.utils.config"].BaseConfig = cls
        yield cls


def write_zoo(path: Path, net: dict, avg: dict | None = None, **config) -> Path:
    """A zoo ``model.save()`` file: ``config`` as the zoo's BaseConfig, ``net`` as netG, ``avg`` as avgG
    (default: ``net`` halved, so that the two differ)."""
    with zoo_config_class() as cls:
        cfg = cls()
        cfg.__dict__.update(config)
        avg = {k: v * 0.5 for k, v in net.items()} if avg is None else avg
        torch.save({"config": cfg, "netG": net, "netD": {}, "avgG": avg}, path)
    return path


def progan_state(seed: int = 0) -> dict:
    g = torch.Generator().manual_seed(seed)
    r = lambda *s: torch.randn(*s, generator=g)
    d = [16, 8]
    return {"formatLayer.module.weight": r(16 * d[0], 8), "formatLayer.module.bias": r(16 * d[0]) * 0.1,
            "groupScale0.0.module.weight": r(d[0], d[0], 3, 3), "groupScale0.0.module.bias": r(d[0]) * 0.1,
            "scaleLayers.0.0.module.weight": r(d[1], d[0], 3, 3), "scaleLayers.0.0.module.bias": r(d[1]) * 0.1,
            "scaleLayers.0.1.module.weight": r(d[1], d[1], 3, 3), "scaleLayers.0.1.module.bias": r(d[1]) * 0.1,
            "toRGBLayers.0.module.weight": r(3, d[0], 1, 1), "toRGBLayers.0.module.bias": r(3) * 0.1,
            "toRGBLayers.1.module.weight": r(3, d[1], 1, 1), "toRGBLayers.1.module.bias": r(3) * 0.1}


PROGAN_CONFIG = dict(depthScale0=16, depthOtherScales=[8], leakyReluLeak=0.2, perChannelNormalization=True,
                     alpha=0, equalizedlR=True, latentVectorDim=8, dimOutput=3, lossCriterion="WGANGP",
                     attribKeysOrder=None, categoryVectorDim=0)


def dcgan_zoo_state(seed: int = 0) -> dict:
    g = torch.Generator().manual_seed(seed)
    r = lambda *s: torch.randn(*s, generator=g)
    sd = {"formatLayer.weight": r(8, 16, 4, 4) * 0.1, "main.convTranspose1.weight": r(16, 8, 4, 4) * 0.1,
          "main.outlayer.weight": r(8, 3, 4, 4) * 0.1}
    for i, c in enumerate((16, 8)):
        sd.update({f"main.batchNorm{i}.weight": 1 + 0.1 * r(c), f"main.batchNorm{i}.bias": 0.1 * r(c),
                   f"main.batchNorm{i}.running_mean": 0.1 * r(c), f"main.batchNorm{i}.running_var": 1 + r(c).abs(),
                   f"main.batchNorm{i}.num_batches_tracked": torch.tensor(10)})
    return sd


DCGAN_ZOO_CONFIG = dict(depth=1, latentVectorDim=8, dimG=8, dimOutput=3, lossCriterion="DCGAN",
                        attribKeysOrder=None, categoryVectorDim=0)


def tutorial_state(seed: int = 0) -> dict:
    """netG.main of the DCGAN tutorial at 16 px: ConvT(8→16) BN ReLU, ConvT(16→8) BN ReLU, ConvT(8→3) Tanh."""
    g = torch.Generator().manual_seed(seed)
    r = lambda *s: torch.randn(*s, generator=g)
    sd = {"main.0.weight": r(8, 16, 4, 4) * 0.1, "main.3.weight": r(16, 8, 4, 4) * 0.1, "main.6.weight": r(8, 3, 4, 4) * 0.1}
    for i, c in ((1, 16), (4, 8)):
        sd.update({f"main.{i}.weight": 1 + 0.1 * r(c), f"main.{i}.bias": 0.1 * r(c),
                   f"main.{i}.running_mean": 0.1 * r(c), f"main.{i}.running_var": 1 + r(c).abs(),
                   f"main.{i}.num_batches_tracked": torch.tensor(5)})
    return sd


def write_wheel(path: Path, weights: bytes, member: str = "gan_face_generate/weights.tar",
                compression: int = zipfile.ZIP_DEFLATED, padding: int = 0) -> Path:
    """A wheel (a zip with dist-info) that ships ``weights`` as ``member``, as the tutorial's PyPI wheel does;
    ``padding`` zero bytes follow the weights (streamed in, never held in memory)."""
    with zipfile.ZipFile(path, "w", compression) as z:
        z.writestr("gan_face_generate/__init__.py", "")
        with z.open(member, "w", force_zip64=True) as f:
            f.write(weights)
            for _ in range(padding >> 20):
                f.write(bytes(1 << 20))
        z.writestr("gan_face_generate-1.0.dist-info/METADATA",
                   "Metadata-Version: 2.1\nName: gan_face_generate\nVersion: 1.0\nSummary: faces\n"
                   "Classifier: License :: OSI Approved :: MIT License\n")
        z.writestr("gan_face_generate-1.0.dist-info/WHEEL", "Wheel-Version: 1.0\n")
    return path


def torch_bytes(obj, legacy: bool = False) -> bytes:
    buf = io.BytesIO()
    torch.save(obj, buf, _use_new_zipfile_serialization=not legacy)
    return buf.getvalue()


def make(fmt: str, folder: Path) -> Path:
    """One valid file of ``fmt`` in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    if fmt == "stylegan2-ada":
        return write_stylegan2(folder / "sg2.pkl")
    if fmt == "stylegan1":
        (folder / "sg1.pt").write_bytes(torch_bytes(stylegan1_state()))
        return folder / "sg1.pt"
    if fmt == "stylegan1-legacy":
        (folder / "sg1-legacy.pt").write_bytes(torch_bytes(stylegan1_state(), legacy=True))
        return folder / "sg1-legacy.pt"
    if fmt == "progan":
        return write_zoo(folder / "pgan.pth", progan_state(), **PROGAN_CONFIG)
    if fmt == "dcgan-zoo":
        return write_zoo(folder / "dcgan-zoo.pth", dcgan_zoo_state(), **DCGAN_ZOO_CONFIG)
    if fmt == "dcgan-tutorial":
        (folder / "netG.pth").write_bytes(torch_bytes({"netG_state_dict": tutorial_state()}))
        return folder / "netG.pth"
    if fmt == "dcgan-tutorial-wheel":
        return write_wheel(folder / "gan_face_generate-1.0-py3-none-any.whl",
                           torch_bytes({"netG_state_dict": tutorial_state()}))
    raise ValueError(fmt)


# -- the attacks ---------------------------------------------------------------------------------------------------
# Each file attack is (class, label, build): build(folder) writes the hostile file and returns (path, the import
# format to name, a regex the refusal must match). Classes follow issue 18: "bounds" (resource bounds before
# allocation), "malformed" (one error type), "wrong" (no silently wrong model).
class Rebuilt:
    """Pickles as ``torch._utils._rebuild_tensor_v2(storage, offset, size, stride, ...)``, any view declared."""

    def __init__(self, storage, offset, size, stride):
        self.args = (storage, offset, tuple(size), tuple(stride), False, OrderedDict())

    def __reduce__(self):
        return torch._utils._rebuild_tensor_v2, self.args


def _typed(numel: int):
    return torch.storage.TypedStorage(wrap_storage=torch.zeros(numel).untyped_storage(), dtype=torch.float32,
                                      _internal=True)


def _fc0(g: Persisted) -> dict:
    return g.meta["state"]["_modules"]["mapping"].meta["state"]["_modules"]["fc0"].meta["state"]["_parameters"]


def _sg2(name: str, match: str, change=None, extra=None):
    def build(folder: Path):
        g = stylegan2_tree()
        if change:
            change(g)
        return write_stylegan2(folder / name, g, extra), "stylegan2-ada", match
    return build


def _bytes(name: str, data: bytes, fmt: str, match: str):
    def build(folder: Path):
        (folder / name).write_bytes(data)
        return folder / name, fmt, match
    return build


def _args(where: str, value, match: str):
    """A StyleGAN2-ADA pickle whose constructor argument ``where`` is ``value`` (its modules agree with it)."""
    def change(g):
        kwargs = g.meta["state"]["_init_kwargs"] = json.loads(json.dumps(SG2_KWARGS))
        group = ("mapping_kwargs" if where in ("num_layers", "lr_multiplier") else
                 "synthesis_kwargs" if where in ("resample_filter", "channel_base", "conv_clamp") else None)
        (kwargs[group] if group else kwargs)[where] = value
        if where == "channel_base":                  # within every limit: only the build budget stops it
            kwargs.update(img_resolution=1024)
            kwargs["synthesis_kwargs"]["channel_max"] = 4096
            for obj in (g, g.meta["state"]["_modules"]["synthesis"]):
                obj.meta["state"]["img_resolution"] = 1024
    return _sg2(f"args-{where}.pkl", match, change)


def _state_dict_view(view: str):
    def build(folder: Path):
        sd = tutorial_state()
        w = sd["main.0.weight"]
        sd["main.0.weight"] = (torch.zeros(1).expand(w.shape) if view == "expand"
                               else torch.zeros(64).as_strided(w.shape, (1, 1, 1, 1)))
        (folder / f"{view}.pth").write_bytes(torch_bytes(sd))
        return folder / f"{view}.pth", "dcgan-tutorial", "stride 0|overlapping"
    return build


def _laughs():
    level = ["ha" * 50] * 10
    for _ in range(9):                                 # 10**10 strings by reference, a few hundred bytes pickled
        level = [level] * 10
    return {"training_set_kwargs": {"path": level}}


def _zip_bomb(folder: Path):
    return (write_wheel(folder / "bomb-1.0-py3-none-any.whl", torch_bytes({"netG_state_dict": tutorial_state()}),
                        padding=300 << 20), "dcgan-tutorial", "expands beyond")


def _deflated_archive(folder: Path):
    good = make("dcgan-tutorial", folder / "src")
    bad = folder / "deflated.pth"
    with zipfile.ZipFile(good) as zin, zipfile.ZipFile(bad, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            zout.writestr(info.filename, zin.read(info.filename), zipfile.ZIP_DEFLATED)
    return bad, "dcgan-tutorial", "compressed or larger than the file"


def _damaged_wheel(compression: int, match: str):
    def build(folder: Path):
        wheel = write_wheel(folder / f"w{compression}-1.0-py3-none-any.whl",
                            torch_bytes({"netG_state_dict": tutorial_state()}), compression=compression)
        data = bytearray(wheel.read_bytes())
        with zipfile.ZipFile(wheel) as z:
            info = z.getinfo("gan_face_generate/weights.tar")
        start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
        for k in range(start + info.compress_size // 2, start + info.compress_size // 2 + 16):
            data[k] ^= 0x5A                            # damage the member's data, not the zip directory
        wheel.write_bytes(bytes(data))
        return wheel, "dcgan-tutorial", match
    return build


def _conv1(g: Persisted) -> dict:
    block = g.meta["state"]["_modules"]["synthesis"].meta["state"]["_modules"]["b8"]
    return block.meta["state"]["_modules"]["conv1"].meta["state"]


def _zoo_negative_variance(folder: Path):
    sd = dcgan_zoo_state()
    sd["main.batchNorm0.running_var"] = -sd["main.batchNorm0.running_var"]
    return write_zoo(folder / "negvar.pth", sd, **DCGAN_ZOO_CONFIG), "dcgan-zoo", "negative variances"


def _nan_weight(folder: Path):
    sd = tutorial_state()
    sd["main.3.weight"][0, 0, 0, 0] = float("nan")
    (folder / "nan.pth").write_bytes(torch_bytes(sd))
    return folder / "nan.pth", "dcgan-tutorial", "NaN"


def _legacy_storage(folder: Path):
    """A legacy (pre-zip) torch file whose storage declares 2**30 elements while the file holds 4."""
    data = torch_bytes({"w": torch.zeros(4)}, legacy=True)
    m = re.search(rb"cpu(q.)K\x04", data)
    bad = data[:m.start(1)] + m.group(1) + b"J" + (1 << 30).to_bytes(4, "little") + data[m.end():]
    (folder / "legacy-storage.pt").write_bytes(bad)
    return folder / "legacy-storage.pt", "dcgan-tutorial", "wrong byte size|not a readable"


def _flipped_pth(folder: Path):
    """A valid .pth with one byte of a weight changed: only the archive's CRC-32 can tell."""
    data = bytearray(make("dcgan-tutorial", folder / "src").read_bytes())
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as z:
        info = next(i for i in z.infolist() if "/data/" in i.filename and i.file_size > 64)
    head = info.header_offset                         # the local header's own name and extra lengths
    start = head + 30 + int.from_bytes(data[head + 26:head + 28], "little") + int.from_bytes(data[head + 28:head + 30], "little")
    data[start + 5] ^= 0x01
    (folder / "flipped.pth").write_bytes(bytes(data))
    return folder / "flipped.pth", "dcgan-tutorial", "CRC-32"


def _shared_storage(g: Persisted) -> None:
    storage = _typed(64)                          # one storage object, pickled once, referenced twice (memo)
    _fc0(g).update(weight=Rebuilt(storage, 0, (8, 8), (8, 1)), bias=Rebuilt(storage, 0, (8,), (1,)))


MEMO_BOMB = b"\x80\x02Nr" + (0xFFFFFFF0).to_bytes(4, "little") + b"."     # NONE, LONG_BINPUT 4 294 967 280
ATTACKS = [
    ("bounds", "tensor beyond its storage", _sg2("big-view.pkl", "larger than the data the file holds",
                                                 lambda g: _fc0(g).update(weight=Rebuilt(_typed(1), 0, (8, 8), (8, 1))))),
    ("bounds", "stride-0 view in a pickle", _sg2("expanded.pkl", "expanded",
                                                 lambda g: _fc0(g).update(weight=Rebuilt(_typed(64), 0, (8, 8), (0, 1))))),
    ("bounds", "overlapping view in a pickle", _sg2("overlap.pkl", "overlapping",
                                                    lambda g: _fc0(g).update(weight=Rebuilt(_typed(64), 0, (8, 8), (1, 1))))),
    ("bounds", "stride-0 tensor in a .pth", _state_dict_view("expand")),
    ("bounds", "overlapping tensor in a .pth", _state_dict_view("as_strided")),
    ("bounds", "memo index bomb", _bytes("memo.pkl", MEMO_BOMB, "stylegan2-ada", "memo index")),
    ("bounds", "memo reference never written", _bytes("get.pkl", b"\x80\x02Nj" + (123456).to_bytes(4, "little") + b".",
                                                      "stylegan2-ada", "never written")),
    ("bounds", "string length beyond the file", _bytes("long.pkl", b"\x80\x04\x8e" + (1 << 40).to_bytes(8, "little")
                                                       + b"abc.", "stylegan2-ada", "not a readable pickle")),
    ("bounds", "img_resolution 2^20", _args("img_resolution", 1 << 20, "img_resolution")),
    ("bounds", "z_dim 10^9", _args("z_dim", 10 ** 9, "z_dim")),
    ("bounds", "10^7 mapping layers", _args("num_layers", 10 ** 7, "num_layers")),
    ("bounds", "c_dim 10^8", _args("c_dim", 10 ** 8, "c_dim")),
    ("bounds", "filter of 10^6 memo references", _args("resample_filter", [[1.0] * 1000] * 1000, "resample_filter")),
    ("bounds", "channel_base 2^20 at 1024 px", _args("channel_base", 1 << 20, "larger model than its weights")),
    ("bounds", "billion laughs in metadata", _sg2("laughs.pkl", "more than 10,000 values", extra=_laughs())),
    ("bounds", "zip bomb in a wheel member", _zip_bomb),
    ("bounds", "compressed torch archive member", _deflated_archive),
    ("bounds", "legacy torch storage declaring 2^30 elements", _legacy_storage),
    ("malformed", "wheel with a bad CRC", _damaged_wheel(zipfile.ZIP_STORED, "CRC")),
    ("malformed", "wheel with a corrupt deflate stream", _damaged_wheel(zipfile.ZIP_DEFLATED,
                                                                        "CRC|deflat|invalid|incorrect|Error")),
    ("malformed", "OrderedDict(5)", _bytes("od.pkl", pickle.dumps({"G_ema": OrderedDict()}, protocol=2).replace(
        b")R", b"K\x05\x85R"), "stylegan2-ada", "not a readable")),
    ("malformed", "EasyDict with object state", _bytes("ed.pkl", b"\x80\x02cdnnlib.util\nEasyDict\n)\x81}X\x01\x00"
                                                       b"\x00\x00ab.", "stylegan2-ada", "refused|not a readable")),
    ("malformed", "a set of a list", _bytes("set.pkl", b"\x80\x02cbuiltins\nset\n](]ea\x85R.", "stylegan2-ada",
                                            "not a readable")),
    ("malformed", "_init_args that is a number", _bytes(
        "args.pkl", b"\x80\x02ctorch_utils.persistence\n_reconstruct_persistent_obj\n}(X\x04\x00\x00\x00typeX\x05"
        b"\x00\x00\x00classX\x05\x00\x00\x00state}X\n\x00\x00\x00_init_argsK\x07ssu\x85R.", "stylegan2-ada",
        "not a readable")),
    ("malformed", "random bytes", _bytes("junk.pth", bytes(range(256)) * 8, "dcgan-tutorial", "not a readable")),
    ("wrong", "arguments contradict the stored layers", _sg2("liar.pkl", "contradicts itself",
                                                             lambda g: _conv1(g).update(conv_clamp=None))),
    ("wrong", "NaN lr_multiplier", _args("lr_multiplier", float("nan"), "lr_multiplier")),
    ("wrong", "infinite conv_clamp", _args("conv_clamp", float("inf"), "conv_clamp")),
    ("wrong", "int64 weights", _sg2("int.pkl", "int64", lambda g: _fc0(g).update(weight=torch.ones(8, 8).long()))),
    ("wrong", "bool weights", _sg2("bool.pkl", "bool", lambda g: _fc0(g).update(weight=torch.ones(8, 8).bool()))),
    ("wrong", "complex weights", _sg2("cx.pkl", "complex64",
                                      lambda g: _fc0(g).update(weight=torch.ones(8, 8, dtype=torch.complex64)))),
    ("wrong", "negative BatchNorm variance", _zoo_negative_variance),
    ("wrong", "a flipped weight byte in a .pth", _flipped_pth),
    ("wrong", "two weights sharing one storage", _sg2("shared.pkl", "share one storage", _shared_storage)),
    ("wrong", "NaN leaky-ReLU slope in a zoo config", lambda folder: (
        write_zoo(folder / "nanslope.pth", progan_state(), **{**PROGAN_CONFIG, "leakyReluLeak": float("nan")}),
        "progan", "NaN or infinite")),
    ("wrong", "NaN weight", _nan_weight),
]


# checkpoint folders whose config.json is hostile: (label, edit(meta) -> the file's text, regex of the refusal)
def _edited(meta: dict, **config) -> str:
    return json.dumps({**meta, "config": {**meta["config"], **config}})


FOLDER_ATTACKS = [
    ("channels_base 2^20 at 1024 px", lambda m: _edited(m, channels_base=1 << 20, channels_max=4096, image_size=1024),
     "larger model than its weights"),
    ("10^6 mapping layers", lambda m: _edited(m, mapping_layers=10 ** 6), "larger model than its weights"),
    ("z_dim 10^9", lambda m: _edited(m, z_dim=10 ** 9), "beyond any model size"),
    ("NaN in the config", lambda m: _edited(m, mapping_lr_mul=float("nan")), "not a finite number"),
    ("family not a string", lambda m: json.dumps({**m, "family": ["stylegan2"]}), "'family' entry must be a string"),
    ("dataset not a string", lambda m: json.dumps({**m, "dataset": ["mnist"]}), "'dataset' entry must be a str"),
    ("JSON nested 50,000 deep", lambda m: json.dumps(m)[:-1] + ', "deep": ' + "[" * 50_000 + "]" * 50_000 + "}",
     "nested too deeply"),
]


# -- a misbehaving download server ------------------------------------------------------------------------------
class Misbehaving(BaseHTTPRequestHandler):
    """Serves ``server.body`` as ``server.mode`` says: whole, html, empty, endless, trickle, slow, truncated."""
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        srv, body, mode = self.server, self.server.body, self.server.mode
        try:
            self.send_response(200)
            if mode == "html":
                body = b"<!doctype html><html><body>Please log in</body></html>"
            self.send_header("Content-Type", "text/html; charset=utf-8" if mode == "html" else
                             "application/octet-stream")
            if mode in ("whole", "html", "empty", "slow"):
                body = b"" if mode == "empty" else body
                self.send_header("Content-Length", str(len(body)))
            self.send_header("Connection", "close")
            self.end_headers()
            if mode == "endless":                      # no length, never stops
                while not srv.stop.is_set():
                    self.wfile.write(bytes(1 << 16))
            elif mode == "trickle":                    # a byte now and then: never idle long enough to time out
                for b in body:
                    if srv.stop.wait(0.2):
                        break
                    self.wfile.write(bytes([b]))
                    self.wfile.flush()
            elif mode == "slow":                       # fast enough not to stall, too slow to finish in time
                for i in range(0, len(body), 80 << 10):
                    if srv.stop.wait(0.1):
                        break
                    self.wfile.write(body[i:i + (80 << 10)])
            elif mode == "truncated":                  # no length, half the file, then the connection closes
                self.wfile.write(body[: len(body) // 2])
            else:
                self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass


@contextlib.contextmanager
def misbehaving(body: bytes = b"", mode: str = "whole"):
    """A local server misbehaving as ``mode`` says; yields (server, URL of its one file)."""
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Misbehaving)
    srv.daemon_threads = True
    srv.body, srv.mode, srv.stop = body, mode, threading.Event()
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    try:
        yield srv, f"http://127.0.0.1:{srv.server_address[1]}/weights.pth"
    finally:
        srv.stop.set()
        srv.shutdown()
        srv.server_close()


# download attacks: (label, mode, body size, environment, regex of the refusal)
DOWNLOAD_ATTACKS = [
    ("endless body", "endless", 0, {"GANLAB_MAX_DOWNLOAD_MB": "2"}, r"more than 2\.1 MB received"),
    ("declared length beyond the cap", "whole", 100_000, {"GANLAB_MAX_DOWNLOAD_MB": "0.01"}, "offers 0.1 MB, more than"),
    ("a byte every 0.2 s", "trickle", 1000, {"GANLAB_STALL_TIMEOUT": "1"}, "stalled"),
    ("too slow overall", "slow", 8 << 20, {"GANLAB_DOWNLOAD_TIMEOUT": "1"}, "took more than 1 s"),
    ("a web page with status 200", "html", 0, {}, "web page"),
    ("an empty body", "empty", 0, {}, "empty"),
]
