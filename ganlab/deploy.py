"""``python -m ganlab deploy USER/NAME [--private] [--dry-run]``: this repository as a Hugging Face Space.

The Hub refuses a ``git push`` with binary files outside its large-file storage, and ganlab's history holds
every weight file and picture it ever committed. ``upload_folder`` sends only the files of today, binaries
through the Hub's large-file storage. What goes up is an explicit allow-list, computed by :func:`space_files`:

- ``app.py``, ``requirements.txt``, ``LICENSE``, ``README.md`` (its YAML front matter configures the Space:
  ``sdk: gradio`` and an ``sdk_version`` that must equal the gradio pin of requirements.txt, checked here);
- ``ganlab/``: the package sources (no caches);
- ``checkpoints/<model>/``: for each generator the app serves, what the app reads (``config.json``,
  ``model.safetensors``, ``metrics.json``) and the model card with the picture it shows (``README.md``,
  ``samples.png``). Not: the evaluation classifiers, per-step samples, loss curves, training logs;
- the images the README shows.

Nothing from tests/, bench/, runs/, caches or .git. The real upload is one ``create_repo`` and one
``upload_folder``; it needs internet and a token (``hf auth login`` or ``HF_TOKEN``), so this project's tests
run only the dry run and the refusals.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TOP_FILES = ("app.py", "requirements.txt", "README.md", "LICENSE")
SOURCE_SUFFIXES = (".py", ".css", ".js", ".json", ".md", ".txt")          # package files a Space may need
CHECKPOINT_FILES = ("config.json", "model.safetensors", "metrics.json", "README.md", "samples.png")
IMAGE_SUFFIXES = (".png", ".gif", ".jpg", ".jpeg", ".webp", ".svg")
# Hub per-file limits (huggingface.co/docs/hub/storage-limits): 50 GB hard maximum, under 20 GB recommended.
# upload_folder stores binary files through the Hub's large-file storage itself.
HUB_MAX_FILE_BYTES = 50 * 10**9
HUB_RECOMMENDED_FILE_BYTES = 20 * 10**9


class DeployError(RuntimeError):
    """A deploy that cannot proceed; the message is meant for the user as it is."""


@dataclass(frozen=True)
class SpaceFile:
    path: str       # relative to the repository root, with forward slashes
    size: int


def check_repo_id(repo_id: str) -> str:
    """USER/NAME validated with huggingface_hub's own validator; DeployError otherwise."""
    from huggingface_hub.utils import HFValidationError, validate_repo_id
    repo_id = str(repo_id or "").strip()
    if repo_id.count("/") != 1:
        raise DeployError(f"{repo_id!r}: give the Space as USER/NAME (or ORG/NAME), e.g. alice/ganlab.")
    try:
        validate_repo_id(repo_id)
    except HFValidationError as e:
        raise DeployError(f"{repo_id!r} is not a valid Space id: {e}") from None
    return repo_id


def front_matter(readme: Path) -> dict:
    """The README's YAML front matter (parsed by huggingface_hub's model-card reader)."""
    from huggingface_hub import metadata_load
    return metadata_load(readme) or {}


def pinned_version(requirements: Path, package: str) -> str | None:
    """The ``package==X`` pin of a requirements file, or None."""
    for line in requirements.read_text().splitlines():
        m = re.match(rf"\s*{re.escape(package)}\s*==\s*([\w.+-]+)", line, re.IGNORECASE)
        if m:
            return m.group(1)
    return None


def check_space_config(root: Path = ROOT) -> dict:
    """The README front matter, after checking what a Space needs from it; DeployError on a problem."""
    meta = front_matter(root / "README.md")
    if meta.get("sdk") != "gradio":
        raise DeployError("README.md front matter must say `sdk: gradio`.")
    pin = pinned_version(root / "requirements.txt", "gradio")
    if str(meta.get("sdk_version")) != pin:
        raise DeployError(f"README.md says sdk_version {meta.get('sdk_version')!r} but requirements.txt pins "
                          f"gradio=={pin}: make them equal, the Space installs the first.")
    if not (root / meta.get("app_file", "app.py")).is_file():
        raise DeployError(f"README.md's app_file {meta.get('app_file')!r} does not exist.")
    return meta


def _served_checkpoints(root: Path) -> list[Path]:
    """Checkpoint folders of generators the app serves (the families it knows; not the evaluation classifiers)."""
    from .models import FAMILIES
    out = []
    for d in sorted((root / "checkpoints").iterdir()) if (root / "checkpoints").is_dir() else []:
        try:
            family = json.loads((d / "config.json").read_text()).get("family")
        except (OSError, ValueError):
            continue
        if family in FAMILIES and (d / "model.safetensors").is_file():
            out.append(d)
    return out


def readme_images(root: Path = ROOT) -> list[Path]:
    """Local images the README shows (Markdown ``![](path)`` and HTML ``src="path"``), existing files only."""
    text = (root / "README.md").read_text(encoding="utf-8")
    links = re.findall(r"!\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)", text)
    links += re.findall(r"<img[^>]*\ssrc=[\"']([^\"']+)[\"']", text)
    out = []
    for link in links:
        if re.match(r"^[a-z]+:", link, re.IGNORECASE) or link.startswith(("#", "/")):
            continue                                          # remote URLs, anchors, absolute paths
        p = (root / link.split("#", 1)[0]).resolve()
        if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file() and root in p.parents and p not in out:
            out.append(p)
    return out


