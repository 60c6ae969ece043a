"""Benchmark of the live-training engine (ganlab.toy) and its tab. Loopback only, about a minute.

    python bench/toy.py [speed] [stream] [preset] [experiments] [gif]      (all five without arguments)

1. iterations/s of ToyTrainer(lecture_config()) against the lecture's own PyTorch loop (same nets, batch,
   Adam, BCE), timed in alternating rounds in this process so both see the same machine load;
2. frames/s a gradio_client receives from the Live training tab while it trains;
3. grid JS divergence (bits) of the recommended preset after 5 s of wall time, for seeds 0, 1, 2;
4. each one-click experiment of the Live tab (ganlab.toy.presets) run as the tab runs it (a ToyRun ticking,
   training between frames) for a few seconds: the iterations per wall-clock second a visitor gets, and how long
   the iterations its note speaks of (Preset.iterations) take at that speed;
5. the Live tab's GIF export after 10 s of streaming (a ToyRun ticking as the tab does): its size, frame
   count, frame size and the export time.
"""
from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch
from torch import nn

from ganlab.toy import ToyTrainer, default_config, lecture_config

ROUND_SECONDS = 2.0
ROUNDS = 3
STREAM_SECONDS = 5.0
PRESET_SECONDS = 5.0
GIF_TRAIN_SECONDS = 10.0
EXPERIMENT_SECONDS = 4.0


def lecture_loop(seed: int = 0):
    """The lecture's parabola GAN as plainly written in PyTorch; returns a function doing one iteration."""
    gen = torch.Generator().manual_seed(seed)
    G = nn.Sequential(nn.Linear(10, 50), nn.ReLU(), nn.Linear(50, 50), nn.ReLU(), nn.Linear(50, 2))
    D = nn.Sequential(nn.Linear(2, 50), nn.ReLU(), nn.Linear(50, 50), nn.ReLU(), nn.Linear(50, 1), nn.Sigmoid())
    criterion = nn.BCELoss()
    opt_g = torch.optim.Adam(G.parameters(), lr=3e-4)
    opt_d = torch.optim.Adam(D.parameters(), lr=3e-4)
    ones, zeros = torch.ones(32, 1), torch.zeros(32, 1)

    def iteration():
        x = torch.rand(32, 1, generator=gen) * 2 - 1
        real = torch.cat([x, x * x], 1)
        fake = G(torch.randn(32, 10, generator=gen))
        opt_d.zero_grad()
        loss_d = criterion(D(real), ones) + criterion(D(fake.detach()), zeros)
        loss_d.backward()
        opt_d.step()
        opt_g.zero_grad()
        loss_g = criterion(D(fake), ones)
        loss_g.backward()
        opt_g.step()

    return iteration


def iterations_per_second(run_one_round) -> float:
    start, n = time.perf_counter(), 0
    while time.perf_counter() - start < ROUND_SECONDS:
        n += run_one_round()
    return n / (time.perf_counter() - start)


def bench_speed() -> None:
    """Alternate rounds of the lecture loop (with torch's default threads, then with one thread, the faster
    setting for matrices this small) and of ToyTrainer, so all three see the same machine load."""
    iteration = lecture_loop()
    trainer = ToyTrainer(lecture_config(seed=0))
    for _ in range(50):  # warm up both
        iteration()
    trainer.step(50)

    def torch_round():
        for _ in range(10):
            iteration()
        return 10

    def numpy_round():
        trainer.step(10)
        return 10

    default_threads = torch.get_num_threads()
    rates = {"torch": [], "torch1": [], "numpy": []}
    for _ in range(ROUNDS):
        rates["torch"].append(iterations_per_second(torch_round))
        torch.set_num_threads(1)
        rates["torch1"].append(iterations_per_second(torch_round))
        torch.set_num_threads(default_threads)
        rates["numpy"].append(iterations_per_second(numpy_round))
    med = {k: statistics.median(v) for k, v in rates.items()}
    show = lambda k: f"{med[k]:,.0f} it/s  (rounds: {', '.join(f'{r:,.0f}' for r in rates[k])})"
    print(f"lecture PyTorch loop, {default_threads} torch threads: {show('torch')}")
    print(f"lecture PyTorch loop, 1 torch thread:  {show('torch1')}")
    print(f"ToyTrainer(lecture_config()):          {show('numpy')}")
    best = max(med["torch"], med["torch1"])
    print(f"speed-up vs the faster PyTorch setting: {med['numpy'] / best:.1f}x "
          f"(vs the default setting: {med['numpy'] / med['torch']:.1f}x)")


