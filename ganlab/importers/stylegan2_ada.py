"""NVIDIA StyleGAN2-ADA-PyTorch network pickles (``ffhq.pkl``, ``metfaces.pkl``, ``afhq*.pkl``, ``cifar10.pkl``)
→ ganlab's ``stylegan2`` family with the official options (FIR resampling, NVlabs channel rule, conv_clamp).

In the spirit of NVlabs' ``legacy.py``: the pickle is read as plain data by ``_pickle.SafeUnpickler`` (the
Python source it embeds is never executed), the generator's constructor arguments are mapped explicitly with
their upstream defaults (an unknown argument is an error), tensors are renamed by an explicit table and
shape-checked, and every tensor of ``G_ema`` must be used except the resample filters that upstream's forward
pass never reads.

Not supported (refused with a clear error): the TensorFlow pickles of the original StyleGAN2 release (convert
them with NVlabs' ``legacy.py`` first), the "orig" and "resnet" generator architectures, kernels other than 3×3,
activations other than leaky ReLU, separable filters of 8 taps or more, and non-RGB/greyscale outputs.
"""
from __future__ import annotations

import math
import re
from pathlib import Path

import torch

from ..models import CheckpointError
from ..models.stylegan2 import Generator, StyleGAN2Config
from . import _pickle

NAME = "stylegan2-ada"
DESCRIPTION = "an NVIDIA StyleGAN2-ADA-PyTorch network pickle (torch_utils.persistence objects, G_ema)"
LICENCE_DEFAULT = "unknown (NVIDIA's own releases are under the NVIDIA Source Code License, non-commercial)"

# upstream constructor arguments and their defaults (training/networks.py); anything else is refused
GENERATOR_ARGS = ("z_dim", "c_dim", "w_dim", "img_resolution", "img_channels", "mapping_kwargs", "synthesis_kwargs")
MAPPING_DEFAULTS = dict(num_layers=8, embed_features=None, layer_features=None, activation="lrelu",
                        lr_multiplier=0.01, w_avg_beta=0.995)
SYNTHESIS_DEFAULTS = dict(channel_base=32768, channel_max=512, num_fp16_res=0, conv_clamp=None, architecture="skip",
                          resample_filter=[1, 3, 3, 1], fp16_channels_last=False, kernel_size=3, use_noise=True,
                          activation="lrelu", channels_last=False)
OPTIONS = {"network": ("G_ema", "G")}     # import options (checked by ganlab.importers.check_options)
# upper bounds of the constructor arguments, checked before anything is built (far above NVIDIA's releases;
# what stays within them is then bounded by the bytes of the tensors the pickle holds, see convert_network)
LIMITS = {"z_dim": 4096, "w_dim": 4096, "c_dim": 100_000, "img_resolution": 4096, "num_layers": 64,
          "embed_features": 4096, "layer_features": 4096, "channel_base": 1 << 20, "channel_max": 4096,
          "filter_taps": 7}
# upstream G_ema tensor (full match) → ganlab tensor; None: a buffer upstream's forward never reads. In the
# synthesis rows the first group is the block's resolution: {i} is the block index (0 for 4×4), {conv0} /
# {conv1} the index of that layer among ganlab's convs; the other groups fill {0}, {1}.
TENSORS = (
    (r"synthesis\.b4\.resample_filter", None),
    (r"synthesis\.b(\d+)\.conv1\.resample_filter", None),
    (r"mapping\.fc(\d+)\.(weight|bias)", "mapping_net.layers.{0}.{1}"),
    (r"mapping\.embed\.(weight|bias)", "mapping_net.embed.{0}"),
    (r"mapping\.w_avg", "mapping_net.w_avg"),
    (r"synthesis\.b(4)\.const", "synthesis_net.const"),
    (r"synthesis\.b(\d+)\.resample_filter", "synthesis_net.torgbs.{i}.up_filter"),   # up-samples the image
    (r"synthesis\.b(\d+)\.torgb\.(.+)", "synthesis_net.torgbs.{i}.{0}"),
    (r"synthesis\.b(\d+)\.conv0\.resample_filter", "synthesis_net.convs.{conv0}.up_filter"),
    (r"synthesis\.b(\d+)\.conv0\.(.+)", "synthesis_net.convs.{conv0}.{0}"),
    (r"synthesis\.b(\d+)\.conv1\.(.+)", "synthesis_net.convs.{conv1}.{0}"),
)
# persisted module (dotted path, full match) → its attributes that must equal what the constructor arguments say
AGREE = (
    (r"", ("z_dim", "c_dim", "w_dim", "img_resolution", "img_channels")),
    (r"mapping", ("z_dim", "c_dim", "w_dim", "num_layers", "w_avg_beta")),
    (r"mapping\.fc\d+", ("bias_gain",)),
    (r"synthesis", ("w_dim", "img_resolution", "img_channels")),
    (r"synthesis\.b\d+\.conv[01]", ("w_dim", "use_noise", "conv_clamp", "activation")),
    (r"synthesis\.b\d+\.torgb", ("w_dim", "conv_clamp")),
)


