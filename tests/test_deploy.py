"""ganlab.deploy: the Space allow-list (dry run), the README front matter, refusals. The upload itself needs
internet and a token: only its failure paths run here."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ganlab import deploy
from ganlab.deploy import DeployError
from ganlab.models import FAMILIES

from .http_fixtures import free_port

ROOT = Path(__file__).resolve().parent.parent


def _env(tmp_path, **extra) -> dict:
    """A process environment with no stored Hub token and the Hub unreachable (a closed local port)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HF_")}
    env.update(HF_HOME=str(tmp_path / "hf"), HF_ENDPOINT=f"http://127.0.0.1:{free_port()}", HF_HUB_OFFLINE="0")
    env.update(extra)
    return env


def _run(args, env) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ganlab.deploy", *args], capture_output=True, text=True, cwd=ROOT,
                          env=env, timeout=120)


def test_dry_run_lists_the_allow_list_and_total():
    lines = []
    assert deploy.deploy("alice/ganlab", dry_run=True, out=lines.append) is None
    listing = lines[0].splitlines()
    files = {ln.rsplit(None, 2)[0] for ln in listing[:-1]}
    assert len(files) == len(listing) - 1
    for must in ("app.py", "README.md", "requirements.txt", "LICENSE", "ganlab/__init__.py", "ganlab/registry.py"):
        assert must in files
    for f in files:
        assert not f.startswith(("tests/", "bench/", "runs/", ".git", "data/", "checkpoints/classifiers/")), f
        assert "__pycache__" not in f and not f.endswith((".pyc", ".incomplete", "train_log.csv", "losses.png")), f
        assert "/samples/" not in f, f                                           # per-step training samples
    # every generator the app serves is complete; nothing evaluation-only
    for d in sorted((ROOT / "checkpoints").iterdir()):
        cfg = d / "config.json"
        if cfg.is_file() and json.loads(cfg.read_text()).get("family") in FAMILIES:
            assert {f"checkpoints/{d.name}/config.json", f"checkpoints/{d.name}/model.safetensors"} <= files
    # the images the README shows
    for img in deploy.readme_images(ROOT):
        assert img.relative_to(ROOT).as_posix() in files
    # sizes: recomputed from the files, the printed total, the Hub's per-file limit
    sizes = {f: (ROOT / f).stat().st_size for f in files}
    assert all(s < deploy.HUB_RECOMMENDED_FILE_BYTES for s in sizes.values())
    assert all(s < 10 * 10**6 for s in sizes.values())                         # lean: every file under 10 MB
    total = sum(sizes.values())
    assert listing[-1] == f"{len(files)} files, total {total / 1e6:,.2f} MB"
    assert total < 60 * 10**6
    assert "nothing was uploaded" in lines[1]


@pytest.mark.slow   # a subprocess: python -m ganlab deploy
def test_dry_run_needs_no_token_and_no_hub(tmp_path):
    r = _run(["alice/ganlab", "--dry-run"], _env(tmp_path))
    assert r.returncode == 0, r.stderr
    assert "files, total" in r.stdout and "Traceback" not in r.stderr


def test_front_matter_parses_and_pins_the_gradio_of_requirements():
    meta = deploy.front_matter(ROOT / "README.md")
    assert meta["sdk"] == "gradio" and meta["app_file"] == "app.py"
    assert str(meta["sdk_version"]) == deploy.pinned_version(ROOT / "requirements.txt", "gradio")
    assert deploy.check_space_config(ROOT)["sdk_version"] == meta["sdk_version"]


def test_mismatched_sdk_version_refused(tmp_path):
    for f in deploy.TOP_FILES:
        shutil.copy(ROOT / f, tmp_path / f)
    req = tmp_path / "requirements.txt"
    req.write_text(req.read_text().replace("gradio==", "gradio==0.0.1  # was "))
    with pytest.raises(DeployError, match="sdk_version .* but requirements.txt pins gradio==0.0.1"):
        deploy.deploy("alice/ganlab", dry_run=True, root=tmp_path, out=lambda s: None)


@pytest.mark.parametrize("bad", ["ganlab", "alice/", "/ganlab", "alice/gan lab", "alice/gan--lab", "a/b/c",
                                 "alice/" + "x" * 100, "alice/-ganlab", ""])
def test_bad_repo_ids_refused(bad):
    with pytest.raises(DeployError):
        deploy.deploy(bad, dry_run=True, out=lambda s: None)


@pytest.mark.slow   # a subprocess: python -m ganlab deploy
def test_missing_token_gives_a_clear_message(tmp_path):
    r = _run(["alice/ganlab"], _env(tmp_path))
    assert r.returncode == 2
    assert "no Hugging Face token" in r.stderr and "hf auth login" in r.stderr
    assert "Traceback" not in r.stderr + r.stdout


@pytest.mark.slow   # a subprocess: python -m ganlab deploy
def test_unreachable_hub_gives_a_clear_message(tmp_path):
    r = _run(["alice/ganlab", "--private"], _env(tmp_path, HF_TOKEN="hf_not_a_real_token"))
    assert r.returncode == 2, r.stdout + r.stderr
    assert "could not be reached" in r.stderr and "Traceback" not in r.stderr + r.stdout


def test_add_parser_and_run():
    import argparse
    p = argparse.ArgumentParser()
    deploy.add_parser(p.add_subparsers(dest="command"))
    a = p.parse_args(["deploy", "alice/ganlab", "--dry-run", "--private"])
    assert (a.repo_id, a.dry_run, a.private) == ("alice/ganlab", True, True)
    assert a.run(a) == 0
    assert a.run(p.parse_args(["deploy", "not a repo"])) == 2
