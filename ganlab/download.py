"""Downloads of upstream weights into the Hugging Face cache: resumable, verified, atomic, fast to fail offline.

    >>> from ganlab import download
    >>> path = download.fetch("progan-celebahq-512", progress=True)     # a catalog name, with a tqdm bar
    >>> path = download.fetch("https://example.org/w.pth", sha256="...", size=123)
    >>> path = download.resolve("dcgan-faces")    # the file an importer reads (a wheel's weights member)

Where: ``$GANLAB_CACHE/downloads`` (default ``$HF_HOME/ganlab/downloads``, next to the imported models), one
folder per catalog entry or URL. How:

1. A finished file is reused after its size (and hash, where one is known) checks out.
2. Otherwise bytes stream into ``<file>.incomplete``; an existing ``.incomplete`` is resumed with an HTTP
   ``Range`` request (a server that ignores it sends the whole file, and the part is restarted). An interrupted
   transfer is retried ``retries`` times from where it stopped, then left as ``.incomplete`` for the next call.
3. When the transfer ends, its size must equal the server's length and the catalog's size, and its sha256 the
   published hash (or hash prefix, as in torch.hub file names) or the hash recorded for the first download
   that converted (``hashes.json``). A mismatch deletes the part and raises DownloadError: nothing half-written stays.
4. Only then is the part renamed into place (``os.replace``, atomic). A hash not published upstream is recorded
   only when the caller :func:`confirm` s the file (the importers do once it converted); a first download that
   did not convert is removed by :func:`discard_unconfirmed`, so an empty, truncated or wrong first response
   (an HTML page with status 200) can never become "the" file that later downloads are checked against.

Bounds: at most the catalog's size, else ``GANLAB_MAX_DOWNLOAD_MB`` (default 4096) bytes; a transfer that
delivers less than 64 kB in ``GANLAB_STALL_TIMEOUT`` seconds (default 60) has stalled; the whole transfer may
take ``GANLAB_DOWNLOAD_TIMEOUT`` seconds (default 3600). Each ends in a one-line DownloadError with the part
file deleted; a server that answers with a web page (``text/html``) or an empty body is refused the same way.

Offline, connecting fails within ``GANLAB_TIMEOUT`` seconds (default 10) with a DownloadError saying so; the
CLI prints its message without a traceback. Only http(s) URLs and catalog names are downloaded; an existing
local file passes through (checked against ``sha256``/``size`` when they are given).
"""
from __future__ import annotations

import hashlib
import http.client
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import zipfile
import zlib
from pathlib import Path
from typing import Callable
from urllib.parse import urlsplit

from . import catalog
from .catalog import Entry

CHUNK = 1 << 20                 # bytes read per step at most (progress granularity)
STALL_BYTES = 64 << 10          # a transfer must deliver this much per stall window
PART = ".incomplete"            # suffix of a file still being downloaded
Progress = Callable[[int, int | None], None]   # progress(done_bytes, total_bytes or None)

_locks: dict[Path, threading.Lock] = {}
_locks_guard = threading.Lock()


class DownloadError(RuntimeError):
    """A download that could not be completed or verified; the message is meant for the user as it is."""


def cache_dir() -> Path:
    """ganlab's folder in the Hugging Face cache (``$GANLAB_CACHE`` overrides it)."""
    env = os.environ.get("GANLAB_CACHE")
    if env:
        return Path(env).expanduser()
    from huggingface_hub import constants
    return Path(constants.HF_HOME) / "ganlab"


def downloads_dir() -> Path:
    return cache_dir() / "downloads"


def timeout() -> float:
    return float(os.environ.get("GANLAB_TIMEOUT", 10))


def max_bytes() -> int:
    """The largest download without a catalog size (``GANLAB_MAX_DOWNLOAD_MB``, default 4096 MiB)."""
    return int(float(os.environ.get("GANLAB_MAX_DOWNLOAD_MB", 4096)) * (1 << 20))


def stall_timeout() -> float:
    return float(os.environ.get("GANLAB_STALL_TIMEOUT", 60))


def total_timeout() -> float:
    return float(os.environ.get("GANLAB_DOWNLOAD_TIMEOUT", 3600))


# -- recorded hashes -------------------------------------------------------------------------------------------
def _hashes_path() -> Path:
    return downloads_dir() / "hashes.json"


def recorded_hashes() -> dict:
    """{url: {"sha256", "size", "recorded"}} of files verified here whose full hash upstream does not publish."""
    try:
        return json.loads(_hashes_path().read_text())
    except (OSError, ValueError):
        return {}


