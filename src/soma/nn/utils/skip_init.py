"""``skip_init``: build a module without drawing its initial weights (PyTorch's utility)."""

from soma.nn import init


def skip_init(module_cls, *args, **kwargs):
    """Instantiate ``module_cls(*args, **kwargs)`` without initialising its parameters.

    The parameters keep the uninitialised memory they were created with (as ``torch.empty``):
    fill them yourself, load a state dict, or only count them. Building VGG-16's 138 million
    parameters this way costs no random draws, and the memory is not even touched.

    Args:
        module_cls: a ``Module`` subclass (or any callable building one).
        *args, **kwargs: its constructor arguments.

    Example:
        >>> import soma
        >>> layer = skip_init(soma.nn.Linear, 1000, 10)
        >>> sum(p.numel() for p in layer.parameters())
        10010
    """
    with init.no_init():
        return module_cls(*args, **kwargs)