def detect(path: str | Path) -> bool:
    """A pickle whose first 64 kB names ``torch_utils.persistence`` (NVIDIA's persisted classes)."""
    path = Path(path)
    if not path.is_file() or not _pickle.is_pickle(path):
        return False
    with open(path, "rb") as f:
        head = f.read(1 << 16)
    return b"torch_utils.persistence" in head and b"_reconstruct_persistent_obj" in head


def _merge(kind: str, given, defaults: dict) -> dict:
    given = dict(given or {})
    unknown = sorted(set(given) - set(defaults))
    if unknown:
        raise CheckpointError(f"unsupported {kind} arguments {unknown} (ganlab knows {sorted(defaults)}).")
    return {**defaults, **given}


def _whole(name: str, value, low: int = 0) -> int:
    """A constructor argument that must be a whole number in [low, LIMITS[name]]."""
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= LIMITS[name]:
        raise CheckpointError(f"unsupported StyleGAN2-ADA configuration: {name} {str(value)[:40]} (a whole number "
                              f"from {low} to {LIMITS[name]:,} expected).")
    return value


def _finite(name: str, value, none_ok: bool = False, positive: bool = False):
    if value is None and none_ok:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or (
            positive and value <= 0):
        raise CheckpointError(f"unsupported StyleGAN2-ADA configuration: {name} {str(value)[:40]} (a finite "
                              f"{'positive ' if positive else ''}number expected).")
    return float(value)


def _filter_taps(taps) -> tuple:
    """The resample filter as nested tuples of floats: 1-D or 2-D, at most LIMITS["filter_taps"] per side."""
    n = LIMITS["filter_taps"]
    rows = taps if isinstance(taps, (list, tuple)) else None
    if not rows or len(rows) > n or not all(
            isinstance(r, (int, float)) and not isinstance(r, bool)
            or isinstance(r, (list, tuple)) and 0 < len(r) <= n for r in rows):
        raise CheckpointError(f"unsupported StyleGAN2-ADA configuration: resample_filter {str(taps)[:60]} (a list "
                              f"of 1 to {n} numbers, or of rows of them).")
    out = tuple(tuple(_finite("resample_filter", v) for v in r) if isinstance(r, (list, tuple))
                else _finite("resample_filter", r) for r in rows)
    return out


