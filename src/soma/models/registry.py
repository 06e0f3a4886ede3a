"""Models by name (a ``soma._registry.Registry``): ``register_model`` adds a builder, ``get_model("lenet5", num_classes=10)``
builds one, ``list_models()`` lists them with one line each.

Every builder takes ``num_classes`` and ``in_channels``. A model that needs inputs of one size
says so with ``input_size=(H, W)`` when registered; the ``soma`` command resizes images to it.
A model that accepts any size down to a minimum says so with ``min_input_size=(H, W)`` (smaller
images are enlarged to it), and ``reference_input=(C, H, W)`` names the setting its paper uses
(ImageNet's 3×224×224), the default of ``soma summary``.
"""

from dataclasses import dataclass

from soma._registry import Registry


@dataclass(frozen=True)
class ModelInfo:
    """A registered model: its builder, a one-line description and the input size it expects."""

    name: str
    builder: object
    description: str
    input_size: tuple | None = None  # (H, W), or None when any size works
    reference_input: tuple | None = None  # (C, H, W) of the reference setting, e.g. (3, 224, 224)
    min_input_size: tuple | None = None  # smallest (H, W) accepted when input_size is None


MODELS = Registry("model", entry=ModelInfo)


def register_model(
    name: str, description: str = "", input_size=None, reference_input=None, min_input_size=None
):
    """Decorator registering a model class or builder function under ``name``.

    Example:
        >>> import soma
        >>> @register_model("tiny_doc_example", "one linear layer")
        ... def tiny(num_classes=10, in_channels=1):
        ...     return soma.nn.Linear(in_channels, num_classes)
        >>> get_model("tiny_doc_example", num_classes=3).out_features
        3
    """
    return MODELS.register(
        name,
        description,
        input_size=tuple(input_size) if input_size else None,
        reference_input=tuple(reference_input) if reference_input else None,
        min_input_size=tuple(min_input_size) if min_input_size else None,
    )


def model_info(name: str) -> ModelInfo:
    """The registry entry of ``name``; an unknown name lists the valid ones."""
    return MODELS.get(name)


def get_model(name: str, **kwargs):
    """Build the model registered as ``name`` with keyword arguments for its constructor."""
    return model_info(name).builder(**kwargs)


def list_models() -> dict:
    """``{name: one-line description}`` of every registered model, sorted by name."""
    return MODELS.descriptions()
