"""Losses and activations by name (``soma._registry.Registry``), for ``fit(loss="mse")``, the
``mlp`` model's ``activation="tanh"`` and the ``soma`` command.

``@register_loss(name, description, aliases=...)`` on a loss module class and
``@register_activation(name, description)`` on an activation module class; each is built with
no arguments.
"""

from soma._registry import Registry

LOSSES = Registry("loss")
ACTIVATIONS = Registry("activation")
register_loss = LOSSES.register
register_activation = ACTIVATIONS.register


def list_losses() -> dict:
    """``{name: one-line description}`` of every loss ``fit`` accepts by name."""
    return LOSSES.descriptions()


def list_activations() -> dict:
    """``{name: one-line description}`` of every activation accepted by name."""
    return ACTIVATIONS.descriptions()
