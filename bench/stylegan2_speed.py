"""Speed of the official StyleGAN2-ADA generator on this CPU: the 1024-px FFHQ configuration, random weights.

    python bench/stylegan2_speed.py [--threads 2] [--repeats 3]

Prints, for batch 1:
- GFLOP per image (counted by torch's FlopCounterMode on ganlab's path) and, for ganlab's default exact fp32
  path and for a reference written here the way upstream's CPU code computes (``force_fp32=True``: per-sample
  modulated weights in a grouped convolution, ``conv2d_resample``'s transposed conv, ``upfirdn2d``'s reference
  zero-insert/pad/depthwise-conv route, ``bias_act``'s reference ops), seconds per image (best of interleaved
  runs in the same process, and the median) and achieved GFLOP/s; the ratio ganlab / reference (target ≤ 0.6) and their max
  |difference| (target ≤ 1e-3);
- an optional bf16 autocast mode: its time and its max |difference| from fp32 (images in [-1, 1]);
- the fast preview ``synthesis(ws, max_resolution=256)``;
- conversion time (an in-memory FFHQ-size network as the unpickler yields it → ganlab model → checkpoint folder)
  and the load time and RSS of a fresh process that loads the folder and renders one image.
"""
from __future__ import annotations

import argparse
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from ganlab import checkpoint  # noqa: E402
from ganlab.importers import _pickle, stylegan2_ada  # noqa: E402
from ganlab.models.stylegan2 import Generator, StyleGAN2Config  # noqa: E402

FFHQ_KWARGS = dict(z_dim=512, c_dim=0, w_dim=512, img_resolution=1024, img_channels=3,
                   mapping_kwargs=dict(num_layers=8),
                   synthesis_kwargs=dict(channel_base=32768, channel_max=512, num_fp16_res=4, conv_clamp=256))


# -- the reference: upstream's CPU computation, op for op --------------------------------------------------------
def ref_upfirdn2d(x, f, up=1, pad=(0, 0, 0, 0), gain=1.0):
    n, c, h, w = x.shape
    x = F.pad(x.reshape(n, c, h, 1, w, 1), [0, up - 1, 0, 0, 0, up - 1]).reshape(n, c, h * up, w * up)
    x0, x1, y0, y1 = pad
    x = F.pad(x, [max(x0, 0), max(x1, 0), max(y0, 0), max(y1, 0)])
    x = x[:, :, max(-y0, 0): x.shape[2] - max(-y1, 0), max(-x0, 0): x.shape[3] - max(-x1, 0)]
    f = (f * gain ** (f.ndim / 2)).flip([0, 1])
    return F.conv2d(x, f[None, None].repeat(c, 1, 1, 1), groups=c)


