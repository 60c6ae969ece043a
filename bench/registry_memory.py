"""Memory of the app with the default Space preload list loaded: does it fit the registry's budget and 16 GB?

    python bench/registry_memory.py [--grid 4] [--only stylegan2-ada-ffhq,progan-celebahq-512]

Writes a random-weight checkpoint of each model in ``preload.DEFAULT_SPACE_PRELOAD`` at its full-size upstream
architecture into a temporary imported-models folder (the real ``gan_face_generate`` weights for dcgan-faces,
imported from ``../shared/fixtures`` when present), except stylegan2-ada-ffhq, which arrives as a Space gets it:
an NVIDIA-layout pickle (G and G_ema, random FFHQ-size weights, ``bench/stylegan2_speed.py``) served by a local
http.server and named in ``GANLAB_PRELOAD``, so that the app downloads and converts it in the background. It
starts the real app (``python app.py``, as a Space does), waits for that preload, and through gradio_client
renders one image of each model (so that the registry loads it), then a grid of the largest. It prints the app
process's RSS after start-up, after the preload, after each model, and its peak (VmHWM, which includes the
conversion), next to the registry's budget (``GANLAB_MEMORY_BUDGET_MB``, default 4096 MB) and 16 GB.

Architectures (what the importers build from the upstream files; random weights are fine for memory):
- stylegan2-ada-ffhq / -metfaces: StyleGAN2-ADA 1024 px, z/w 512, 8 mapping layers, channel_base 32768,
  channel_max 512, conv_clamp 256, fir resampling (NVlabs' config of ffhq.pkl and metfaces.pkl);
- stylegan1-ffhq: the lernapparat port, z/w 512, 8 mapping layers, 18 dlatents, fmap_base 8192, fmap_max 512;
- progan-celebahq-512: the zoo's celebAHQ-512 (dimLatentVector 512, depthScale0 512, depthOtherScales
  512, 512, 512, 256, 128, 64, 32);
- dcgan-zoo-fashiongen: a 64-px zoo DCGAN with feature maps 512, 256, 128, 64 and z 100 (the zoo's default
  DCGAN size; the exact FashionGen file was not measured here);
- dcgan-faces: the real wheel's weights (64 px), else the tutorial layout at ngf 64.
"""
from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
from common import rss_bytes, wait_for  # noqa: E402
from tests.http_fixtures import free_port, serve, wait_import  # noqa: E402

from ganlab import checkpoint, preload  # noqa: E402
from ganlab.models import FAMILIES  # noqa: E402
from ganlab.registry import DEFAULT_BUDGET_MB, MB, budget_from_env, model_bytes  # noqa: E402

WHEEL = ROOT.parent / "shared" / "fixtures" / "dcgan-tutorial" / "gan_face_generate-1.1.1-py3-none-any.whl"
SPACE_RAM = 16 * 1024 * MB
SG2_FFHQ = dict(z_dim=512, w_dim=512, mapping_layers=8, channels_base=32768, channels_max=512, image_size=1024,
                channels=3, resampling="fir", channel_rule="nvlabs", conv_clamp=256, num_fp16_res=4)
CONFIGS = {
    "stylegan2-ada-ffhq": ("stylegan2", SG2_FFHQ, "FFHQ"),
    "stylegan2-ada-metfaces": ("stylegan2", SG2_FFHQ, "MetFaces"),
    "stylegan1-ffhq": ("stylegan1", dict(z_dim=512, w_dim=512, mapping_layers=8, num_ws=18, image_size=1024,
                                         block_channels=(512, 512, 512, 512, 256, 128, 64, 32, 16)), "FFHQ"),
    "progan-celebahq-512": ("progan", dict(z_dim=512, scale_channels=(512, 512, 512, 512, 256, 128, 64, 32),
                                           image_size=512), "CelebA-HQ"),
    "dcgan-zoo-fashiongen": ("dcgan-radford", dict(z_dim=100, feature_maps=(512, 256, 128, 64), image_size=64,
                                                   output_activation="none"), "FashionGen"),
    "dcgan-faces": ("dcgan-radford", dict(z_dim=100, feature_maps=(512, 256, 128, 64), image_size=64), "faces"),
}


def vm(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) * 1024
    return 0


