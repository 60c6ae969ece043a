"""Full-size imports of the state-dict formats on this CPU: conversion time, then load time, RSS and time per
image of the imported model in a fresh process.

    python bench/import_state_dicts.py [--threads 2] [--only stylegan1,progan,dcgan-tutorial]

- ``stylegan1``: the lecture's FFHQ-1024 StyleGAN v1 port layout (z 512, 18 dlatents, fmap_base 8192, fmap_max 512),
  random weights written here in the port's key layout (26.2 M parameters); conversion includes the w_avg estimate;
- ``progan``: the zoo's celebAHQ-512 PGAN configuration (dimLatentVector 512, depthScale0 512, depthOtherScales
  [512, 512, 512, 256, 128, 64, 32]) as a zoo ``model.save()`` file with random weights;
- ``dcgan-tutorial``: the real ``gan_face_generate`` wheel from ``../shared/fixtures`` (64 px), if present.
Per-image times are the best of 3 renders of batch 1 (after one warm-up), GFLOP counted by torch's FlopCounterMode.
"""
from __future__ import annotations

import argparse
import itertools
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from ganlab.importers import import_model
from tests.hostile_files import write_zoo

WHEEL = ROOT.parent / "shared" / "fixtures" / "dcgan-tutorial" / "gan_face_generate-1.1.1-py3-none-any.whl"

PROBE = """
import json, os, sys, time, torch
sys.path.insert(0, {root!r}); sys.path.insert(0, {bench!r})
torch.set_num_threads({threads})
from torch.utils.flop_counter import FlopCounterMode
from common import rss_bytes
import ganlab
t = time.perf_counter(); m = ganlab.load({folder!r}); load = time.perf_counter() - t
z = m.latents(1, seed=0)
with torch.no_grad():
    m.generate(z)
    times = []
    for _ in range(3):
        t = time.perf_counter(); m.generate(z); times.append(time.perf_counter() - t)
    with FlopCounterMode(display=False) as fc:
        m.generate(z)
print(json.dumps(dict(load_s=load, image_s=min(times), gflop=fc.get_total_flops() / 1e9, rss_mb=rss_bytes(os.getpid()) / 2**20,
                      params=m.num_parameters(), size=m.image_size)))
"""


def port_stylegan1(path: Path, resolution: int = 1024) -> None:
    """Random weights in the lecture port's state-dict layout (``g_mapping.*``, ``g_synthesis.*``)."""
    g = torch.Generator().manual_seed(0)
    def nf(stage):  # the port's feature-map rule
        return min(int(8192 / 2.0**stage), 512)

    sd = {}
    for i in range(8):
        sd[f"g_mapping.dense{i}.weight"] = torch.randn(512, 512, generator=g) * 100   # × 1/lrmul, as the port inits
        sd[f"g_mapping.dense{i}.bias"] = torch.zeros(512)
    prev, r, k = None, 4, 2
    while r <= resolution:
        c, p = nf(k - 1), f"g_synthesis.blocks.{r}x{r}"
        if r == 4:
            sd.update({f"{p}.const": torch.ones(1, c, 4, 4), f"{p}.bias": torch.ones(c)})
            sd.update({f"{p}.conv.weight": torch.randn(c, c, 3, 3, generator=g), f"{p}.conv.bias": torch.zeros(c)})
        else:
            sd.update({f"{p}.conv0_up.weight": torch.randn(c, prev, 3, 3, generator=g), f"{p}.conv0_up.bias": torch.zeros(c),
                       f"{p}.conv0_up.intermediate.kernel": torch.tensor([[1., 2, 1], [2, 4, 2], [1, 2, 1]])[None, None] / 16,
                       f"{p}.conv1.weight": torch.randn(c, c, 3, 3, generator=g), f"{p}.conv1.bias": torch.zeros(c)})
        for e in ("epi1", "epi2"):
            sd.update({f"{p}.{e}.top_epi.noise.weight": torch.full((c,), 0.1),
                       f"{p}.{e}.style_mod.lin.weight": torch.randn(2 * c, 512, generator=g),
                       f"{p}.{e}.style_mod.lin.bias": torch.zeros(2 * c)})
        prev, r, k = c, r * 2, k + 1
    sd.update({"g_synthesis.torgb.weight": torch.randn(3, prev, 1, 1, generator=g), "g_synthesis.torgb.bias": torch.zeros(3)})
    torch.save(sd, path)


def zoo_progan(path: Path) -> None:
    """Random weights as the zoo's ``model.save()`` writes them for celebAHQ-512 (config pickled as the zoo's
    ``models.utils.config.BaseConfig``: a stand-in class is registered under that name just for writing)."""
    g = torch.Generator().manual_seed(0)
    depths = [512, 512, 512, 512, 256, 128, 64, 32]
    net = {"formatLayer.module.weight": torch.randn(16 * 512, 512, generator=g), "formatLayer.module.bias": torch.zeros(16 * 512),
           "groupScale0.0.module.weight": torch.randn(512, 512, 3, 3, generator=g), "groupScale0.0.module.bias": torch.zeros(512)}
    for k, (a, b) in enumerate(itertools.pairwise(depths)):
        net.update({f"scaleLayers.{k}.0.module.weight": torch.randn(b, a, 3, 3, generator=g),
                    f"scaleLayers.{k}.0.module.bias": torch.zeros(b),
                    f"scaleLayers.{k}.1.module.weight": torch.randn(b, b, 3, 3, generator=g),
                    f"scaleLayers.{k}.1.module.bias": torch.zeros(b)})
    for k, d in enumerate(depths):
        net.update({f"toRGBLayers.{k}.module.weight": torch.randn(3, d, 1, 1, generator=g),
                    f"toRGBLayers.{k}.module.bias": torch.zeros(3)})
    write_zoo(path, net, avg=net, depthScale0=512, depthOtherScales=depths[1:], leakyReluLeak=0.2,
              perChannelNormalization=True, alpha=0, equalizedlR=True, noiseVectorDim=512, latentVectorDim=512,
              dimOutput=3, lossCriterion="WGANGP", attribKeysOrder=None, categoryVectorDim=0)


def run(name: str, source: Path, out: Path, threads: int) -> None:
    t = time.perf_counter()
    folder = import_model(source, out)
    convert = time.perf_counter() - t
    probe = PROBE.format(root=str(ROOT), bench=str(ROOT / "bench"), threads=threads, folder=str(folder))
    r = json.loads(subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout)
    print(f"{name:15s} {r['size']:5d} px  {r['params'] / 1e6:6.1f} M params  file {source.stat().st_size / 2**20:7.1f} MiB  "
          f"convert {convert:6.2f} s  load {r['load_s']:5.2f} s  RSS {r['rss_mb']:6.0f} MiB  "
          f"image {r['image_s']:6.3f} s  {r['gflop']:6.1f} GFLOP  {r['gflop'] / r['image_s']:5.1f} GFLOP/s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--only", default="stylegan1,progan,dcgan-tutorial")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    only = set(a.only.split(","))
    print(f"torch {torch.__version__}, {a.threads} threads; batch 1")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        if "stylegan1" in only:
            port_stylegan1(tmp / "stylegan1.pt")
            run("stylegan1", tmp / "stylegan1.pt", tmp / "out-stylegan1", a.threads)
        if "progan" in only:
            zoo_progan(tmp / "pgan.pth")
            run("progan", tmp / "pgan.pth", tmp / "out-progan", a.threads)
        if "dcgan-tutorial" in only and WHEEL.is_file():
            run("dcgan-tutorial", WHEEL, tmp / "out-faces", a.threads)


if __name__ == "__main__":
    main()
