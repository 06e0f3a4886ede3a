"""The model zoo: reference implementations built from ``soma.nn``, found by name.

    model = soma.models.get_model("lenet5", num_classes=10, in_channels=1)
    soma.models.list_models()     # {"lenet5": "LeNet-5 (LeCun 1998) …", "mlp": …}
"""

from soma.models.registry import ModelInfo, get_model, list_models, model_info, register_model
from soma.models.mlp import MLP  # noqa: E402  (importing a model registers it)
from soma.models.lenet import LeNet5  # noqa: E402
from soma.models.simplecnn import SimpleCNN  # noqa: E402
from soma.models.vit import VisionTransformer  # noqa: E402

__all__ = [
    "LeNet5",
    "MLP",
    "ModelInfo",
    "SimpleCNN",
    "VisionTransformer",
    "get_model",
    "list_models",
    "model_info",
    "register_model",
]
