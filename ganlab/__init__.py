"""ganlab: learn and show Generative Adversarial Networks.

>>> import ganlab
>>> ganlab.list_models()
>>> m = ganlab.load("dcgan-mnist")
>>> images = m.sample(8, seed=0)        # uint8 (8, 28, 28, 1): the seeds 0 … 7, each image its own seed
>>> from ganlab import views            # the app's and the CLI's views: settings → images / frames
>>> grid, settings = views.render_view(m, {"seed": 3, "n": 4, "truncation": 0.7})
"""
import importlib

__version__ = "0.1.0"
# imported on first use (PEP 562), so that `import ganlab.toy` (the numpy toy engine and its worker processes)
# does not load torch
_LAZY = {"list_models": "checkpoint", "load": "checkpoint", "push_to_hub": "checkpoint",
         "CheckpointError": "checkpoint", "MAX_SAMPLES": "models",
         "import_model": "importers"}


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["list_models", "load", "push_to_hub", "import_model", "CheckpointError", "MAX_SAMPLES", "__version__"]