_unconfirmed: dict[Path, tuple[str, str, int]] = {}   # a first download's file → (url, sha256, size)


def _pop_unconfirmed(path: str | Path) -> tuple[list[Path], tuple | None]:
    """The files of the first download ``path`` belongs to (the download and a member extracted from it)."""
    with _locks_guard:
        pending = _unconfirmed.get(Path(path))
        files = [p for p, v in _unconfirmed.items() if v == pending] if pending else []
        for p in files:
            del _unconfirmed[p]
    return files, pending


def confirm(path: str | Path) -> None:
    """``path`` (a file :func:`fetch` / :func:`resolve` returned) was read and converted as the expected format:
    if it was a first download whose hash upstream does not publish, record that hash now."""
    _, pending = _pop_unconfirmed(path)
    if pending is not None:
        _record_hash(*pending)


def discard_unconfirmed(path: str | Path) -> None:
    """``path`` could not be converted: if it is a first download not yet confirmed, delete it (and the member
    file extracted from it) so that nothing unverified stays in the cache."""
    files, _ = _pop_unconfirmed(path)
    for p in files:
        p.unlink(missing_ok=True)


def _record_hash(url: str, digest: str, size: int) -> None:
    with _lock_for(_hashes_path()):
        data = recorded_hashes()
        data[url] = {"sha256": digest, "size": size, "recorded": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        path = _hashes_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(data, indent=1, sort_keys=True))
        os.replace(tmp, path)


# -- helpers ---------------------------------------------------------------------------------------------------
def _lock_for(path: Path) -> threading.Lock:
    with _locks_guard:
        return _locks.setdefault(Path(path).resolve(), threading.Lock())


def sha256_file(path: Path, chunk: int = CHUNK) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def _mb(n: int | None) -> str:
    return "?" if n is None else f"{n / 1e6:,.1f} MB"


def _safe_name(name: str) -> str:
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "download"
    return name[:120]


def _target(url: str, entry: Entry | None) -> Path:
    if entry is not None:
        return downloads_dir() / entry.name / _safe_name(entry.filename)
    key = hashlib.sha256(url.encode()).hexdigest()[:16]
    return downloads_dir() / key / _safe_name(urlsplit(url).path.rsplit("/", 1)[-1])


def _check_hash(path: Path, digest: str, sha256: str | None, prefix: str | None, what: str) -> None:
    if sha256 and digest != sha256.lower():
        raise DownloadError(f"{what}: sha256 mismatch (got {digest[:16]}…, expected {sha256.lower()[:16]}…): "
                            "the file is corrupt or not the published one, so it was discarded.")
    if prefix and not digest.startswith(prefix.lower()):
        raise DownloadError(f"{what}: sha256 {digest[:16]}… does not start with the published prefix {prefix}: "
                            "the file is corrupt or not the published one, so it was discarded.")


def _tqdm_progress(desc: str) -> tuple[Progress, Callable[[], None]]:
    from tqdm.auto import tqdm
    bar = tqdm(total=None, unit="B", unit_scale=True, unit_divisor=1024, desc=desc, leave=True)

    def update(done: int, total: int | None) -> None:
        if total is not None and bar.total != total:
            bar.total = total
        bar.update(done - bar.n)
    return update, bar.close


def _unreachable(url: str, err: BaseException) -> DownloadError:
    host = urlsplit(url).netloc or url
    reason = getattr(err, "reason", err)
    return DownloadError(f"cannot reach {host} ({reason}). Downloading needs internet access: check the "
                         "connection (or a proxy), or download the file elsewhere and pass its local path.")


# -- public API ------------------------------------------------------------------------------------------------
def fetch(source: str | Path | Entry, sha256: str | None = None, size: int | None = None,
          progress: Progress | bool | None = None, retries: int = 2) -> Path:
    """The local path of ``source`` (catalog entry or name, http(s) URL, or existing local file), downloading
    into the cache when needed. ``sha256``/``size`` add to what the catalog knows. ``progress``: a callable
    ``progress(done_bytes, total_bytes)``, ``True`` for a tqdm bar, or None. DownloadError on any failure."""
    entry = source if isinstance(source, Entry) else catalog.find(str(source))
    if entry is not None:
        sha256, size = sha256 or entry.sha256, size or entry.size
        url = entry.url
    else:
        url = str(source).strip()
        if not url.lower().startswith(("http://", "https://")):
            path = Path(url).expanduser()
            if path.is_file():
                _verify_local(path, sha256, size)
                return path
            if "://" in url:
                raise DownloadError(f"{url}: only http(s) URLs, catalog names and local files are supported.")
            raise DownloadError(f"{url}: no such file, and not a catalog name (known: {', '.join(catalog.names())}).")
    close = None
    if progress is True:
        progress, close = _tqdm_progress(entry.name if entry else _target(url, None).name)
    try:
        if url.startswith("pip:"):
            return _fetch_pip(entry, url[4:], sha256, size, progress or None)
        return _fetch_url(url, entry, sha256, size, progress or None, retries)
    finally:
        if close:
            close()


