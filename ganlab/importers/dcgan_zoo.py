"""Importer of facebookresearch/pytorch_GAN_zoo DCGAN checkpoints (``model.save()`` of ``models.DCGAN``, what
``torch.hub.load('facebookresearch/pytorch_GAN_zoo:hub', 'DCGAN', pretrained=True)`` downloads).

Tensor table (zoo ``DCGAN_nets.GNet`` → ganlab ``dcgan-radford``):

    formatLayer.weight              → blocks.0.0.weight     ConvTranspose z → dimG·2**depth, 4×4, stride 1
    main.batchNorm{i}.*             → blocks.{i}.1.*        BatchNorm after each transposed conv
    main.convTranspose{i}.weight    → blocks.{i}.0.weight   ConvTranspose 4×4 stride 2, i = 1 … depth
    main.outlayer.weight            → out.weight            ConvTranspose to dimOutput

The last activation follows the zoo's loss (tanh for DCGAN / MSE, none for WGAN-GP / logistic). Options:
``avg=True`` imports the checkpoint's averaged generator ``avgG`` instead of ``netG`` (see ``_zoo``); ``dataset`` /
``licence`` label the checkpoint (the file records neither).
Not supported (refused): AC-GAN conditioning.
"""
from __future__ import annotations

from ..models import CheckpointError
from ..models.dcgan_radford import Generator
from . import _torchfile, _zoo

NAME = "dcgan-zoo"
DESCRIPTION = "facebookresearch/pytorch_GAN_zoo DCGAN model.save() file (config, netG, netD, avgG)"


def detect(path) -> bool:
    k = _zoo.keys(path)
    return "main.batchNorm0.running_mean" in k and "main.outlayer.weight" in k


OPTIONS = _zoo.OPTIONS


def convert(path, avg: bool = False, dataset: str = "", licence: str = ""):
    what, cfg, sd, which = _zoo.open_checkpoint(NAME, path, avg)
    depth = sum(1 for k in sd if k.startswith("main.convTranspose") and k.endswith(".weight"))
    if "formatLayer.weight" not in sd or "main.outlayer.weight" not in sd:
        raise CheckpointError(f"{what}: not a zoo DCGAN generator (formatLayer / main.outlayer missing).")
    if cfg.get("depth", depth) != depth:
        raise CheckpointError(f"{what}: config depth {cfg.get('depth')} but {depth} upsampling layers in {which}.")
    nz = int(sd["formatLayer.weight"].shape[0])
    if nz != cfg.get("latentVectorDim", nz):
        raise CheckpointError(f"{what}: latent size {nz} does not match the config's {cfg.get('latentVectorDim')}.")
    fm = [int(sd["formatLayer.weight"].shape[1])] + [int(sd[f"main.convTranspose{i}.weight"].shape[1])
                                                      for i in range(1, depth + 1)]
    channels = int(sd["main.outlayer.weight"].shape[1])
    if channels not in (1, 3):
        raise CheckpointError(f"{what}: {channels} output channels; ganlab shows 1 (grey) or 3 (colour).")
    table = {"blocks.0.0.weight": _torchfile.take(sd, "formatLayer.weight", (nz, fm[0], 4, 4), what),
             "out.weight": _torchfile.take(sd, "main.outlayer.weight", (fm[-1], channels, 4, 4), what)}
    used = {"formatLayer.weight", "main.outlayer.weight"}
    for i in range(depth + 1):
        if i:
            table[f"blocks.{i}.0.weight"] = _torchfile.take(sd, f"main.convTranspose{i}.weight",
                                                           (fm[i - 1], fm[i], 4, 4), what)
            used.add(f"main.convTranspose{i}.weight")
        for p in ("weight", "bias", "running_mean", "running_var"):
            table[f"blocks.{i}.1.{p}"] = _torchfile.take(sd, f"main.batchNorm{i}.{p}", (fm[i],), what)
            used.add(f"main.batchNorm{i}.{p}")
        if f"main.batchNorm{i}.num_batches_tracked" in sd:
            table[f"blocks.{i}.1.num_batches_tracked"] = sd[f"main.batchNorm{i}.num_batches_tracked"]
            used.add(f"main.batchNorm{i}.num_batches_tracked")
    if set(sd) - used:
        raise CheckpointError(f"{what}: unexpected tensors in {which}: {sorted(set(sd) - used)[:4]}.")
    model = Generator({"z_dim": nz, "feature_maps": tuple(fm), "channels": channels,
                       "image_size": 4 * 2 ** (depth + 1), "output_activation": _zoo.ACTIVATION[cfg["lossCriterion"]]})
    _torchfile.fill(model, table, what)
    return model.eval(), dataset or "", _zoo.upstream_config(cfg, which), licence or ""