def space_files(root: Path = ROOT) -> list[SpaceFile]:
    """The allow-list: every file a Space needs, sorted, with sizes."""
    root = Path(root).resolve()
    paths = [root / f for f in TOP_FILES]
    missing = [p.name for p in paths if not p.is_file()]
    if missing:
        raise DeployError(f"missing {', '.join(missing)} in {root}.")
    paths += [p for p in sorted((root / "ganlab").rglob("*"))
              if p.is_file() and p.suffix in SOURCE_SUFFIXES and "__pycache__" not in p.parts]
    for d in _served_checkpoints(root):
        paths += [d / f for f in CHECKPOINT_FILES if (d / f).is_file()]
    paths += readme_images(root)
    seen, out = set(), []
    for p in paths:
        rel = p.relative_to(root).as_posix()
        if rel not in seen:
            seen.add(rel)
            out.append(SpaceFile(rel, p.stat().st_size))
    too_big = [f.path for f in out if f.size > HUB_MAX_FILE_BYTES]
    if too_big:
        raise DeployError(f"over the Hub's 50 GB per-file limit: {', '.join(too_big)}")
    return sorted(out, key=lambda f: f.path)


def _size(n: int) -> str:
    return f"{n / 1e6:,.2f} MB" if n >= 10**6 else f"{n / 1e3:,.1f} kB"


def listing(files: list[SpaceFile]) -> str:
    """The dry run's text: every file with its size, then the total."""
    width = max(len(f.path) for f in files)
    lines = [f"{f.path:<{width}}  {_size(f.size):>10}" for f in files]
    lines.append(f"{len(files)} files, total {_size(sum(f.size for f in files))}")
    return "\n".join(lines)


def token() -> str:
    """The Hub token (``HF_TOKEN`` or the ``hf auth login`` store); DeployError without one."""
    from huggingface_hub import get_token
    tok = get_token()
    if not tok:
        raise DeployError("no Hugging Face token: run `hf auth login` (or set HF_TOKEN) with a token that may "
                          "write, then run the deploy again.")
    return tok


def deploy(repo_id: str, private: bool = False, dry_run: bool = False, root: Path = ROOT, out=print) -> str | None:
    """Create the Space ``repo_id`` if needed and upload the allow-list; returns the Space URL (None on a dry
    run, which prints the listing and writes nothing). DeployError on bad input, a missing token or a Hub error."""
    repo_id = check_repo_id(repo_id)
    check_space_config(root)
    files = space_files(root)
    if dry_run:
        out(listing(files))
        out(f"dry run: nothing was uploaded to spaces/{repo_id}.")
        return None
    tok = token()
    from huggingface_hub import HfApi
    api = HfApi(token=tok)
    try:
        url = api.create_repo(repo_id, repo_type="space", space_sdk="gradio", exist_ok=True, private=private)
        out(f"uploading {len(files)} files ({_size(sum(f.size for f in files))}) to {url} ...")
        api.upload_folder(repo_id=repo_id, repo_type="space", folder_path=root, allow_patterns=[f.path for f in files],
                          commit_message="Deploy ganlab with `python -m ganlab deploy`")
    except _network_errors() as e:
        raise DeployError(f"the Hub refused or could not be reached ({type(e).__name__}: {e}).") from None
    out(f"done: {url} (the Space builds now; its logs are on that page).")
    return str(url)


def _network_errors() -> tuple:
    """Hub and transport errors, whichever HTTP library this huggingface_hub uses (httpx2 in 2.x, httpx in 1.x)."""
    import importlib
    from huggingface_hub.errors import HfHubHTTPError
    errs = [HfHubHTTPError, OSError]
    for name in ("httpx2", "httpx"):
        try:
            errs.append(importlib.import_module(name).HTTPError)
        except (ImportError, AttributeError):
            pass
    return tuple(errs)


# -- command line (wired into `python -m ganlab` by cli.py) ------------------------------------------------------
def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser("deploy", help="create/update a Hugging Face Space with this app (lean upload)",
                              description=__doc__.split("\n\n")[0])
    p.add_argument("repo_id", metavar="USER/NAME", help="the Space, e.g. alice/ganlab")
    p.add_argument("--private", action="store_true", help="create the Space as private")
    p.add_argument("--dry-run", action="store_true", help="list every file and the total; upload nothing")
    p.set_defaults(run=run)
    return p


def run(args) -> int:
    try:
        deploy(args.repo_id, private=args.private, dry_run=args.dry_run)
    except DeployError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m ganlab.deploy")
    sub = p.add_subparsers(dest="command", required=True)
    add_parser(sub)
    return run(p.parse_args(["deploy", *(sys.argv[1:] if argv is None else argv)]))


if __name__ == "__main__":
    sys.exit(main())