def upstream_config(g: _pickle.PersistedObject) -> dict:
    """The generator's constructor arguments, positional ones named, defaults filled in, unsupported refused,
    every size within :data:`LIMITS` (checked here, before anything is built)."""
    if len(g.init_args) > len(GENERATOR_ARGS):
        raise CheckpointError(f"the Generator has {len(g.init_args)} positional arguments; expected at most "
                              f"{len(GENERATOR_ARGS)}.")
    kwargs = {**dict(zip(GENERATOR_ARGS, g.init_args)), **g.init_kwargs}
    flat = {k: kwargs.pop(k) for k in list(kwargs) if k in SYNTHESIS_DEFAULTS}   # stylegan3's networks_stylegan2
    if flat:                                                                      # passes them as **synthesis_kwargs
        given = kwargs.get("synthesis_kwargs") or {}
        kwargs["synthesis_kwargs"] = {**(given if isinstance(given, dict) else {}), **flat}
    unknown = sorted(map(str, set(kwargs) - set(GENERATOR_ARGS)))
    if unknown:
        raise CheckpointError(f"unsupported Generator arguments {unknown[:8]} (ganlab knows {list(GENERATOR_ARGS)}).")
    missing = [k for k in GENERATOR_ARGS[:5] if k not in kwargs]
    if missing:
        raise CheckpointError(f"the Generator's constructor arguments lack {missing}.")
    kwargs["mapping_kwargs"] = _merge("mapping", kwargs.get("mapping_kwargs"), MAPPING_DEFAULTS)
    kwargs["synthesis_kwargs"] = _merge("synthesis", kwargs.get("synthesis_kwargs"), SYNTHESIS_DEFAULTS)
    m, s = kwargs["mapping_kwargs"], kwargs["synthesis_kwargs"]
    for name in ("z_dim", "w_dim", "img_resolution"):
        _whole(name, kwargs[name], 1)
    _whole("c_dim", kwargs["c_dim"])
    _whole("num_layers", m["num_layers"], 1)
    for name in ("embed_features", "layer_features"):
        if m[name] is not None:
            _whole(name, m[name], 1)
    _whole("channel_base", s["channel_base"], 1)
    _whole("channel_max", s["channel_max"], 1)
    _finite("lr_multiplier", m["lr_multiplier"], positive=True)
    _finite("w_avg_beta", m["w_avg_beta"], none_ok=True)
    _finite("conv_clamp", s["conv_clamp"], none_ok=True, positive=True)
    s["resample_filter"] = _filter_taps(s["resample_filter"])
    res = kwargs["img_resolution"]
    checks = [(s["architecture"] == "skip", f"generator architecture {s['architecture']!r} (only 'skip', the "
                                            "architecture of NVIDIA's StyleGAN2-ADA releases)"),
              (s["kernel_size"] == 3, f"kernel_size {s['kernel_size']} (only 3)"),
              (s["activation"] == "lrelu" and m["activation"] == "lrelu", "activations other than 'lrelu'"),
              (kwargs["img_channels"] in (1, 3), f"{kwargs['img_channels']} image channels (only 1 or 3)"),
              (res >= 4 and res & (res - 1) == 0, f"img_resolution {res} (a power of two ≥ 4)"),
              (isinstance(s["num_fp16_res"], int) and 0 <= s["num_fp16_res"] <= 16, "num_fp16_res out of range"),
              (isinstance(s["use_noise"], bool), "use_noise not a boolean")]
    for ok, what in checks:
        if not ok:
            raise CheckpointError(f"unsupported StyleGAN2-ADA configuration: {what}.")
    return kwargs


def build_config(up: dict) -> StyleGAN2Config:
    m, s = up["mapping_kwargs"], up["synthesis_kwargs"]
    return StyleGAN2Config(
        z_dim=int(up["z_dim"]), w_dim=int(up["w_dim"]), mapping_layers=int(m["num_layers"]),
        mapping_lr_mul=float(m["lr_multiplier"]), channels_base=int(s["channel_base"]),
        channels_max=int(s["channel_max"]), image_size=int(up["img_resolution"]), channels=int(up["img_channels"]),
        num_classes=int(up["c_dim"]), w_avg_beta=float(m["w_avg_beta"] if m["w_avg_beta"] is not None else 0.995),
        resampling="fir", resample_filter=_filter_taps(s["resample_filter"]), channel_rule="nvlabs",
        conv_clamp=None if s["conv_clamp"] is None else float(s["conv_clamp"]), use_noise=bool(s["use_noise"]),
        mapping_embed_dim=int(m["embed_features"] or 0), mapping_hidden_dim=int(m["layer_features"] or 0),
        num_fp16_res=int(s["num_fp16_res"]))


