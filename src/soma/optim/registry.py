"""Optimizers and learning-rate schedules by name (``soma._registry.Registry``).

``@register_optimizer(name, description, **defaults)`` on an optimizer class: ``defaults`` are
the hyperparameters the ``soma`` command and ``fit(optimizer="adam")`` start from (a rate that
trains the registered models well in a few epochs, tuned on digits with LeNet-5).

``@register_scheduler(name, description, interval=..., arguments=...)`` on a scheduler class:
``arguments(epochs, steps_per_epoch, lr)`` gives the keyword arguments for a run of that
length, and ``interval`` says whether it steps every ``"epoch"`` or every ``"batch"``.
"""

from soma._registry import Registry

OPTIMIZERS = Registry("optimizer")
SCHEDULERS = Registry("scheduler")


def register_optimizer(name: str, description: str = "", **defaults):
    """Decorator: the optimizer class is built by name with ``defaults`` (overridable)."""
    return OPTIMIZERS.register(name, description, defaults=defaults)


def register_scheduler(name: str, description: str = "", *, interval: str, arguments):
    """Decorator: the scheduler class is built by name for a run (see the module docstring)."""
    if interval not in ("epoch", "batch"):
        raise ValueError(
            f"register_scheduler: interval must be 'epoch' or 'batch', got {interval!r}"
        )
    return SCHEDULERS.register(name, description, interval=interval, arguments=arguments)


def list_optimizers() -> dict:
    """``{name: one-line description}`` of every registered optimizer."""
    return OPTIMIZERS.descriptions()


def list_schedulers() -> dict:
    """``{name: one-line description}`` of every registered learning-rate schedule."""
    return SCHEDULERS.descriptions()
