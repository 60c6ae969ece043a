"""Benchmark of the live image-GAN engine (ganlab.imagelive): train a preset as the app's tab does and print
its figures. About the requested seconds plus two headless rounds.

    python bench/live_image.py [--preset NAME] [--seconds S] [--out DIR] [--gif PATH] [--with-generate S]
                                [--data-dir DIR]

The run trains in a worker process of an ImageRunPool (one torch thread, the tab's lowered priority), one frame
per ImageRun snapshot as the tab streams them (``tick``). Printed:
- the wall time from pressing Start (the worker building the run: networks, fixed latents; the worker holds the
  data already, as the app's workers do after their warm-up at start) to the first frame, and frames/s while
  training;
- steps/s of the live run against the same training headless (no drawing, same kind of worker process), timed
  in two rounds just before and just after the live run (on a shared machine the load changes between rounds),
  and the share of the live run's wall time spent in training steps, which is that ratio without the noise;
- for a preset with the lecture's MLP-GAN settings: the time from Start at which step 1,400 was reached (what
  lecture A calls "epoch 3" at batch 128);
- the time at which the fixed grid first had the bundled classifier's mean top-1 probability >= 0.8 with all
  10 classes among its 256 samples (measured every engine.QUALITY_SECONDS of training), and the FD curve.
With ``--out`` the generator reached is written as an ordinary ganlab checkpoint folder (ganlab.load works),
with ``--gif`` the run's timeline as a GIF; ``--with-generate S`` then starts the app and measures S seconds of
another visitor's /generate latency while two visitors train on the tab (target: p95 ≤ 1 s).
Numbers on a shared machine are noisy: other processes take CPU from both the live and the headless rounds.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ganlab.imagelive import presets, to_dict  # noqa: E402
from ganlab.imagelive.engine import FD_SAMPLES  # noqa: E402
from ganlab.imagelive.runs import FRAME_SECONDS, ImageRunPool  # noqa: E402

LECTURE_STEPS = 1400       # lecture A's "epoch 3" at batch 128 (60,000 / 128 ≈ 469 steps an epoch)
RECOGNISABLE_TOP1 = 0.8    # the classifier's mean top-1 probability over the fixed samples ...
RECOGNISABLE_CLASSES = 10  # ... with this many classes among them
HEADLESS_SECONDS = 15.0    # each headless round


def headless_steps_per_second(pool: ImageRunPool, config, data_dir: str | None, seconds: float) -> float:
    run = pool.create(config, data_dir=data_dir)
    run.train(1.0)                                                  # warm-up (first-step allocations)
    before = run.status()
    after = run.train(seconds)
    return (after["step"] - before["step"]) / (after["train_seconds"] - before["train_seconds"])


def generate_while_two_runs_train(seconds: float, data_dir: str | None) -> None:
    """app.py's app in a child process; two visitors train the lecture MLP-GAN on the Live training tab's image GAN (both
    of this machine's slots) while a third asks /generate for 6-image grids: its latency, and the trainers'
    frames/s."""
    import random
    import statistics
    import subprocess
    import threading

    from gradio_client import Client

    from bench.common import free_port, wait_for

    port, root = free_port(), Path(__file__).resolve().parent.parent
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", **({"GANLAB_DATA_DIR": data_dir} if data_dir else {})}
    proc = subprocess.Popen([sys.executable, "app.py", "--port", str(port)], cwd=root, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}/"
        wait_for(url, proc)
        visitor = Client(url, verbose=False)
        visitor.predict(model="dcgan-mnist", seed=0, n=6, api_name="/generate")      # the model loaded
        trainers = [Client(url, verbose=False) for _ in range(2)]
        jobs = [c.submit(api_name="/live_image_start") for c in trainers]
        frames = [[], []]

        def count(j: int) -> None:
            for _ in jobs[j]:
                frames[j].append(time.monotonic())

        for j in range(2):
            threading.Thread(target=count, args=(j,), daemon=True).start()
        time.sleep(15)                                                      # both runs training
        latencies, end, rng = [], time.monotonic() + seconds, random.Random(0)
        while time.monotonic() < end:
            t = time.monotonic()
            visitor.predict(model="dcgan-mnist", seed=rng.randrange(10**6), n=6, api_name="/generate")
            latencies.append(time.monotonic() - t)
        rates = [sum(1 for f in fs if f >= end - seconds) / seconds for fs in frames]
        for c in trainers:
            c.predict(api_name="/live_image_pause")
        q = statistics.quantiles(latencies, n=20)
        print(f"generate (6 images, dcgan-mnist) while two live image runs train: {len(latencies)} requests in "
              f"{seconds:.0f} s, p50 {statistics.median(latencies):.3f} s, p95 {q[18]:.3f} s; the two runs' "
              f"frames/s: {rates[0]:.2f}, {rates[1]:.2f}")
    finally:
        proc.terminate()
        proc.wait(30)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--preset", default=presets.RECOMMENDED_MNIST, choices=list(presets.PRESETS), metavar="NAME",
                   help=f"one of: {'; '.join(presets.PRESETS)} (default: %(default)s)")
    p.add_argument("--seconds", type=float, default=60.0, help="seconds of live training (default 60)")
    p.add_argument("--out", help="write the generator reached to this checkpoint folder")
    p.add_argument("--gif", help="write the run's timeline as a GIF here (one grid a frame, 30 frames at most)")
    p.add_argument("--with-generate", type=float, metavar="S", default=0,
                   help="then S seconds of /generate latency in the app while two live image runs train")
    p.add_argument("--data-dir", default=None, help="MNIST/Fashion-MNIST folder (default $GANLAB_DATA_DIR or data)")
    a = p.parse_args(argv)
    preset = presets.PRESETS[a.preset]
    cfg = preset.config
    print(f"preset {a.preset!r}: {dict(sorted(to_dict(cfg).items()))}")
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} (shared: figures are noisy)")
    pool = ImageRunPool(workers=1)
    try:
        pool.start()
        before = headless_steps_per_second(pool, cfg, a.data_dir, HEADLESS_SECONDS)

        started = time.monotonic()
        run = pool.create(cfg, data_dir=a.data_dir)                # pressing Start: the worker builds the run
        built = time.monotonic() - started
        frames, first_frame, reached, recognisable, snap = 0, None, None, None, None
        training_started = time.monotonic()
        while time.monotonic() - started < a.seconds:
            snap = run.tick(FRAME_SECONDS)
            frames += 1
            now = time.monotonic() - started
            first_frame = first_frame or now
            if reached is None and snap["step"] >= LECTURE_STEPS:
                reached = now
            q = snap["quality"]
            if recognisable is None and q["top1"] >= RECOGNISABLE_TOP1 and \
                    q["classes_covered"] >= RECOGNISABLE_CLASSES:
                recognisable = (now, q["step"], q["top1"])
        live_seconds = time.monotonic() - training_started
        live_rate = snap["step"] / live_seconds
        after = headless_steps_per_second(pool, cfg, a.data_dir, HEADLESS_SECONDS)
        headless = (before + after) / 2

        print(f"start → first frame: {first_frame:.1f} s (building the run: {built:.1f} s)")
        print(f"frames: {frames} in {live_seconds:.1f} s = {frames / live_seconds:.2f} frames/s")
        print(f"steps: {snap['step']:,} live in {live_seconds:.1f} s = {live_rate:.2f} steps/s; headless "
              f"{before:.2f} before, {after:.2f} after (mean {headless:.2f}): live/headless = "
              f"{live_rate / headless:.2f}x (as noisy as the machine's load between the rounds)")
        print(f"share of the live run's wall time spent in training steps: {snap['train_seconds'] / live_seconds:.3f} "
              "(the live/headless ratio that drawing and streaming leave, whatever the load)")
        if cfg.arch == "mlp" and cfg.batch == 128:
            print(f"step {LECTURE_STEPS:,} (lecture A's epoch 3 at batch 128): " +
                  (f"reached {reached:.1f} s after Start" if reached else f"not reached in {a.seconds:.0f} s"))
        q = snap["quality"]
        print("recognisable (mean top-1 ≥ 0.8, all 10 classes in 256 samples): " +
              (f"first at {recognisable[0]:.1f} s after Start (step {recognisable[1]:,}, top-1 "
               f"{recognisable[2]:.3f})" if recognisable else f"not within {a.seconds:.0f} s") +
              f"; at the end: top-1 {q['top1']:.3f}, {q['classes_covered']} classes, histogram {q['histogram']}")
        print(f"FD curve (step, training seconds, FD on {FD_SAMPLES} samples): " +
              ", ".join(f"({s:,}, {t:.0f} s, {fd:.1f})" for s, t, fd in snap["fd"]))
        if a.gif:
            path = run.save_gif(str(Path(a.gif).resolve()), scale=1, max_frames=30)
            print(f"wrote {path}: {Path(path).stat().st_size / 1e6:.2f} MB")
        if a.out:
            folder = run.save_checkpoint(str(Path(a.out).resolve()))
            import ganlab
            m = ganlab.load(folder)
            print(f"wrote {folder}: {m.display_name}, step {m.info['training']['steps']:,}; ganlab.load works")
    finally:
        pool.close()
    if a.with_generate:
        generate_while_two_runs_train(a.with_generate, a.data_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