def resolve(source: str | Path | Entry, progress: Progress | bool | None = None, catalog_only: bool = False) -> Path:
    """The file an importer reads for ``source``: ``fetch(source)``, and for a catalog entry with a ``member``
    (a wheel's weights) that member, extracted beside the download (read as zip data, nothing is run).
    ``catalog_only``: refuse anything but a catalog name (the app's page: a visitor cannot make it fetch a URL)."""
    entry = source if isinstance(source, Entry) else catalog.find(str(source))
    if catalog_only and entry is None:
        raise DownloadError(f"{str(source)[:80]!r} is not in ganlab's catalog; "
                            f"choose one of {', '.join(catalog.names())}.")
    path = fetch(entry or source, progress=progress)
    if entry is None or not entry.member:
        return path
    out = path.parent / _safe_name(Path(entry.member).name)
    with _lock_for(out):
        if path in _unconfirmed:
            _unconfirmed[out] = _unconfirmed[path]
        if out.is_file():
            return out
        tmp = out.with_name(out.name + PART)
        try:
            with zipfile.ZipFile(path) as z, open(tmp, "wb") as dst:
                extract_member(z, entry.member, dst)
            os.replace(tmp, out)
        except (zipfile.BadZipFile, KeyError, OSError, EOFError, zlib.error, ValueError) as e:
            raise DownloadError(f"{path.name}: cannot read {entry.member} from it ({e}).") from None
        finally:
            tmp.unlink(missing_ok=True)
    return out


MAX_RATIO = 200        # a member may expand to at most this many times its compressed size (weights hardly shrink)


def member_limit(info: zipfile.ZipInfo) -> int:
    """The most bytes a zip member may expand to: its compressed size × :data:`MAX_RATIO` (+1 MB), at most
    :func:`max_bytes`. The size the archive declares is not trusted: reading stops at this limit."""
    return min(max_bytes(), info.compress_size * MAX_RATIO + (1 << 20))


def extract_member(z: zipfile.ZipFile, name: str, dst) -> int:
    """Copy member ``name`` of ``z`` into the file object ``dst`` (a BytesIO for in-memory use) within
    :func:`member_limit`; ValueError beyond it, zipfile.BadZipFile on a bad CRC or a corrupt stream."""
    info = z.getinfo(name)
    limit, done = member_limit(info), 0
    with z.open(info) as src:
        while block := src.read(CHUNK):
            done += len(block)
            if done > limit:
                raise ValueError(f"member {name} expands beyond {limit:,} bytes (a zip bomb?)")
            dst.write(block)
    return done


# -- implementation --------------------------------------------------------------------------------------------
def _verify_local(path: Path, sha256: str | None, size: int | None) -> None:
    if size is not None and path.stat().st_size != size:
        raise DownloadError(f"{path}: {path.stat().st_size:,} bytes, expected {size:,}.")
    if sha256:
        _check_hash(path, sha256_file(path), sha256, None, str(path))


def _expected(url: str, entry: Entry | None, sha256: str | None) -> tuple[str | None, str | None, bool]:
    """(full sha256 to require, prefix to require, whether a full hash was published or passed in)."""
    prefix = entry.sha256_prefix if entry else None
    if sha256:
        return sha256, prefix, True
    rec = recorded_hashes().get(url)
    return (rec["sha256"] if rec else None), prefix, False


