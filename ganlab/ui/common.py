"""What the app's tabs share: the model registry, one bounded temp dir, friendly errors and settings JSON."""
from __future__ import annotations

import functools
import html
import inspect
import json
import logging
import os
import shutil
import tempfile
import threading
import uuid
import weakref
from collections import deque
from dataclasses import dataclass
from pathlib import Path, PurePath

import gradio as gr

from .. import export, views
from ..models import CheckpointError, display_name
from ..registry import ModelRegistry
from ..serving import Superseded

MAX_TEMP_FILES = 200         # PNGs and GIFs the app keeps on disk; older ones are deleted (Gradio serves copies)
CSS = """
/* grids and walks fill their panel's width (a small grid drawn at its own size looked lost in a 700 px panel),
   no taller than most of the window; the browser scales them by nearest neighbour, so pixels stay square */
.crisp .image-frame { width: 100%; }
.crisp img { image-rendering: pixelated; width: 100%; height: auto; max-height: 75vh; object-fit: contain; }
/* the image's toolbar (download, fullscreen) above the image, not over its first row */
.crisp .icon-button-wrapper.top-panel { position: static; display: flex; justify-content: flex-end; }
/* the image stays in view while the controls beside it (or, on a phone, under it) are scrolled through
   (overflow: clip, not Gradio's hidden, which made the page's container a scroll box that sticky sticks to) */
.gradio-container { overflow: clip !important; }
#image-column { position: sticky; top: 0; align-self: flex-start; z-index: 100;
                background: var(--body-background-fill); }
@media (max-width: 767px) {
  #image-column { order: -1; align-self: stretch; }
  #image-column .crisp img { max-height: 40vh; }
}
/* a dropdown's text ends before its arrow (with an ellipsis when it is longer) instead of running under it */
.secondary-wrap input[role=combobox] { box-sizing: border-box; padding-right: 24px; text-overflow: ellipsis; }
/* the Models tab's bundled models: the table where all its columns fit, else a card per model (models.model_cards)
   instead of columns scrolled out of sight; decided by the space the tab has (a container query, in HEAD),
   whatever the window's scrollbar takes */
#models-list { container-type: inline-size; }
#models-cards { display: none; }
.model-cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(260px, 1fr)); gap: 12px; }
.model-card { border: 1px solid var(--border-color-primary); border-radius: var(--radius-md); padding: 8px 12px; }
.model-card h4 { margin: 0 0 6px; font-family: var(--font-mono); }
.model-card dl { display: grid; grid-template-columns: max-content minmax(0, 1fr); gap: 2px 12px; margin: 0; }
.model-card dt { font-weight: 600; }
.model-card dd { margin: 0; overflow-wrap: anywhere; font-family: var(--font-mono); }
/* the Live toy's picture: its two panels (live._frame_html) in a row that wraps, so a phone stacks them */
#live-frame :has(> img.live-panel) { display: flex; flex-wrap: wrap; justify-content: center; }
#live-frame img.live-panel { display: block; height: auto; margin: 0; }
/* the panels and the cards as wide as the page */
#live-frame .html-container, #models-cards .html-container { padding-left: 0; padding-right: 0; }
/* a phone: every tab's name in the tab bar (Gradio moves the ones that do not fit behind a "…" menu) */
@media (max-width: 600px) { .tab-wrapper .tab-container button { padding: 4px 7px; } }
"""

HEAD = """<style>
/* rules Gradio's CSS loader drops (it keeps style, @media, @keyframes and @font-face rules only) */
@container (max-width: 1199px) {
  #models-table { display: none !important; }
  #models-cards { display: block !important; }
}
</style>"""