def tensor_name(key: str, resolutions: list[int]) -> str | None:
    """Upstream state-dict key → ganlab key by :data:`TENSORS` (None for the buffers upstream never reads)."""
    for pattern, template in TENSORS:
        m = re.fullmatch(pattern, key)
        if m:
            break
    else:
        raise CheckpointError(f"unexpected tensor {key[:80]!r} in G_ema.")
    if template is None:
        return None
    groups, fields = m.groups(), {}
    if key.startswith("synthesis."):
        res, groups = int(groups[0]), groups[1:]
        if res not in resolutions:
            raise CheckpointError(f"tensor {key!r} belongs to no block of a {resolutions[-1]}-px generator.")
        i = resolutions.index(res)
        if "{conv0}" in template and i == 0:
            raise CheckpointError(f"unexpected tensor {key!r} in G_ema (the 4×4 block has no conv0).")
        fields = dict(i=i, conv0=2 * i - 1, conv1=2 * i)
    return template.format(*groups, **fields)


def _check_agreement(g: _pickle.PersistedObject, up: dict) -> None:
    """Where the pickle says a fact twice (a constructor argument and the attribute the module stored from it),
    both must agree (upstream runs the stored state): :data:`AGREE` lists the attributes compared."""
    m, s = up["mapping_kwargs"], up["synthesis_kwargs"]
    expect = {**{k: up[k] for k in ("z_dim", "c_dim", "w_dim", "img_resolution", "img_channels")},
              "num_layers": m["num_layers"], "w_avg_beta": m["w_avg_beta"], "bias_gain": m["lr_multiplier"],
              "use_noise": s["use_noise"], "conv_clamp": s["conv_clamp"], "activation": s["activation"]}

    def walk(obj, path):
        yield path, obj
        for name, child in obj.modules.items():
            if isinstance(child, _pickle.PersistedObject):
                yield from walk(child, f"{path}.{name}" if path else str(name))

    for path, obj in walk(g, ""):
        for pattern, names in AGREE:
            if not re.fullmatch(pattern, path):
                continue
            for name in names:
                if name not in obj.attrs:
                    continue
                have, want = obj.attrs[name], expect[name]
                same = (have == want if not isinstance(want, float) or not isinstance(have, (int, float))
                        else math.isclose(have, want, rel_tol=1e-6))
                if not same:
                    raise CheckpointError(f"{path or 'G'}.{name} is {str(have)[:40]} but the constructor arguments "
                                          f"say {str(want)[:40]}: the pickle contradicts itself.")


def _check_modules(g: _pickle.PersistedObject) -> None:
    """The persisted module tree says the same as the constructor arguments (architecture, layer kinds)."""
    if g.class_name != "Generator":
        raise CheckpointError(f"the network is a {g.class_name!r}, not a StyleGAN2-ADA Generator.")
    synthesis, mapping = g.modules.get("synthesis"), g.modules.get("mapping")
    if not isinstance(synthesis, _pickle.PersistedObject) or not isinstance(mapping, _pickle.PersistedObject):
        raise CheckpointError("the Generator has no persisted 'synthesis' and 'mapping' networks.")
    if "input" in synthesis.modules or any(k.startswith("L0_") for k in synthesis.modules):
        raise CheckpointError("a StyleGAN3 (alias-free) generator: not supported; ganlab reads StyleGAN2(-ADA) "
                              "generators.")
    for name, block in synthesis.modules.items():
        if not isinstance(block, _pickle.PersistedObject) or block.class_name != "SynthesisBlock":
            raise CheckpointError(f"synthesis.{name} is not a SynthesisBlock.")
        if block.attrs.get("architecture", "skip") != "skip":
            raise CheckpointError(f"unsupported StyleGAN2-ADA configuration: block {name} has architecture "
                                  f"{block.attrs.get('architecture')!r} (only 'skip').")


def _dataset_name(kwargs) -> str:
    path = str((kwargs or {}).get("path", "")) if isinstance(kwargs, dict) else ""
    stem = Path(path).name.split(".")[0] if path and " " not in path else ""
    return stem.lower()