def _fetch_url(url: str, entry: Entry | None, sha256: str | None, size: int | None, progress: Progress | None,
               retries: int) -> Path:
    final = _target(url, entry)
    what = entry.name if entry else url
    with _lock_for(final):
        want, prefix, published = _expected(url, entry, sha256)
        if final.is_file():
            try:
                _verify_local(final, None, size)
                digest = sha256_file(final)
                _check_hash(final, digest, want, prefix, what)
            except DownloadError:
                final.unlink()                       # a stale or damaged finished file: download it again
            else:
                if progress:
                    progress(final.stat().st_size, final.stat().st_size)
                if not published and want is None:           # kept from a run that never confirmed it
                    _unconfirmed[final] = (url, digest, final.stat().st_size)
                return final
        final.parent.mkdir(parents=True, exist_ok=True)
        part = final.with_name(final.name + PART)
        for attempt in range(retries + 1):
            try:
                total = _transfer(url, part, size, progress)
                break
            except DownloadError:
                part.unlink(missing_ok=True)         # refused (too large, stalled, a web page...): nothing kept
                raise
            except _Interrupted as e:
                if attempt == retries:
                    if part.is_file() and part.stat().st_size == 0:
                        part.unlink()                # nothing arrived: nothing to resume
                    raise DownloadError(f"{what}: the transfer was interrupted at {_mb(e.done)} of {_mb(e.total)} "
                                        f"({e.reason}); run the same command again to resume.") from None
                time.sleep(min(2.0, 0.2 * (attempt + 1)))
        got = part.stat().st_size
        if got == 0:
            part.unlink(missing_ok=True)
            raise DownloadError(f"{what}: the server sent an empty file; nothing was kept.")
        if (total is not None and got != total) or (size is not None and got != size):
            part.unlink(missing_ok=True)
            raise DownloadError(f"{what}: received {got:,} bytes, expected {size or total:,}: the download is "
                                "truncated or not the published file, so it was discarded.")
        digest = sha256_file(part)
        try:
            _check_hash(part, digest, want, prefix, what)
        except DownloadError:
            part.unlink(missing_ok=True)
            raise
        os.replace(part, final)
        if not published and want is None:
            _unconfirmed[final] = (url, digest, got)         # recorded by confirm() once it converted
        return final


class _Interrupted(Exception):
    def __init__(self, done: int, total: int | None, reason: str):
        super().__init__(reason)
        self.done, self.total, self.reason = done, total, reason


def _transfer(url: str, part: Path, size: int | None, progress: Progress | None) -> int | None:
    """Stream ``url`` into ``part`` (resuming what it holds); returns the full length the server announced.
    DownloadError (the caller deletes the part) beyond the size limit, on a stall, after the overall timeout,
    or for a web page; _Interrupted (the part is kept for a resume) when the connection drops."""
    have = part.stat().st_size if part.is_file() else 0
    limit = size if size is not None else max_bytes()
    if have > limit:
        part.unlink()
        have = 0
    start = time.monotonic()
    req = urllib.request.Request(url, headers={"User-Agent": "ganlab", **({"Range": f"bytes={have}-"} if have else {})})
    try:
        resp = urllib.request.urlopen(req, timeout=timeout())
    except urllib.error.HTTPError as e:
        if e.code == 416 and have:                  # our part is already complete (or longer than the file)
            return _complete_part_length(url, part, have)
        raise DownloadError(f"{url}: HTTP {e.code} {e.reason}.") from None
    except (urllib.error.URLError, OSError) as e:   # DNS failure, refused, timeout: offline
        raise _unreachable(url, e) from None
    with resp:
        status = resp.status
        length = resp.headers.get("Content-Length")
        length = int(length) if length and length.isdigit() else None
        if (resp.headers.get("Content-Type") or "").lower().startswith(("text/html", "application/xhtml")):
            raise DownloadError(f"{url}: the server answered with a web page (text/html), not the file; "
                                "nothing was kept (a login or error page?).")
        if status == 206 and have:
            m = re.match(r"bytes (\d+)-\d+/(\d+|\*)", resp.headers.get("Content-Range", ""))
            if not m or int(m.group(1)) != have:
                raise DownloadError(f"{url}: the server answered the resume request with a wrong range.")
            total = int(m.group(2)) if m.group(2) != "*" else None
            mode = "ab"
        else:                                        # 200: the server sends the whole file, start over
            total, have, mode = length, 0, "wb"
        if size is not None and total is not None and total != size:
            raise DownloadError(f"{url}: the server offers {total:,} bytes, the catalog expects {size:,}: "
                                "not the published file, nothing was kept.")
        if total is not None and total > limit:
            raise DownloadError(f"{url}: the server offers {_mb(total)}, more than the {_mb(limit)} ganlab "
                                "downloads (GANLAB_MAX_DOWNLOAD_MB); nothing was kept.")
        done = have
        if progress:
            progress(done, total)
        window, window_bytes = time.monotonic(), 0
        with open(part, mode) as f:
            while True:
                try:
                    block = resp.read1(CHUNK)
                except (OSError, ValueError, http.client.HTTPException) as e:
                    raise _Interrupted(done, total, type(e).__name__) from None
                if not block:
                    break
                f.write(block)
                done += len(block)
                window_bytes += len(block)
                now = time.monotonic()
                if done > limit:
                    raise DownloadError(f"{url}: more than {_mb(limit)} received, the most ganlab downloads "
                                        f"{'for this catalog entry' if size is not None else '(GANLAB_MAX_DOWNLOAD_MB)'}"
                                        "; nothing was kept.")
                if now - start > total_timeout():
                    raise DownloadError(f"{url}: the download took more than {total_timeout():g} s "
                                        f"(GANLAB_DOWNLOAD_TIMEOUT) at {_mb(done)}; nothing was kept.")
                if window_bytes >= STALL_BYTES:
                    window, window_bytes = now, 0
                elif now - window > stall_timeout():
                    raise DownloadError(f"{url}: the transfer stalled (less than {STALL_BYTES >> 10} kB in "
                                        f"{stall_timeout():g} s, GANLAB_STALL_TIMEOUT); nothing was kept.")
                if progress:
                    progress(done, total)
        if total is not None and done < total:
            raise _Interrupted(done, total, "connection closed early")
        return total


