"""Error classes that both soma's habits and PyTorch's programs catch.

soma reports a wrong shape as ``ValueError`` and a dtype mismatch as ``TypeError``, with
messages that name the op and the shapes; PyTorch raises ``RuntimeError`` for both. Errors of
these two classes leave every ``Function`` and ``Module`` call as ``ShapeError`` (a
``ValueError`` *and* a ``RuntimeError``) or ``DTypeError`` (a ``TypeError`` and a
``RuntimeError``), message unchanged, so ``except ValueError:`` and PyTorch code's
``except RuntimeError:`` both work. Checks that run before any ``Function`` (a functional op's
own arguments: pooling windows, convolution geometry, normalization shapes) raise
``ShapeError`` themselves.

Example:
    >>> import soma
    >>> try:
    ...     soma.ones(2, 3) @ soma.ones(2, 3)
    ... except RuntimeError as error:
    ...     print(type(error).__name__, isinstance(error, ValueError))
    ShapeError True
"""


class ShapeError(ValueError, RuntimeError):
    """Shapes or sizes that do not fit the operation (PyTorch: ``RuntimeError``)."""


class DTypeError(TypeError, RuntimeError):
    """Dtypes that do not fit the operation (PyTorch: ``RuntimeError``)."""


class ValueOverflowError(OverflowError, RuntimeError):
    """A number that the tensor's dtype cannot hold, given to a filling op (PyTorch:
    ``RuntimeError``)."""


class IndexOutOfRange(IndexError, RuntimeError):
    """An index outside its dimension (PyTorch raises ``RuntimeError`` from gather, scatter and
    index_select, ``IndexError`` from indexing and index_copy: code catching either works)."""


class IntegerDivisionByZero(ZeroDivisionError, RuntimeError):
    """An integer division or remainder by zero (PyTorch: ``RuntimeError: ZeroDivisionError``);
    float division gives inf or NaN instead."""


_DUAL = {ValueError: ShapeError, TypeError: DTypeError}


def as_pytorch_error(error: BaseException) -> BaseException:
    """``error`` as its dual class (same message, attributes and traceback), or unchanged.

    Only plain ``ValueError``/``TypeError`` change; subclasses (``CheckpointError`` …) keep
    their own class.
    """
    dual = _DUAL.get(type(error))
    if dual is None:
        return error
    new = dual(*error.args)
    new.__dict__.update(getattr(error, "__dict__", {}))
    new.__cause__ = error.__cause__
    new.__suppress_context__ = error.__suppress_context__
    for note in getattr(error, "__notes__", ()):
        new.add_note(note)
    return new.with_traceback(error.__traceback__)