class TempFiles:
    """One temp dir for the app's outputs, holding at most ``max_files`` files (oldest deleted first) and
    removed when the app is garbage-collected or the process exits."""

    def __init__(self, max_files: int = MAX_TEMP_FILES):
        self.dir = Path(tempfile.mkdtemp(prefix="ganlab-app-"))
        self.max_files = max_files
        self._files: deque[Path] = deque()
        self._lock = threading.Lock()
        self._finalizer = weakref.finalize(self, shutil.rmtree, str(self.dir), True)

    def path(self, stem: str, suffix: str) -> Path:
        """A fresh path ``<dir>/<stem>-<random><suffix>``; evicts the oldest files beyond the cap."""
        p = self.dir / f"{stem}-{uuid.uuid4().hex[:8]}{suffix}"
        with self._lock:
            self._files.append(p)
            while len(self._files) > self.max_files:
                self._files.popleft().unlink(missing_ok=True)
        return p

    def alias(self, source: Path) -> Path:
        """A fresh name in this dir for the file ``source`` (a hard link, else a copy): a view served from the
        render cache still reaches the page as a new file, as every redraw always has."""
        p = self.path(source.stem.rsplit("_", 1)[0], source.suffix)
        try:
            os.link(source, p)
        except OSError:
            shutil.copyfile(source, p)
        return p

    def cleanup(self) -> None:
        self._finalizer()


@dataclass
class App:
    """The state every tab's callbacks use."""
    registry: ModelRegistry
    files: TempFiles
    server: object = None        # serve.ViewServer: cached, sized renders of the Generate tab's views


def model_choices(registry: ModelRegistry) -> list[tuple[str, str]]:
    """Dropdown choices ("DCGAN · dcgan-mnist", "dcgan-mnist") of the available models, grouped by family; in an
    event, then the models only its visitor may pick (see offer_to_visitors), so that no refresh of the picker
    drops them."""
    from gradio.context import LocalContext

    choices = [(f"{display_name(family)} · {name}", name)
               for family, names in registry.grouped().items() for name in names]
    request, choices_of = LocalContext.request.get(None), _VISITOR_CHOICES.get(registry)
    if request is not None and choices_of is not None:
        choices += choices_of(getattr(request, "session_hash", None) or "local")
    return choices


_VISITOR_CHOICES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()   # registry → choices_of


def offer_to_visitors(registry: ModelRegistry, choices_of) -> None:
    """Have model_choices(registry) add ``choices_of(session_hash)`` for the visitor whose event runs: models the
    registry serves from an unlisted root that this visitor may pick (the Live training tab's exports)."""
    _VISITOR_CHOICES[registry] = choices_of


log = logging.getLogger("ganlab.app")


def from_page() -> bool:
    """Whether the running event came from the app's page (its client marks its requests ``x-gradio-user: app``;
    gradio_client sends ``api``)."""
    from gradio.context import LocalContext

    request = LocalContext.request.get(None)
    return request is not None and (request.headers or {}).get("x-gradio-user") == "app"


class Refused(ValueError):
    """A user's input a tab does not accept (raised by the UI's own checks; the library raises ValueError):
    shown once, logged as one line, and nothing changes."""


def warn(message, action: str = "input", logger: logging.Logger = log) -> str:
    """Show a refused input once: one line in the server log (no traceback: it is the user's mistake, not a
    fault) and a warning toast in the page. Returns the message, HTML-escaped (it may quote what a visitor
    typed), for a tab that also writes it into a status line (the Live tab)."""
    logger.warning("refused %s: %s", action, message)
    text = html.escape(str(message), quote=False)
    gr.Warning(text)
    return text


def refuse(message, action: str = "input", logger: logging.Logger = log):
    """What a refused input gets: :func:`warn` and, in the page, no update at all (every control stays as it
    was and usable; an error would turn every output of the event into an "Error" badge); an API client gets a
    gr.Error with the message. Returns the "change nothing" value to return from the event handler."""
    if from_page():
        warn(message, action, logger)
        return gr.skip()
    logger.warning("refused %s: %s", action, message)
    raise gr.Error(html.escape(str(message), quote=False), print_exception=False)