def convert(path: str | Path, network: str = "G_ema", dataset: str | None = None, licence: str | None = None):
    """Read ``network`` (default the averaged generator ``G_ema``, as NVlabs' generate.py) from the pickle →
    (ganlab Generator, dataset name, upstream configuration, licence)."""
    with open(path, "rb") as f:
        head = f.read(1 << 16)
    if b"dnnlib.tflib" in head:
        raise CheckpointError(f"{path}: a TensorFlow StyleGAN2 pickle; convert it with NVlabs' legacy.py first "
                              "(ganlab reads the PyTorch pickles).")
    data = _pickle.load_pickle(path)
    g = data.get(network) if isinstance(data, dict) else None
    if not isinstance(g, _pickle.PersistedObject):
        keys = sorted(map(str, data))[:12] if isinstance(data, dict) else type(data).__name__
        raise CheckpointError(f"{path}: no persisted {network!r} generator in the pickle (keys: {keys}).")
    try:
        model, upstream = convert_network(g)
        kwargs = data.get("training_set_kwargs") or {}
        upstream.update(network=network, training_set_kwargs=_pickle.plain(kwargs))
    except CheckpointError as e:
        raise CheckpointError(f"{path}: {e}") from None
    return model, dataset if dataset is not None else _dataset_name(kwargs), upstream, licence or LICENCE_DEFAULT


def convert_network(g: _pickle.PersistedObject) -> tuple[Generator, dict]:
    """A persisted upstream Generator (plain data) → (ganlab Generator in eval mode, upstream configuration).
    Every size is checked before the generator is built, and the build itself is bounded by the bytes of the
    tensors the pickle holds (``checkpoint.build_within``)."""
    from ..checkpoint import BUILD_SLACK, build_within

    try:
        _check_modules(g)
        up = upstream_config(g)
        _check_agreement(g, up)
        config = build_config(up)
        config.check()
        tensors = g.state_dict()
        _pickle.check_unshared(tensors, "G_ema")
        for key, tensor in tensors.items():
            if not tensor.is_floating_point():
                raise CheckpointError(f"tensor {key[:80]!r} is {tensor.dtype}; StyleGAN2-ADA weights are floating "
                                      "point.")
        held = sum(t.numel() * 4 for t in tensors.values())
        model = build_within(lambda: Generator(config), 3 * held + BUILD_SLACK, "the Generator's arguments")
    except (ValueError, TypeError, OverflowError) as e:
        if isinstance(e, CheckpointError):
            raise
        raise CheckpointError(str(e)[:300]) from None
    resolutions = config.resolutions
    target = model.state_dict()
    state, unused = {}, []
    for key, tensor in tensors.items():
        name = tensor_name(key, resolutions)
        if name is None:
            unused.append(key)
            continue
        if name not in target:
            raise CheckpointError(f"tensor {key!r} has no place in the ganlab generator ({name}).")
        if tuple(tensor.shape) != tuple(target[name].shape):
            raise CheckpointError(f"tensor {key!r} has shape {tuple(tensor.shape)}, the configuration "
                                  f"expects {tuple(target[name].shape)}.")
        state[name] = tensor.float()
    missing = sorted(set(target) - set(state) - {"mapping_net.w_avg"})
    if missing:
        raise CheckpointError(f"the pickle lacks tensors the generator needs: {missing[:6]}.")
    bad = [k for k, v in state.items() if not torch.isfinite(v).all()]
    if bad:
        raise CheckpointError(f"tensors with NaN or infinite values: {bad[:6]}.")
    if "mapping_net.w_avg" not in state:                                      # w_avg_beta=None: estimate the centre
        model.load_state_dict({**target, **state})
        state["mapping_net.w_avg"] = model.estimate_w_avg().clone()
    model.load_state_dict(state, strict=True)
    upstream = {"class_name": "training.networks.Generator", "init_kwargs": _pickle.plain(up),
                "persistence_version": _pickle.plain(g.version), "module_src_sha256": g.module_src_sha256,
                "unused_tensors": unused}
    if config.num_fp16_res:
        upstream["note"] = f"upstream runs its {config.num_fp16_res} highest-resolution blocks in fp16; ganlab in fp32"
    return model.eval(), upstream