def write_models(out: Path, names: list[str]) -> dict[str, int]:
    """Random-weight checkpoints (the real dcgan-faces wheel where present); returns name → model bytes."""
    sizes = {}
    for name in names:
        if name == "dcgan-faces" and WHEEL.is_file():
            from ganlab.importers import import_model
            folder = import_model(WHEEL, out / name, catalog_name=name)
            sizes[name] = model_bytes(checkpoint.load(str(folder)))
            continue
        family, cfg, dataset = CONFIGS[name]
        torch.manual_seed(0)
        g = FAMILIES[family].Generator(cfg).eval()
        sizes[name] = model_bytes(g)
        checkpoint.save(g, out / name, dataset=dataset, source={"origin": "random weights (bench)", "sha256": "",
                                                                "licence": "bench only", "format": family})
        del g
    return sizes


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--only", default=",".join(preload.DEFAULT_SPACE_PRELOAD))
    p.add_argument("--grid", type=int, default=4, help="images in the grid of the largest model")
    a = p.parse_args()
    names = [n.strip() for n in a.only.split(",") if n.strip()]
    budget = budget_from_env()
    from gradio_client import Client

    with tempfile.TemporaryDirectory(prefix="ganlab-bench-mem-") as tmp, contextlib.ExitStack() as stack:
        models = Path(tmp) / "models"
        t = time.perf_counter()
        preloaded = "stylegan2-ada-ffhq" if "stylegan2-ada-ffhq" in names else None
        sizes = write_models(models, [n for n in names if n != preloaded])
        print(f"wrote {len(sizes)} random-weight checkpoints in {time.perf_counter() - t:.1f} s")
        if preloaded:
            from stylegan2_speed import upstream_network, write_nvidia_like_pickle
            served = Path(tmp) / "served"
            served.mkdir()
            write_nvidia_like_pickle(upstream_network(), served / f"{preloaded}.pkl")
            mb = (served / f"{preloaded}.pkl").stat().st_size / MB
            url = stack.enter_context(serve(served)).url(f"{preloaded}.pkl")
            print(f"{preloaded}: an NVIDIA-layout pickle of {mb:,.0f} MB served at {url} (GANLAB_PRELOAD)")
            family, cfg, _ = CONFIGS[preloaded]
            sizes[preloaded] = model_bytes(FAMILIES[family].Generator(cfg))
            sizes = {n: sizes[n] for n in names}
        print(f"{'model':24s} {'parameters+buffers':>20s}")
        for n in names:
            print(f"{n:24s} {sizes[n] / MB:17,.1f} MB")
        total = sum(sizes.values())
        print(f"{'total':24s} {total / MB:17,.1f} MB   budget {budget / MB:,.0f} MB "
              f"(default {DEFAULT_BUDGET_MB} MB): {'fits' if total <= budget else 'DOES NOT FIT'}")

        port = free_port()
        env = {**os.environ, "GANLAB_MODELS_DIR": str(models), "GANLAB_CACHE": str(Path(tmp) / "cache")}
        env.pop("GANLAB_PRELOAD", None)
        if preloaded:
            env["GANLAB_PRELOAD"] = url
        proc = subprocess.Popen([sys.executable, str(ROOT / "app.py"), "--port", str(port)], cwd=ROOT, env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            t = time.perf_counter()
            wait_for(f"http://127.0.0.1:{port}/", proc)
            print(f"\napp up in {time.perf_counter() - t:.1f} s; RSS {rss_bytes(proc.pid) / MB:,.0f} MB "
                  "(bundled models listed, none loaded)")
            client = Client(f"http://127.0.0.1:{port}/", verbose=False)
            if preloaded:
                state = wait_import(client, preloaded, timeout=900)
                print(f"preload {preloaded}: {state} {time.perf_counter() - t:.1f} s after the start (download + "
                      f"conversion in the app process); RSS {rss_bytes(proc.pid) / MB:,.0f} MB, "
                      f"peak so far {vm(proc.pid, 'VmHWM') / MB:,.0f} MB")
            for n in names:
                t = time.perf_counter()
                client.predict(model=n, seed=0, n=1, api_name="/generate")
                print(f"+ {n:24s} first image (load + render) {time.perf_counter() - t:6.1f} s   "
                      f"RSS {rss_bytes(proc.pid) / MB:7,.0f} MB")
            big = max(names, key=lambda n: (sizes[n], n))
            t = time.perf_counter()
            client.predict(model=big, seed=1, n=a.grid, api_name="/generate")
            print(f"  {big} grid of {a.grid}: {time.perf_counter() - t:.1f} s   RSS {rss_bytes(proc.pid) / MB:,.0f} MB")
            rss, peak = rss_bytes(proc.pid), vm(proc.pid, "VmHWM")
            print(f"\nwith all {len(names)} models loaded: RSS {rss / MB:,.0f} MB, peak RSS {peak / MB:,.0f} MB; "
                  f"loaded weights {total / MB:,.0f} MB of the {budget / MB:,.0f} MB budget")
            print(f"free CPU Space (16 GB RAM): peak uses {peak / SPACE_RAM:.0%}: "
                  f"{'fits' if peak < SPACE_RAM else 'DOES NOT FIT'}; the budget plus this process's overhead "
                  f"({(peak - total) / MB:,.0f} MB) is {(budget + peak - total) / MB:,.0f} MB: "
                  f"{'fits' if budget + peak - total < SPACE_RAM else 'DOES NOT FIT'}")
        finally:
            proc.terminate()
            proc.wait(30)


if __name__ == "__main__":
    main()
