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
UNUSED = ("synthesis.b4.resample_filter", ".conv1.resample_filter")   # buffers upstream's forward never reads


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


def upstream_config(g: _pickle.PersistedObject) -> dict:
    """The generator's constructor arguments, positional ones named, defaults filled in, unsupported refused."""
    if len(g.init_args) > len(GENERATOR_ARGS):
        raise CheckpointError(f"the Generator has {len(g.init_args)} positional arguments; expected at most "
                              f"{len(GENERATOR_ARGS)}.")
    kwargs = {**dict(zip(GENERATOR_ARGS, g.init_args)), **g.init_kwargs}
    flat = {k: kwargs.pop(k) for k in list(kwargs) if k in SYNTHESIS_DEFAULTS}   # stylegan3's networks_stylegan2
    if flat:                                                                      # passes them as **synthesis_kwargs
        kwargs["synthesis_kwargs"] = {**(kwargs.get("synthesis_kwargs") or {}), **flat}
    unknown = sorted(set(kwargs) - set(GENERATOR_ARGS))
    if unknown:
        raise CheckpointError(f"unsupported Generator arguments {unknown} (ganlab knows {list(GENERATOR_ARGS)}).")
    missing = [k for k in GENERATOR_ARGS[:5] if k not in kwargs]
    if missing:
        raise CheckpointError(f"the Generator's constructor arguments lack {missing}.")
    kwargs["mapping_kwargs"] = _merge("mapping", kwargs.get("mapping_kwargs"), MAPPING_DEFAULTS)
    kwargs["synthesis_kwargs"] = _merge("synthesis", kwargs.get("synthesis_kwargs"), SYNTHESIS_DEFAULTS)
    m, s = kwargs["mapping_kwargs"], kwargs["synthesis_kwargs"]
    checks = [(s["architecture"] == "skip", f"generator architecture {s['architecture']!r} (only 'skip', the "
                                            "architecture of NVIDIA's StyleGAN2-ADA releases)"),
              (s["kernel_size"] == 3, f"kernel_size {s['kernel_size']} (only 3)"),
              (s["activation"] == "lrelu" and m["activation"] == "lrelu", "activations other than 'lrelu'"),
              (kwargs["img_channels"] in (1, 3), f"{kwargs['img_channels']} image channels (only 1 or 3)"),
              (kwargs["z_dim"] > 0, "z_dim 0")]
    for ok, what in checks:
        if not ok:
            raise CheckpointError(f"unsupported StyleGAN2-ADA configuration: {what}.")
    return kwargs


def build_config(up: dict) -> StyleGAN2Config:
    m, s = up["mapping_kwargs"], up["synthesis_kwargs"]
    taps = s["resample_filter"]
    taps = tuple(tuple(float(v) for v in row) if isinstance(row, (list, tuple)) else float(row) for row in taps)
    return StyleGAN2Config(
        z_dim=int(up["z_dim"]), w_dim=int(up["w_dim"]), mapping_layers=int(m["num_layers"]),
        mapping_lr_mul=float(m["lr_multiplier"]), channels_base=int(s["channel_base"]),
        channels_max=int(s["channel_max"]), image_size=int(up["img_resolution"]), channels=int(up["img_channels"]),
        num_classes=int(up["c_dim"]), w_avg_beta=float(m["w_avg_beta"] if m["w_avg_beta"] is not None else 0.995),
        resampling="fir", resample_filter=taps, channel_rule="nvlabs",
        conv_clamp=None if s["conv_clamp"] is None else float(s["conv_clamp"]), use_noise=bool(s["use_noise"]),
        mapping_embed_dim=int(m["embed_features"] or 0), mapping_hidden_dim=int(m["layer_features"] or 0),
        num_fp16_res=int(s["num_fp16_res"]))