def _complete_part_length(url: str, part: Path, have: int) -> int | None:
    """After a 416 answer: the server's length (HEAD); the caller compares it with the part's size."""
    try:
        req = urllib.request.Request(url, method="HEAD", headers={"User-Agent": "ganlab"})
        with urllib.request.urlopen(req, timeout=timeout()) as r:
            n = r.headers.get("Content-Length")
            return int(n) if n and n.isdigit() else have
    except (urllib.error.URLError, OSError) as e:
        raise _unreachable(url, e) from None


def _fetch_pip(entry: Entry | None, requirement: str, sha256: str | None, size: int | None,
               progress: Progress | None) -> Path:
    """``pip download --no-deps --only-binary=:all:`` with the running Python's pip, so that the user's package
    index configuration applies; the wheel is then verified and moved into the cache like any download."""
    name = entry.name if entry else requirement
    final = downloads_dir() / _safe_name(name) / (entry.filename if entry else "package.whl")
    with _lock_for(final):
        if final.is_file():
            try:
                _verify_local(final, sha256, size)
                return final
            except DownloadError:
                final.unlink()
        final.parent.mkdir(parents=True, exist_ok=True)
        if progress:
            progress(0, size)
        with tempfile.TemporaryDirectory(dir=final.parent, prefix="pip-") as tmp:
            cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--dest", tmp,
                   "--retries", "1", "--timeout", str(int(timeout())), "--disable-pip-version-check", requirement]
            try:
                r = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
            except subprocess.TimeoutExpired:
                raise DownloadError(f"{name}: pip download took more than 10 minutes; giving up.") from None
            wheels = sorted(Path(tmp).glob("*.whl"))
            if r.returncode != 0 or not wheels:
                last = (r.stderr or r.stdout).strip().splitlines()[-1:] or ["no output"]
                raise DownloadError(f"{name}: `pip download {requirement}` failed ({last[0]}). It uses your pip "
                                    "configuration (index URL, proxy); check that the package index is reachable.")
            wheel = wheels[0]
            got, digest = wheel.stat().st_size, sha256_file(wheel)
            if size is not None and got != size:
                raise DownloadError(f"{name}: pip delivered {got:,} bytes, expected {size:,}: not the published "
                                    "file, nothing was kept.")
            _check_hash(wheel, digest, sha256, None, name)
            os.replace(wheel, final)
        if progress:
            progress(final.stat().st_size, final.stat().st_size)
        if not sha256:
            _unconfirmed[final] = ("pip:" + requirement, digest, got)
        return final


def main(argv: list[str] | None = None) -> int:
    """``python -m ganlab.download SOURCE...``: fetch catalog names or URLs into the cache, print the paths."""
    import argparse
    p = argparse.ArgumentParser(prog="python -m ganlab.download", description=main.__doc__)
    p.add_argument("sources", nargs="+", help=f"catalog names ({', '.join(catalog.names())}) or http(s) URLs")
    p.add_argument("--sha256", default=None, help="expected sha256 (one source only)")
    a = p.parse_args(argv)
    try:
        for s in a.sources:
            print(resolve(s, progress=True) if a.sha256 is None else fetch(s, sha256=a.sha256, progress=True))
    except DownloadError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
