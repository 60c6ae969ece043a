"""Importer of facebookresearch/pytorch_GAN_zoo Progressive GAN checkpoints (``model.save()`` of
``models.progressive_gan.ProgressiveGAN``: what ``torch.hub.load('facebookresearch/pytorch_GAN_zoo:hub', 'PGAN',
model_name='celebAHQ-512', pretrained=True)`` downloads).

Tensor table (zoo ``progressive_conv_net.GNet`` → ganlab ``progan``; the zoo's ``ConstrainedLayer`` saves its
wrapped layer's tensors under ``.module.``):

    formatLayer.module.{weight,bias}        → format_layer.{weight,bias}   linear z → 16·depthScale0
    groupScale0.0.module.{weight,bias}      → scale0.{weight,bias}         3×3 conv at 4×4
    scaleLayers.{k}.{j}.module.{weight,bias}→ scales.{k}.{j}.{weight,bias} two 3×3 convs per further scale
    toRGBLayers.{k}.module.{weight,bias}    → to_rgb.{k}.{weight,bias}     1×1 convs, one per scale

Configuration from the checkpoint's ``config``: depthScale0 / depthOtherScales (checked against the tensors),
leakyReluLeak, perChannelNormalization, equalizedlR, alpha, dimOutput, and the loss (→ the last activation).
Options: ``avg=True`` imports the averaged generator ``avgG`` instead of ``netG`` (see ``_zoo``); ``dataset`` /
``licence`` label the checkpoint (the file records neither).
Not supported (refused): AC-GAN conditioning, perChannelNormalization=False (the zoo's own forward fails on it).
"""
from __future__ import annotations

from ..models import CheckpointError
from ..models.progan import Generator
from . import _torchfile, _zoo

NAME = "progan"
DESCRIPTION = "facebookresearch/pytorch_GAN_zoo PGAN model.save() file (config, netG, netD, avgG)"


def detect(path) -> bool:
    k = _zoo.keys(path)
    return "formatLayer.module.weight" in k and "toRGBLayers.0.module.weight" in k


OPTIONS = _zoo.OPTIONS


def convert(path, avg: bool = False, dataset: str = "", licence: str = ""):
    what, cfg, sd, which = _zoo.open_checkpoint(NAME, path, avg)
    n_up = len({k.split(".")[1] for k in sd if k.startswith("scaleLayers.")})
    if "formatLayer.module.weight" not in sd:
        raise CheckpointError(f"{what}: not a zoo PGAN generator (formatLayer missing in {which}).")
    nz = int(sd["formatLayer.module.weight"].shape[1])
    c0 = int(sd["groupScale0.0.module.weight"].shape[0]) if "groupScale0.0.module.weight" in sd else 0
    ch = [c0] + [int(sd[f"scaleLayers.{k}.1.module.weight"].shape[0]) if f"scaleLayers.{k}.1.module.weight" in sd
                 else 0 for k in range(n_up)]
    depths = [cfg.get("depthScale0")] + list(cfg.get("depthOtherScales") or [])
    if ch != depths:
        raise CheckpointError(f"{what}: the config's scale depths {depths} do not match the tensors' {ch}.")
    if nz != cfg.get("latentVectorDim", nz):
        raise CheckpointError(f"{what}: latent size {nz} does not match the config's {cfg.get('latentVectorDim')}.")
    rgb = int(cfg.get("dimOutput", 3))
    if rgb not in (1, 3):
        raise CheckpointError(f"{what}: {rgb} output channels; ganlab shows 1 (grey) or 3 (colour).")
    if not cfg.get("perChannelNormalization", True):
        raise CheckpointError(f"{what}: perChannelNormalization=False is not supported (the zoo's GNet needs it).")
    alpha = float(cfg.get("alpha", 0) or 0)
    table = {}

    def pair(src: str, dst: str, w_shape: tuple, b_len: int):
        table[f"{dst}.weight"] = _torchfile.take(sd, f"{src}.module.weight", w_shape, what)
        table[f"{dst}.bias"] = _torchfile.take(sd, f"{src}.module.bias", (b_len,), what)

    pair("formatLayer", "format_layer", (16 * c0, nz), 16 * c0)
    pair("groupScale0.0", "scale0", (c0, c0, 3, 3), c0)
    for k in range(n_up):
        pair(f"scaleLayers.{k}.0", f"scales.{k}.0", (ch[k + 1], ch[k], 3, 3), ch[k + 1])
        pair(f"scaleLayers.{k}.1", f"scales.{k}.1", (ch[k + 1], ch[k + 1], 3, 3), ch[k + 1])
    for k in range(n_up + 1):
        pair(f"toRGBLayers.{k}", f"to_rgb.{k}", (rgb, ch[k], 1, 1), rgb)
    if len(sd) != len(table):  # every entry above took a distinct tensor: equal counts = nothing left over
        extra = sorted(k for k in sd if not k.endswith((".module.weight", ".module.bias")))
        raise CheckpointError(f"{what}: {len(sd)} tensors in {which}, {len(table)} expected; "
                              f"unexpected e.g. {extra[:4] or sorted(sd)[:4]}.")
    model = Generator({"z_dim": nz, "scale_channels": tuple(ch), "channels": rgb, "image_size": 4 * 2 ** n_up,
                       "leaky_relu": float(cfg.get("leakyReluLeak", 0.2)),
                       "equalized_lr": bool(cfg.get("equalizedlR", True)), "alpha": alpha,
                       "output_activation": _zoo.ACTIVATION[cfg["lossCriterion"]]})
    _torchfile.fill(model, table, what)
    return model.eval(), dataset or "", _zoo.upstream_config(cfg, which), licence or ""