def bench_stream() -> None:
    """Serve the tab from its own process (as in production: the browser is not in the server's process)
    and count the frames a gradio_client receives in STREAM_SECONDS of training."""
    import os
    import re
    import subprocess

    from gradio_client import Client

    from tests.http_fixtures import free_port

    port = free_port()
    root = Path(__file__).resolve().parent.parent
    env = os.environ | {"GRADIO_SERVER_NAME": "127.0.0.1", "GRADIO_SERVER_PORT": str(port),
                        "GRADIO_ANALYTICS_ENABLED": "False", "PYTHONPATH": str(root)}
    server = subprocess.Popen([sys.executable, "-m", "ganlab.ui.live"], cwd=root, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url, deadline = f"http://127.0.0.1:{port}/", time.monotonic() + 120
        while True:
            try:
                client = Client(url, verbose=False)
                break
            except Exception:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError("the Live training server did not start") from None
                time.sleep(0.5)
        job = client.submit(api_name="/live_start")
        deadline = time.monotonic() + 30
        while not job.outputs() and time.monotonic() < deadline:
            time.sleep(0.01)
        start, first = time.monotonic(), len(job.outputs())
        time.sleep(STREAM_SECONDS)
        frames = len(job.outputs()) - first
        elapsed = time.monotonic() - start
        status = job.outputs()[-1][1]
        client.predict(api_name="/live_pause")
        job.result(timeout=30)
        found = re.search(r"iteration \*\*([\d,]+)\*\* · \*\*([\d,]+) it/s", status)
        its = f"; the run was at {found.group(1)} iterations, {found.group(2)} it/s" if found else ""
        print(f"frames/s received by gradio_client while training: {frames / elapsed:.1f} "
              f"({frames} frames in {elapsed:.1f} s{its})")
    finally:
        server.terminate()
        server.wait(timeout=30)


def bench_preset() -> None:
    scores = []
    for seed in range(3):
        trainer = ToyTrainer(default_config(seed=seed))
        trainer.train_for(PRESET_SECONDS)
        m = trainer.metrics()
        scores.append(m["js"])
        print(f"recommended preset, seed {seed}: grid JS {m['js']:.4f} bits, sliced W {m['sw']:.4f} "
              f"after {PRESET_SECONDS:.0f} s ({trainer.iteration:,} iterations)")
    print(f"recommended preset: median grid JS after {PRESET_SECONDS:.0f} s = {statistics.median(scores):.4f} bits "
          f"(target <= 0.05)")


def bench_experiments() -> None:
    from ganlab.toy.presets import PRESETS, WATCH_SECONDS
    from ganlab.toy.runs import ToyRun

    for name, preset in PRESETS.items():
        run = ToyRun(preset.config)
        start = time.monotonic()
        while time.monotonic() - start < EXPERIMENT_SECONDS:
            run.tick()
        rate = run.status()["iteration"] / (time.monotonic() - start)
        seconds = preset.iterations / rate
        print(f"experiment {name!r}: {rate:,.0f} iterations per wall-clock second on the tab; its note's "
              f"{preset.iterations:,} iterations take {seconds:.0f} s (target >= {WATCH_SECONDS} s)")


def bench_gif() -> None:
    import tempfile

    from PIL import Image

    from ganlab.toy.runs import ToyRun

    run = ToyRun(default_config(seed=0))
    start, frames = time.monotonic(), 0
    while time.monotonic() - start < GIF_TRAIN_SECONDS:
        run.tick()
        frames += 1
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "live.gif"
        t0 = time.perf_counter()
        run.save_gif(str(path))
        seconds = time.perf_counter() - t0
        with Image.open(path) as gif:
            size, n, comment = gif.size, gif.n_frames, gif.info.get("comment", b"")
        print(f"live GIF after {GIF_TRAIN_SECONDS:.0f} s of streaming ({frames} frames shown): "
              f"{path.stat().st_size / 1e6:.2f} MB, {n} frames of {size[0]}x{size[1]}, written in {seconds:.2f} s; "
              f"settings comment {len(comment)} bytes")


if __name__ == "__main__":
    started = time.monotonic()
    parts = {"speed": bench_speed, "stream": bench_stream, "preset": bench_preset, "experiments": bench_experiments,
             "gif": bench_gif}
    for name in sys.argv[1:] or parts:
        parts[name]()
    print(f"bench total: {time.monotonic() - started:.0f} s")
