"""`python app.py --share` on this offline machine: one readable line instead of Gradio's tunnel error, and the
app keeps serving on its local address."""
import os
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from .conftest import free_port
from .http_fixtures import stop_process

ROOT = Path(__file__).resolve().parent.parent


def _offline() -> bool:
    sys.path.insert(0, str(ROOT))
    try:
        import app                        # light: app.py imports ganlab and Gradio only in main()
        return app.share_blocker(timeout=3) is not None
    finally:
        sys.path.remove(str(ROOT))


def test_share_is_documented_in_help():
    r = subprocess.run([sys.executable, "app.py", "--help"], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert r.returncode == 0
    text = " ".join(r.stdout.split())
    assert "--share" in text and "Needs internet" in text and "tunnel client" in text


@pytest.mark.slow
@pytest.mark.skipif(not _offline(), reason="this machine can reach api.gradio.app: the offline path is not taken")
def test_share_offline_says_why_and_serves_locally(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k.lower() not in ("https_proxy", "all_proxy", "space_id")}
    env.update(GRADIO_SERVER_NAME="127.0.0.1", HF_HOME=str(tmp_path / "hf"))       # no tunnel client downloaded yet
    proc = subprocess.Popen([sys.executable, "app.py", "--share", "--port", str(port)], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    threading.Thread(target=lambda: lines.extend(iter(proc.stdout.readline, "")), daemon=True).start()
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not any("Running on local URL" in ln for ln in lines):
            assert proc.poll() is None, "".join(lines)
            time.sleep(0.2)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as r:
            assert r.status == 200                                   # still serving locally
        time.sleep(1.0)                                              # anything Gradio would print after launch
        out = "".join(lines)
        assert "--share needs internet: Gradio downloads its tunnel client on first use" in out
        assert "Traceback" not in out and "Could not create share link" not in out, out
        assert not (tmp_path / "hf" / "gradio" / "frpc").exists()   # Gradio did not even try
    finally:
        stop_process(proc)
