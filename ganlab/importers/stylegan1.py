"""Importer of StyleGAN (v1) state dicts of the lecture's PyTorch port (lernapparat's conversion of NVIDIA's
weights, ``karras2019stylegan-ffhq-1024x1024.for_g_all.pt`` / the lecture's ``weights_stylegan.pt``): a plain
``torch.save(model.state_dict())`` of ``nn.Sequential(g_mapping=G_mapping(), g_synthesis=G_synthesis())``.

Tensor table (port → ganlab ``stylegan1``; ``R`` = 4, 8, …, block ``k`` = log2(R) − 2):

    g_mapping.dense{i}.{weight,bias}                      → mapping_net.{i}.{weight,bias}
    g_synthesis.blocks.4x4.{const,bias}                   → blocks.0.{const,bias}
    g_synthesis.blocks.4x4.conv.{weight,bias}             → blocks.0.conv.{weight,bias}
    g_synthesis.blocks.RxR.conv0_up.{weight,bias}         → blocks.k.conv0.{weight,bias}
    g_synthesis.blocks.RxR.conv0_up.intermediate.kernel   → blocks.k.conv0.blur     (the blur filter, from the file)
    g_synthesis.blocks.RxR.conv1.{weight,bias}            → blocks.k.conv.{weight,bias}
    g_synthesis.blocks.RxR.epi{1,2}.top_epi.noise.weight  → blocks.k.epi{1,2}.noise_strength
    g_synthesis.blocks.RxR.epi{1,2}.style_mod.lin.{w,b}   → blocks.k.epi{1,2}.style.{weight,bias}
    g_synthesis.torgb.{weight,bias}                       → to_rgb.{weight,bias}

Read from the tensors: z and w sizes, mapping depth, channels per block, resolution, output channels, the blur
filter (and whether there is one). Not in the file, taken as the port's defaults: leaky ReLU activations,
equalised learning rate, instance norm, no pixel norm in synthesis, mapping lr multiplier 0.01, 18 dlatents, the
fused up-conv from 128 px. The file has no average latent: ``w_avg`` is estimated as the mean of w over
``w_avg_samples`` (default 10,000) seeded latents; a file that has ``truncation.avg_latent`` (lernapparat's notebook
variant with the Truncation module) provides it instead.
Also read from the tensors: ``use_noise`` (noise weights present or not) and ``const_input_layer`` (``blocks.4x4.const``
or ``blocks.4x4.dense``). Refused with a message: layers without styles, noise on some layers only, more blocks than
18 dlatents cover (2048 px and up), even-sized blur filters.
"""
from __future__ import annotations

import re
from pathlib import Path

from ..models import CheckpointError
from ..models.stylegan1 import Generator
from . import _torchfile

NAME = "stylegan1"
DESCRIPTION = "StyleGAN v1 state dict of the lecture's PyTorch port (g_mapping.*, g_synthesis.*)"
OPTIONS = {"w_avg_samples": range(1, 1_000_001)}   # checked by ganlab.importers.check_options
_SIGNATURE = ("g_mapping.dense0.weight", "g_synthesis.blocks.4x4.epi1.style_mod.lin.weight", "g_synthesis.torgb.weight")


def detect(path) -> bool:
    keys = _torchfile.state_keys(Path(path))
    return all(k in keys for k in _SIGNATURE)