def ref_conv2d_resample(x, w, f, up, padding, groups, flip_weight):
    out_ch, in_per_group, kh, kw = w.shape
    fh, fw = f.shape if f is not None else (1, 1)
    px0 = px1 = py0 = py1 = padding
    if up > 1:
        px0 += (fw + up - 1) // 2
        px1 += (fw - up) // 2
        py0 += (fh + up - 1) // 2
        py1 += (fh - up) // 2
        w = w.reshape(groups, out_ch // groups, in_per_group, kh, kw).transpose(1, 2)
        w = w.reshape(groups * in_per_group, out_ch // groups, kh, kw)
        px0 -= kw - 1
        px1 -= kw - up
        py0 -= kh - 1
        py1 -= kh - up
        pxt, pyt = max(min(-px0, -px1), 0), max(min(-py0, -py1), 0)
        if flip_weight:                       # _conv2d_wrapper(flip_weight=not flip_weight)
            w = w.flip([2, 3])
        x = F.conv_transpose2d(x, w, stride=up, padding=[pyt, pxt], groups=groups)
        return ref_upfirdn2d(x, f, pad=(px0 + pxt, px1 + pxt, py0 + pyt, py1 + pyt), gain=up ** 2)
    if not flip_weight:
        w = w.flip([2, 3])
    return F.conv2d(x, w, padding=[py0, px0], groups=groups)


def ref_modulated_conv2d(x, weight, styles, demodulate=True, up=1, padding=0, f=None, flip_weight=True):
    n = x.shape[0]
    out_ch, in_ch, kh, kw = weight.shape
    w = weight.unsqueeze(0) * styles.reshape(n, 1, -1, 1, 1)                  # (N, O, I, k, k)
    if demodulate:
        w = w * (w.square().sum(dim=[2, 3, 4]) + 1e-8).rsqrt().reshape(n, -1, 1, 1, 1)
    x = ref_conv2d_resample(x.reshape(1, -1, *x.shape[2:]), w.reshape(-1, in_ch, kh, kw), f, up, padding, n,
                            flip_weight)
    return x.reshape(n, -1, *x.shape[2:])


def ref_bias_act(x, b, lrelu, clamp):
    x = x + b.reshape(1, -1, 1, 1)
    if lrelu:
        x = F.leaky_relu(x, 0.2) * math.sqrt(2)
    return x.clamp(-clamp, clamp) if clamp is not None else x


def ref_affine(layer, w):
    return torch.addmm(layer.bias.unsqueeze(0) * layer.lr_mul, w, (layer.weight * layer.scale).t())


def ref_layer(layer, x, w):
    up = 2 if layer.up else 1
    x = ref_modulated_conv2d(x, layer.weight, ref_affine(layer.affine, w), up=up, padding=1,
                             f=layer.up_filter if layer.up else None, flip_weight=(up == 1))
    x = x.add_(layer.noise_const * layer.noise_strength)
    return ref_bias_act(x, layer.bias, True, layer.clamp)


def ref_torgb(t, x, w):
    x = ref_modulated_conv2d(x, t.weight, ref_affine(t.affine, w) * t.scale, demodulate=False)
    return ref_bias_act(x, t.bias, False, t.clamp)


def ref_synthesis(net, ws):
    x = net.const.unsqueeze(0).repeat(ws.shape[0], 1, 1, 1)
    x = ref_layer(net.convs[0], x, ws[:, 0])
    img = ref_torgb(net.torgbs[0], x, ws[:, 1])
    for i, t in enumerate(net.torgbs[1:]):
        x = ref_layer(net.convs[1 + 2 * i], x, ws[:, 1 + 2 * i])
        x = ref_layer(net.convs[2 + 2 * i], x, ws[:, 2 + 2 * i])
        img = ref_upfirdn2d(img, t.up_filter, up=2, pad=(2, 1, 2, 1), gain=4).add_(ref_torgb(t, x, ws[:, 3 + 2 * i]))
    return img


# -- the FFHQ-size network ---------------------------------------------------------------------------------------
def upstream_network(seed: int = 0, kwargs: dict = FFHQ_KWARGS) -> _pickle.PersistedObject:
    """A random Generator (by default of the FFHQ configuration; ``kwargs`` are upstream's constructor arguments,
    unconditional) as the safe unpickler yields it from an NVIDIA pickle (plain data: upstream tensor names,
    constructor arguments), with non-trivial noise strengths, biases and filters."""
    g = torch.Generator().manual_seed(seed)
    config = stylegan2_ada.build_config(stylegan2_ada.upstream_config(_persisted("Generator", kwargs, {})))
    model = Generator(config)
    res = config.resolutions
    tree: dict = {}
    for r in res:
        b = f"synthesis.b{r}"
        names = [f"{b}.resample_filter"] + ([f"{b}.const"] if r == 4 else [])
        for conv in (["conv1"] if r == 4 else ["conv0", "conv1"]):
            names += [f"{b}.{conv}.{t}" for t in ("weight", "bias", "noise_strength", "noise_const",
                                                  "resample_filter", "affine.weight", "affine.bias")]
        names += [f"{b}.torgb.{t}" for t in ("weight", "bias", "affine.weight", "affine.bias")]
        for name in names:
            target = stylegan2_ada.tensor_name(name, res)
            t = model.state_dict()[target].clone() if target else torch.full((4, 4), 1 / 16)
            if name.endswith(("noise_strength", "bias", "resample_filter")):
                t = t + 0.05 * torch.randn(t.shape, generator=g)
            tree[name] = t
    for j in range(kwargs["mapping_kwargs"]["num_layers"]):
        tree[f"mapping.fc{j}.weight"] = model.state_dict()[f"mapping_net.layers.{j}.weight"]
        tree[f"mapping.fc{j}.bias"] = 0.1 * torch.randn(kwargs["w_dim"], generator=g)
    tree["mapping.w_avg"] = torch.randn(kwargs["w_dim"], generator=g)
    return _nest(tree, kwargs)


def _persisted(class_name, kwargs, tensors, modules=None):
    state = {"_init_args": (), "_init_kwargs": kwargs, "_parameters": tensors, "_buffers": {}, "_modules": modules or {}}
    return _pickle.PersistedObject(dict(type="class", version=6, module_src="", class_name=class_name, state=state))


def _nest(flat: dict, kwargs: dict) -> _pickle.PersistedObject:
    kinds = {"synthesis": "SynthesisNetwork", "mapping": "MappingNetwork"}

    def build(prefix, keys, class_name, kwargs):
        tensors = {k: flat[prefix + k] for k in keys if "." not in k}
        children = sorted({k.split(".")[0] for k in keys if "." in k})
        modules = {c: build(f"{prefix}{c}.", [k[len(c) + 1:] for k in keys if k.startswith(c + ".")],
                            kinds.get(c, "SynthesisBlock" if c.startswith("b") and prefix == "synthesis." else "Layer"),
                            {}) for c in children}
        return _persisted(class_name, kwargs, tensors, modules)
    return build("", list(flat), "Generator", kwargs)


class _Persisted:
    """Pickles as NVIDIA's persistence does: ``torch_utils.persistence._reconstruct_persistent_obj(meta)``."""

    def __init__(self, obj: _pickle.PersistedObject):
        state = {"training": False, "_parameters": {k: v.clone() for k, v in obj.parameters.items()},
                 "_buffers": {k: v.clone() for k, v in obj.buffers.items()},
                 "_modules": {k: _Persisted(v) for k, v in obj.modules.items()}, "_init_args": obj.init_args,
                 "_init_kwargs": obj.init_kwargs}
        self.meta = dict(type="class", version=6, module_src="# (upstream source would be here)\n",
                         class_name=obj.class_name, state=state)

    def __reduce__(self):
        return _reconstruct_persistent_obj, (self.meta,)


def _reconstruct_persistent_obj(meta):   # never called: only its name goes into the pickle
    raise RuntimeError("not for loading")


def write_nvidia_like_pickle(g: _pickle.PersistedObject, path: Path) -> None:
    """A snapshot pickle with G and G_ema (D and augment_pipe left out) in the layout of NVIDIA's files."""
    import pickle
    import types
    fake = types.ModuleType("torch_utils.persistence")
    fake._reconstruct_persistent_obj = _reconstruct_persistent_obj
    _reconstruct_persistent_obj.__module__ = "torch_utils.persistence"
    sys.modules.update({"torch_utils": types.ModuleType("torch_utils"), "torch_utils.persistence": fake})
    try:
        with open(path, "wb") as f:
            pickle.dump({"training_set_kwargs": {"path": "ffhq.zip"}, "G": _Persisted(g), "G_ema": _Persisted(g),
                         "augment_pipe": None}, f)
    finally:
        del sys.modules["torch_utils"], sys.modules["torch_utils.persistence"]


# -- measurements ------------------------------------------------------------------------------------------------
def timed(fn):
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def gflop(fn) -> float:
    with FlopCounterMode(display=False) as counter:
        fn()
    return counter.get_total_flops() / 1e9


LOAD_SNIPPET = """
import resource, sys, time, torch
torch.set_num_threads({threads})
import ganlab
rss = lambda: int(open('/proc/self/statm').read().split()[1]) * 4096 / 2**20
rss_import = rss()
t = time.perf_counter()
m = ganlab.load(sys.argv[1])
t_load = time.perf_counter() - t
rss_loaded = rss()
with torch.inference_mode():
    img = m.generate(torch.randn(1, m.z_dim))
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(f"{{t_load:.2f}} {{rss_import:.0f}} {{rss_loaded:.0f}} {{peak:.0f}}")
"""


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=5)
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    print(f"StyleGAN2-ADA 1024 px FFHQ configuration {FFHQ_KWARGS}, random weights, batch 1, {a.threads} threads, "
          f"torch {torch.__version__}")

    g = upstream_network()
    with tempfile.TemporaryDirectory() as tmp:
        pkl = Path(tmp) / "ffhq-like.pkl"
        write_nvidia_like_pickle(g, pkl)
        del g
        t_read, _ = timed(lambda: _pickle.load_pickle(pkl))
        t_convert, (model, *_) = timed(lambda: stylegan2_ada.convert(pkl))
        print(f"NVIDIA-layout pickle ({pkl.stat().st_size / 2**20:.0f} MB: G and G_ema, no D): safe unpickling "
              f"{t_read:.2f} s; full conversion (unpickle + build + check) {t_convert:.2f} s")
        pkl.unlink()
        t_save, _ = timed(lambda: checkpoint.save(model, Path(tmp) / "ffhq-random"))
        size = (Path(tmp) / "ffhq-random" / "model.safetensors").stat().st_size / 2**20
        out = subprocess.run([sys.executable, "-c", LOAD_SNIPPET.format(threads=a.threads), str(Path(tmp) / "ffhq-random")],
                             capture_output=True, text=True, check=True, cwd=Path(__file__).resolve().parent.parent)
        t_load, rss_import, rss_loaded, rss_peak = out.stdout.split()
    print(f"writing the checkpoint folder: {t_save:.2f} s "
          f"({size:.0f} MB safetensors, {model.num_parameters() / 1e6:.1f} M parameters)")
    print(f"fresh process: ganlab.load {float(t_load):.2f} s; RSS {rss_import} MB after `import ganlab`, {rss_loaded} MB "
          f"with the model loaded (+{int(rss_loaded) - int(rss_import)} MB), peak {rss_peak} MB after one 1024-px image")

    net = model.synthesis_net
    with torch.inference_mode():
        ws = model.mapping_net(torch.randn(1, 512, generator=torch.Generator().manual_seed(1)))
        fl = gflop(lambda: net(ws, "const"))
        fl_ref = gflop(lambda: ref_synthesis(net, ws))
        ours, ref = net(ws, "const"), ref_synthesis(net, ws)                 # also the warm-up
        diff = float((ours - ref).abs().max())
        t_ours, t_ref, c_ours, c_ref = [], [], [], []
        for _ in range(a.repeats):                                           # interleaved: the same load for both
            c = time.process_time()
            t_ref.append(timed(lambda: ref_synthesis(net, ws))[0])
            c_ref.append(time.process_time() - c)
            c = time.process_time()
            t_ours.append(timed(lambda: net(ws, "const"))[0])
            c_ours.append(time.process_time() - c)
        so, sr = min(t_ours), min(t_ref)                                     # best of N: the least disturbed run
        print(f"GFLOP per image: {fl:.1f} (ganlab's route), {fl_ref:.1f} (reference route)")
        print(f"reference (upstream-style fp32 CPU path): {sr:.2f} s/image (best of {a.repeats}; median "
              f"{statistics.median(t_ref):.2f}), {fl_ref / sr:.0f} GFLOP/s  (runs: {', '.join(f'{t:.2f}' for t in t_ref)})")
        print(f"ganlab exact fp32:                        {so:.2f} s/image (best of {a.repeats}; median "
              f"{statistics.median(t_ours):.2f}), {fl / so:.0f} GFLOP/s  (runs: {', '.join(f'{t:.2f}' for t in t_ours)})")
        print(f"ratio ganlab / reference: {so / sr:.2f} best-of, {statistics.median(t_ours) / statistics.median(t_ref):.2f} "
              f"median (target ≤ 0.6); max |ganlab − reference| = {diff:.2e} (target ≤ 1e-3; max |image| "
              f"{float(ref.abs().max()):.2f})")
        cr, co = statistics.median(c_ref), statistics.median(c_ours)
        print(f"CPU seconds per image (all threads; steadier than wall time when other processes share the CPU): "
              f"reference {cr:.2f}, ganlab {co:.2f}, ratio {co / cr:.2f}; /{a.threads} threads = {co / a.threads:.2f} s "
              f"(≈ ganlab's wall time on an idle machine, {fl / (co / a.threads):.0f} GFLOP/s)")
        load = open("/proc/loadavg").read().split()[:3] if Path("/proc/loadavg").is_file() else "?"
        print(f"load average during the run: {' '.join(load)} ({os.cpu_count()} CPUs)")

        bf = net(ws, "const", dtype=torch.bfloat16)
        t_bf = [timed(lambda: net(ws, "const", dtype=torch.bfloat16))[0] for _ in range(a.repeats)]
        err = float((bf.clamp(-1, 1) - ours.clamp(-1, 1)).abs().max())
        mean_err = float((bf.clamp(-1, 1) - ours.clamp(-1, 1)).abs().mean())
        print(f"ganlab bf16 (synthesis(..., precision='bf16'), optional): {min(t_bf):.2f} s/image (best of {a.repeats}; "
              f"median {statistics.median(t_bf):.2f}); vs fp32 max |d| {err:.3f}, mean |d| {mean_err:.4f} (images "
              "clamped to [-1, 1])")

        for res in (256, 128):
            fl_prev = gflop(lambda: net(ws, "const", max_resolution=res))
            t_prev = min(timed(lambda: net(ws, "const", max_resolution=res))[0] for _ in range(a.repeats))
            print(f"preview synthesis(ws, max_resolution={res}): {t_prev:.3f} s/image ({res}×{res}, {fl_prev:.1f} GFLOP)")
        t_map = min(timed(lambda: model.mapping_net(torch.randn(1, 512)))[0] for _ in range(a.repeats))
        print(f"mapping network: {t_map * 1000:.1f} ms")


if __name__ == "__main__":
    main()