def friendly(fn):
    """Turn the library's ValueError / CheckpointError into :func:`refuse`: the page keeps every control as it was
    and shows the reason once; an API client gets the reason as an error. A request superseded by the same page's
    newer one (``serving.Superseded``) changes nothing. Keeps ``fn``'s signature (Gradio reads parameter names
    from it)."""
    if inspect.isgeneratorfunction(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            try:
                yield from fn(*args, **kwargs)
            except Superseded:                 # the visitor asked for something newer: that answer follows
                yield gr.skip()
            except (ValueError, CheckpointError) as e:
                yield refuse(str(e), fn.__name__)
    else:
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            try:
                return fn(*args, **kwargs)
            except Superseded:                 # the visitor asked for something newer: that answer follows
                return gr.skip()
            except (ValueError, CheckpointError) as e:
                return refuse(str(e), fn.__name__)
    return wrapper


def nearest_in_range(values: dict, controls: dict) -> dict:
    """``values`` with each slider's value typed outside the slider's range set to the nearest end of it, as the
    page does when the box loses focus: one rule whether the value comes with Enter, with Generate or from an API
    client. The app's events take their inputs unprocessed (``preprocess=False``): Gradio's own checks would
    raise errors with a traceback in the server log and show "Could not preprocess input component…" in the
    page; everything else is checked by :mod:`ganlab.views` with its message (through :func:`refuse`)."""
    out = dict(values)
    for k, control in controls.items():
        x = out.get(k)
        if isinstance(control, gr.Slider) and isinstance(x, (int, float)) and not isinstance(x, bool):
            out[k] = min(max(x, control.minimum), control.maximum)
    return out


UNPROCESSED = dict(preprocess=False)      # every tab's events take their inputs as sent: the app checks them
                                          # itself with its own messages (views, the toy's settings table; see
                                          # nearest_in_range). Uploads are still checked into Gradio's cache.


def bind(fn, *state):
    """``fn`` (a module-level handler whose first parameters are the app's or a tab's state: the registry, the
    tab's components, the Live sessions) with those fixed to ``state``, as Gradio calls it: the rest of
    ``fn``'s signature is what Gradio reads (parameter names for the API, gr.Progress defaults, gr.Request
    annotations), and a generator stays a generator (a stream)."""
    if inspect.isgeneratorfunction(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            yield from fn(*state, *args, **kwargs)
    else:
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            return fn(*state, *args, **kwargs)
    del wrapper.__wrapped__                   # Gradio reads the signature below, not fn's
    signature = inspect.signature(fn, eval_str=True)
    params = list(signature.parameters.values())[len(state):]
    wrapper.__signature__ = signature.replace(parameters=params)
    wrapper.__annotations__ = {p.name: p.annotation for p in params if p.annotation is not p.empty}
    return wrapper


def to_json(settings: dict) -> str:
    return json.dumps(settings, indent=1, ensure_ascii=False)


def parse_settings(text: str, keys) -> dict:
    """The settings pasted into a JSON box (or read from a ganlab PNG/GIF), restricted to ``keys`` (the
    vocabulary and its old spellings are ganlab.views')."""
    try:
        settings = json.loads(text or "")
    except json.JSONDecodeError as e:
        raise ValueError(f"the settings are not valid JSON ({e.msg} at line {e.lineno}, column {e.colno}).") from None
    if not isinstance(settings, dict):
        raise ValueError("the settings must be a JSON object like the one shown after generating.")
    return views.known_settings(settings, keys)


def opened_settings(path, walk: bool) -> str:
    """The settings JSON of a PNG or GIF that ganlab made (the app's or the CLI's), opened or dropped in the page,
    for the Generate tab's view (``walk`` False) or the Interpolate tab's walk: ValueError with one line saying
    what the file is otherwise. A CLI file's model given as a folder path is named by its folder, as the app
    names models."""
    if not path:
        raise ValueError("choose a PNG or GIF file made by ganlab.")
    name = Path(path).name
    text = export.settings_text(path)
    try:
        settings = json.loads(text) if text else None
    except json.JSONDecodeError:
        settings = None
    if not isinstance(settings, dict):
        raise ValueError(f"{name} carries no ganlab settings: open a PNG or GIF that ganlab made (an image's or "
                         "a walk's download button, or the CLI's generate and interpolate).")
    if settings.get("kind") == "toy2d live run":
        raise ValueError(f"{name} is a Live training run: its settings (in the GIF's comment) belong to the Live "
                         "training tab.")
    is_walk = any(k in settings for k in ("keyframes", "frames", "fps"))
    if is_walk != walk:
        raise ValueError(f"{name} holds a walk: open it in the Interpolate tab." if is_walk else
                         f"{name} holds an image, not a walk: open it in the Generate tab.")
    model = settings.get("model")
    if isinstance(model, str) and ("/" in model or "\\" in model):
        settings["model"] = PurePath(model.replace("\\", "/")).name
    return to_json(settings)
