"""ganlab: learn and show Generative Adversarial Networks.

>>> import ganlab
>>> ganlab.list_models()
>>> m = ganlab.load("dcgan-mnist")
>>> images = m.sample(8, seed=0)        # uint8 (8, 28, 28, 1)
"""
from .checkpoint import list_models, load, push_to_hub
from .importers import import_model
from .models import MAX_SAMPLES, CheckpointError

__version__ = "0.1.0"
__all__ = ["list_models", "load", "push_to_hub", "import_model", "CheckpointError", "MAX_SAMPLES", "__version__"]
