"""Small valid upstream files of every format ganlab imports, written here (no ``../shared`` needed), and the
tools the hostile-input tests and ``bench/hostile.py`` build their attacks with.

``make(fmt, folder)`` writes one valid file of format ``fmt`` (one of :data:`FORMATS`) and returns its path:
a StyleGAN2-ADA network pickle in NVIDIA's persistence layout, the StyleGAN v1 port's state dict, the GAN zoo's
PGAN and DCGAN ``model.save()`` files, the DCGAN tutorial's state dict (bare and inside a wheel), and the legacy
(pre-1.6, non-zip) ``torch.save`` format of one of them. Weights are random with a fixed seed.
"""
from __future__ import annotations

import contextlib
import io
import pickle
import sys
import types
import zipfile
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
def fake_persistence():
    """``torch_utils.persistence`` importable for the time of a ``pickle.dump`` (so that names resolve)."""
    fake = types.ModuleType("torch_utils.persistence")
    fake._reconstruct_persistent_obj = _reconstruct_persistent_obj
    _reconstruct_persistent_obj.__module__ = "torch_utils.persistence"
    saved = {n: sys.modules.get(n) for n in ("torch_utils", "torch_utils.persistence")}
    sys.modules.update({"torch_utils": types.ModuleType("torch_utils"), "torch_utils.persistence": fake})
    try:
        yield
    finally:
        for n, m in saved.items():
            if m is None:
                sys.modules.pop(n, None)
            else:
                sys.modules[n] = m


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
    names = ("models", "models.utils", "models.utils.config")
    saved = {n: sys.modules.get(n) for n in names}
    try:
        for n in names:
            sys.modules[n] = types.ModuleType(n)
        cls = type("BaseConfig", (), {"__module__": "models.utils.config"})
        sys.modules["models.utils.config"].BaseConfig = cls
        yield cls
    finally:
        for n, mod in saved.items():
            if mod is None:
                sys.modules.pop(n, None)
            else:
                sys.modules[n] = mod


def write_zoo(path: Path, net: dict, **config) -> Path:
    with zoo_config_class() as cls:
        cfg = cls()
        cfg.__dict__.update(config)
        torch.save({"config": cfg, "netG": net, "netD": {}, "avgG": {k: v * 0.5 for k, v in net.items()}}, path)
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
                compression: int = zipfile.ZIP_DEFLATED) -> Path:
    """A wheel (a zip with dist-info) that ships ``weights`` as ``member``, as the tutorial's PyPI wheel does."""
    with zipfile.ZipFile(path, "w", compression) as z:
        z.writestr("gan_face_generate/__init__.py", "")
        z.writestr(member, weights)
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