def convert(path, w_avg_samples: int = 10000, dataset: str = "", licence: str = ""):
    """``dataset`` / ``licence`` label the checkpoint (the port's file records neither)."""
    path = Path(path)
    what = f"{path} ({NAME})"
    sd = _torchfile.tensor_dict(_torchfile.load(path, what), what)
    n_map = sum(1 for k in sd if re.fullmatch(r"g_mapping\.dense\d+\.weight", k))
    res = sorted(int(m.group(1)) for k in sd if (m := re.fullmatch(r"g_synthesis\.blocks\.(\d+)x\1\.epi1\.style_mod\."
                                                                    r"lin\.weight", k)))
    n = len(res)
    if n_map == 0 or n == 0 or res != [4 * 2**k for k in range(n)]:
        raise CheckpointError(f"{what}: not the port's layout (mapping layers: {n_map}, styled blocks: {res}).")
    noise_keys = [k for k in sd if k.endswith(".top_epi.noise.weight")]
    use_noise = bool(noise_keys)
    if use_noise and len(noise_keys) != 2 * n:
        raise CheckpointError(f"{what}: noise inputs on {len(noise_keys)} of {2 * n} layers; the port has all or none.")
    const_input = "g_synthesis.blocks.4x4.const" in sd
    if 2 * n > 18:
        raise CheckpointError(f"{what}: {n} blocks ({res[-1]} px) need {2 * n} dlatents; the port broadcasts 18.")
    z_dim = int(sd["g_mapping.dense0.weight"].shape[1])
    w_dim = int(sd[f"g_mapping.dense{n_map - 1}.weight"].shape[0])
    ch = [int(sd[f"g_synthesis.blocks.{r}x{r}.epi1.style_mod.lin.weight"].shape[0]) // 2 for r in res]
    rgb = int(sd["g_synthesis.torgb.weight"].shape[0]) if "g_synthesis.torgb.weight" in sd else 0
    if rgb not in (1, 3):
        raise CheckpointError(f"{what}: {rgb} output channels; ganlab shows 1 (grey) or 3 (colour).")
    blur = {r: sd.get(f"g_synthesis.blocks.{r}x{r}.conv0_up.intermediate.kernel") for r in res[1:]}
    sizes = {tuple(b.shape) if b is not None else None for b in blur.values()}
    if len(sizes) > 1:
        raise CheckpointError(f"{what}: blur filters of different sizes per block ({sizes}) are not supported.")
    shape = next(iter(sizes)) if sizes else None
    taps = 0 if shape is None else int(shape[-1])
    if shape is not None and (len(shape) != 4 or shape[:2] != (1, 1) or shape[2] != shape[3] or taps % 2 == 0):
        raise CheckpointError(f"{what}: blur filter of shape {shape}; the port's is (1, 1, t, t) with t odd.")

    table, used = {}, set()

    def t(key, shape):
        used.add(key)
        return _torchfile.take(sd, key, shape, what)

    for i in range(n_map):
        i_dim = z_dim if i == 0 else w_dim
        table[f"mapping_net.{i}.weight"] = t(f"g_mapping.dense{i}.weight", (w_dim, i_dim))
        table[f"mapping_net.{i}.bias"] = t(f"g_mapping.dense{i}.bias", (w_dim,))
    for k, r in enumerate(res):
        src, dst, c = f"g_synthesis.blocks.{r}x{r}", f"blocks.{k}", ch[k]
        if k == 0 and const_input:
            table[f"{dst}.const"] = t(f"{src}.const", (1, c, 4, 4))
            table[f"{dst}.bias"] = t(f"{src}.bias", (c,))
            conv = "conv"
        elif k == 0:                                                   # const_input_layer=False: a dense layer
            table[f"{dst}.dense.weight"] = t(f"{src}.dense.weight", (16 * c, w_dim))
            table[f"{dst}.dense.bias"] = t(f"{src}.dense.bias", (16 * c,))
            conv = "conv"
        else:
            table[f"{dst}.conv0.weight"] = t(f"{src}.conv0_up.weight", (c, ch[k - 1], 3, 3))
            table[f"{dst}.conv0.bias"] = t(f"{src}.conv0_up.bias", (c,))
            if taps:
                table[f"{dst}.conv0.blur"] = t(f"{src}.conv0_up.intermediate.kernel", (1, 1, taps, taps))
            conv = "conv1"
        table[f"{dst}.conv.weight"] = t(f"{src}.{conv}.weight", (c, c, 3, 3))
        table[f"{dst}.conv.bias"] = t(f"{src}.{conv}.bias", (c,))
        for e in ("epi1", "epi2"):
            if f"{src}.{e}.style_mod.lin.weight" not in sd:
                raise CheckpointError(f"{what}: {src}.{e} has no style input; unstyled layers are not supported.")
            if use_noise:
                table[f"{dst}.{e}.noise_strength"] = t(f"{src}.{e}.top_epi.noise.weight", (c,))
            table[f"{dst}.{e}.style.weight"] = t(f"{src}.{e}.style_mod.lin.weight", (2 * c, w_dim))
            table[f"{dst}.{e}.style.bias"] = t(f"{src}.{e}.style_mod.lin.bias", (2 * c,))
    table["to_rgb.weight"] = t("g_synthesis.torgb.weight", (rgb, ch[-1], 1, 1))
    table["to_rgb.bias"] = t("g_synthesis.torgb.bias", (rgb,))
    avg = sd.get("truncation.avg_latent")
    left = set(sd) - {"truncation.avg_latent"} - used
    if left:
        raise CheckpointError(f"{what}: unexpected tensors {sorted(left)[:4]} (not part of the port's generator).")

    model = Generator({"z_dim": z_dim, "w_dim": w_dim, "mapping_layers": n_map, "block_channels": tuple(ch),
                       "image_size": res[-1], "channels": rgb, "blur_taps": taps, "use_noise": use_noise,
                       "const_input": const_input})
    own = model.state_dict()
    table.update({k: v for k, v in own.items() if k.endswith("noise_const") or k == "w_avg"})  # ganlab's own
    _torchfile.fill(model, table, what)
    if avg is not None:
        model.w_avg.copy_(t("truncation.avg_latent", (w_dim,)))
        avg_note = "from the file (truncation.avg_latent)"
    else:
        model.estimate_w_avg(w_avg_samples)
        avg_note = f"estimated: mean of w over {w_avg_samples} latents (seed 0)"
    upstream = {"G_mapping": {"latent_size": z_dim, "dlatent_size": w_dim, "num_layers": n_map, "lrmul": 0.01,
                              "broadcast": 18},
                "G_synthesis": {"dlatent_size": w_dim, "num_channels": rgb, "resolution": res[-1],
                                "channels_per_block": dict(zip((f"{r}x{r}" for r in res), ch)),
                                "blur_filter": (f"{taps}x{taps} from the file" if taps else None),
                                "use_noise": use_noise, "const_input_layer": const_input},
                "w_avg": avg_note}
    return model.eval(), dataset or "", upstream, licence or ""