def tensor_name(key: str, resolutions: list[int]) -> str | None:
    """Upstream state-dict key → ganlab key (None for the buffers upstream never reads)."""
    if key == "synthesis.b4.resample_filter" or key.endswith(".conv1.resample_filter"):
        return None
    if key.startswith("mapping."):
        rest = key[len("mapping."):]
        if rest.startswith("fc"):
            idx, tail = rest[2:].split(".", 1)
            return f"mapping_net.layers.{int(idx)}.{tail}"
        return "mapping_net." + rest                                          # embed.*, w_avg
    parts = key.split(".")
    if parts[0] != "synthesis" or not parts[1].startswith("b"):
        raise CheckpointError(f"unexpected tensor {key!r} in G_ema.")
    res = int(parts[1][1:])
    if res not in resolutions:
        raise CheckpointError(f"tensor {key!r} belongs to no block of a {resolutions[-1]}-px generator.")
    i = resolutions.index(res)                                                # block index: 0 for 4×4
    layer, tail = parts[2], ".".join(parts[3:])
    if layer == "const":
        return "synthesis_net.const"
    if layer == "resample_filter":                                            # up-samples the previous image
        return f"synthesis_net.torgbs.{i}.up_filter"
    if layer == "torgb":
        return f"synthesis_net.torgbs.{i}.{tail}"
    conv = {"conv0": 2 * i - 1, "conv1": 2 * i}.get(layer)
    if conv is None or conv < 0:
        raise CheckpointError(f"unexpected tensor {key!r} in G_ema.")
    tail = "up_filter" if tail == "resample_filter" else tail
    return f"synthesis_net.convs.{conv}.{tail}"


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


def _plain(x):
    """JSON-safe copy of upstream data (sets → sorted lists, anything unusual → its repr)."""
    if isinstance(x, dict):
        return {str(k): _plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_plain(v) for v in x]
    if isinstance(x, (set, frozenset)):
        return sorted((_plain(v) for v in x), key=repr)
    if x is None or isinstance(x, (bool, int, float, str)):
        return x
    return repr(x)[:200]


def _dataset_name(kwargs) -> str:
    path = str((kwargs or {}).get("path", "")) if isinstance(kwargs, dict) else ""
    stem = Path(path).name.split(".")[0] if path and " " not in path else ""
    return stem.lower()


def convert(path: str | Path, network: str = "G_ema", dataset: str | None = None, licence: str | None = None):
    """Read ``network`` (default the averaged generator ``G_ema``, as NVlabs' generate.py) from the pickle →
    (ganlab Generator, dataset name, upstream configuration, licence)."""
    if network not in ("G_ema", "G"):
        raise CheckpointError(f"network must be 'G_ema' or 'G', got {network!r}.")
    with open(path, "rb") as f:
        head = f.read(1 << 16)
    if b"dnnlib.tflib" in head:
        raise CheckpointError(f"{path}: a TensorFlow StyleGAN2 pickle; convert it with NVlabs' legacy.py first "
                              "(ganlab reads the PyTorch pickles).")
    data = _pickle.load_pickle(path)
    g = data.get(network) if isinstance(data, dict) else None
    if not isinstance(g, _pickle.PersistedObject):
        raise CheckpointError(f"{path}: no persisted {network!r} generator in the pickle "
                              f"(keys: {sorted(data) if isinstance(data, dict) else type(data).__name__}).")
    try:
        model, upstream = convert_network(g)
    except CheckpointError as e:
        raise CheckpointError(f"{path}: {e}") from None
    kwargs = data.get("training_set_kwargs") or {}
    upstream.update(network=network, training_set_kwargs=_plain(kwargs))
    return model, dataset if dataset is not None else _dataset_name(kwargs), upstream, licence or LICENCE_DEFAULT


def convert_network(g: _pickle.PersistedObject) -> tuple[Generator, dict]:
    """A persisted upstream Generator (plain data) → (ganlab Generator in eval mode, upstream configuration)."""
    try:
        _check_modules(g)
        up = upstream_config(g)
        config = build_config(up)
        model = Generator(config)
    except (ValueError, TypeError) as e:
        raise CheckpointError(str(e)) from None
    resolutions = config.resolutions
    target = model.state_dict()
    state, unused = {}, []
    for key, tensor in g.state_dict().items():
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
    upstream = {"class_name": "training.networks.Generator", "init_kwargs": _plain(up), "persistence_version": g.version,
                "module_src_sha256": g.module_src_sha256, "unused_tensors": unused}
    if config.num_fp16_res:
        upstream["note"] = f"upstream runs its {config.num_fp16_res} highest-resolution blocks in fp16; ganlab in fp32"
    return model.eval(), upstream
