"""Models, looked up by name in the model registry (``[model] architecture``)."""
from regbench.models.binary import BinaryCNN, BinaryModelConfig
from regbench.models.registry import (DEFAULT_ARCHITECTURE, create_model, get_model_spec,
                                      list_models, register_model, unregister_model)

__all__ = ["BinaryCNN", "BinaryModelConfig", "DEFAULT_ARCHITECTURE", "create_model",
           "get_model_spec", "list_models", "register_model", "unregister_model"]
