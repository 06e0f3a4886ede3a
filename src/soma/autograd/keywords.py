"""PyTorch's keyword names on soma's public functions and Tensor methods (issue 11 §2).

PyTorch programs call ops by keyword: ``torch.add(input=x, other=y)``, ``torch.mm(x,
mat2=w)``, the NumPy spellings PyTorch's argument parser also accepts (``x.sum(axis=0)``,
``keepdims=True``), and ``out=`` on the torch functions that have it
(``torch.matmul(a, b, out=c)``). soma's kernels keep their short parameter names (``a``, ``b``,
``x``); ``adapt_namespace`` wraps each exported function once, where a namespace is exported
(``soma``, ``soma.nn.functional``) and ``adapt_methods`` does the same for ``Tensor``'s method
tables. The adapter renames the keywords and writes ``out=``; a call without keywords pays one
extra Python call, a function with nothing to rename is not wrapped at all.
"""

import functools
import inspect
import warnings

from soma.autograd.grad_mode import is_grad_enabled
from soma.autograd.tensor import Tensor

# soma's parameter name -> PyTorch's, for functions (a method's operand is ``self``)
_TORCH_NAME = {"x": "input", "a": "input", "b": "other", "y": "other"}
# PyTorch's name for one parameter of one op where it is not the generic one above
_RENAMED = {
    "pow": {"b": "exponent"},
    "mm": {"b": "mat2", "other": "mat2"},
    "bmm": {"b": "mat2", "other": "mat2"},
    "dot": {"b": "tensor", "other": "tensor"},
    "outer": {"b": "vec2", "other": "vec2"},
    "ger": {"b": "vec2", "other": "vec2"},
    "swapaxes": {"dim0": "axis0", "dim1": "axis1"},
    "split": {"split_size_or_sections": "split_size", "x": "tensor"},
    "norm": {"A": "input"},  # torch.linalg.norm
    "dsplit": {"sections": "indices_or_sections"},
    "hsplit": {"sections": "indices_or_sections"},
    "vsplit": {"sections": "indices_or_sections"},
    "searchsorted": {"input": "values"},
    "threshold_": {"threshold_value": "threshold"},
    "from_numpy": {"array": "ndarray"},
    "set_default_dtype": {"dtype": "d"},
    "set_rng_state": {"state": "new_state"},
    # ``*shape`` methods: PyTorch also takes the shape as one keyword
    "view": {"shape": "size"},
    "reshape": {"shape": "shape"},
    "expand": {"sizes": "size"},
    "repeat": {"sizes": "repeats"},
    "permute": {"dims": "dims"},
    "flip": {"dims": "dims"},
    "new_zeros": {"size": "size"},
    "new_ones": {"size": "size"},
    "new_empty": {"size": "size"},
}
# NumPy's names that PyTorch's argument parser accepts for its own (python_arg_parser.cpp; its
# ``x1=``/``x2=`` spellings of input/other are left out: no program uses them, and each would
# put an adapter on every function)
_NUMPY_NAMES = (("axis", "dim"), ("keepdims", "keepdim"))
_VARARGS = "*"  # an alias that stands for the ``*shape`` positional parameter

# The torch-namespace functions soma has that take ``out=`` in PyTorch (from PyTorch's
# signatures; tests/test_torch_keywords.py checks this list against the installed PyTorch).
OUT_FUNCTIONS = frozenset(
    """
    inverse qr range svd
    abs absolute acos acosh add addbmm addcdiv addcmul addmm addmv addr all amax amin aminmax
    any arange arccos arccosh arcsin arcsinh arctan arctan2 arctanh asin asinh atan atan2 atanh
    baddbmm bernoulli bitwise_and bitwise_left_shift bitwise_not bitwise_or bitwise_right_shift
    bitwise_xor bmm bucketize cat ceil chain_matmul clamp clip column_stack concat concatenate
    copysign cos cosh cross cummax cummin cumprod cumsum deg2rad diag diff digamma div divide dot
    dstack empty eq erf erfc erfinv exp exp2 expm1 eye fix float_power floor floor_divide fmax
    fmin fmod frac full gather gcd ge ger greater greater_equal gt heaviside histc histogram hstack hypot
    index_add index_copy index_select inner isneginf isposinf kron kthvalue lcm ldexp le less
    lerp less_equal lgamma linspace log log10 log1p log2 logaddexp logaddexp2 logcumsumexp
    logical_and logical_not logical_or logical_xor logit logspace logsumexp lt masked_select
    matmul matrix_power max maximum mean median min minimum mm mode msort mul multinomial
    multiply mv mvlgamma nan_to_num nanmean nanmedian nanquantile nansum ne neg negative nonzero
    norm normal not_equal ones outer polygamma pow prod quantile rad2deg rand randint randn
    randperm reciprocal remainder renorm round row_stack rsqrt searchsorted sgn sigmoid sign
    signbit sin sinc sinh sort sqrt square stack std std_mean sub subtract sum take take_along_dim
    tan tanh tensordot topk tril triu true_divide trunc var var_mean vdot vstack where xlogy
    zeros
    """.split()
)


def _aliases(names, fn, *, method):
    """``{keyword a PyTorch program may pass: fn's parameter}`` for the names fn lacks, when
    fn is exported under ``names``."""
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return {}
    renamed = {}
    for name in names:
        renamed.update(_RENAMED.get(name, {}))
    aliases = {}
    for p, param in params.items():
        torch_name = renamed.get(p) or (None if method else _TORCH_NAME.get(p))
        if param.kind is param.VAR_POSITIONAL:
            if p in renamed:
                aliases[renamed[p]] = _VARARGS
            continue
        if torch_name and torch_name not in params and torch_name not in aliases:
            aliases[torch_name] = p
    for alias, torch_name in _NUMPY_NAMES:
        target = torch_name if torch_name in params else aliases.get(torch_name)
        if target and alias not in params and alias not in aliases:
            aliases[alias] = target
    return aliases


def _rename(name, aliases, args, kwargs):
    """The call's ``(args, kwargs)`` with PyTorch's keywords turned into fn's own."""
    renamed = {}
    for key, value in kwargs.items():
        target = aliases.get(key, key)
        if target is _VARARGS:
            args = (*args, value)
            continue
        if target in renamed:
            raise TypeError(f"{name}() got multiple values for argument {target!r}")
        renamed[target] = value
    return args, renamed


def _can_cast(src, dst) -> bool:
    """PyTorch's ``can_cast``: never float to integer, complex to real, or anything to bool."""
    rank = {"b": 0, "u": 1, "i": 1, "f": 2, "c": 3}
    return rank.get(src.kind, 2) <= rank.get(dst.kind, 2)


def _write(name, out, result):
    """Copy ``result`` into ``out`` (resized to its shape, as PyTorch does)."""
    if not isinstance(out, Tensor):
        raise TypeError(f"{name}(): argument 'out' must be Tensor, not {type(out).__name__}")
    src, dst = result.array, out.array
    if not _can_cast(src.dtype, dst.dtype):
        raise RuntimeError(
            f"{name}(): result type {src.dtype} can't be cast to the desired output type "
            f"{dst.dtype}"
        )
    if dst.shape == src.shape:
        dst[...] = src
    else:
        if dst.size:
            warnings.warn(
                f"{name}(): An output with one or more elements was resized since it had shape "
                f"{list(dst.shape)}, which does not match the required output shape "
                f"{list(src.shape)}.",
                UserWarning,
                stacklevel=4,
            )
        out.array = src.astype(dst.dtype, copy=True)
    out._bump_version()


def _call_with_out(name, fn, aliases, args, kwargs):
    """``fn(*args, **kwargs)`` written into ``kwargs["out"]``."""
    out = kwargs.pop("out")
    args, kwargs = _rename(name, aliases, args, kwargs)
    if out is None:
        return fn(*args, **kwargs)
    return _into(name, fn, args, kwargs, out)


def _into(name, fn, args, kwargs, out):
    """``fn(*args, **kwargs)`` written into ``out`` (a tensor, or a tuple of tensors for a
    tuple result), which is returned."""
    outs = out if isinstance(out, (tuple, list)) else (out,)
    result = fn(*args, **kwargs)
    results = result if isinstance(result, tuple) else (result,)
    if is_grad_enabled() and any(
        isinstance(t, Tensor) and t.requires_grad for t in (*outs, *results)
    ):
        raise RuntimeError(
            f"{name}(): functions with out=... arguments don't support automatic "
            f"differentiation, but one of the arguments requires grad."
        )
    if len(outs) != len(results) or (out is outs) != isinstance(result, tuple):
        raise TypeError(
            f"{name}(): out= must be {'a tuple of ' if len(results) > 1 else ''}"
            f"{len(results)} tensor{'s' if len(results) > 1 else ''}, got {type(out).__name__}"
            f"{f' of length {len(outs)}' if out is outs else ''}"
        )
    for o, r in zip(outs, results, strict=True):
        _write(name, o, r)
    if not isinstance(result, tuple):
        return out
    return type(result)(*outs) if hasattr(result, "_fields") else tuple(outs)


def adapt(name, fn, *, out=False, method=False, aliases_of=()):
    """``fn`` taking PyTorch's keywords too (and ``out=`` when ``out``); fn itself when there
    is nothing to translate. ``aliases_of``: the other names fn is exported under (``clip``
    for ``clamp``), which share the one adapter. The adapter's ``__wrapped__`` is fn."""
    aliases = _aliases((name, *aliases_of), fn, method=method)
    if not aliases and not out:
        return fn
    adapted = _generated(name, fn, aliases, out)
    if adapted is None:
        adapted = _forwarding(name, fn, aliases, out)
    functools.update_wrapper(adapted, fn)
    adapted._torch_keywords = aliases  # for tests and introspection
    adapted._takes_out = out
    return adapted


def _forwarding(name, fn, aliases, takes_out):
    """The adapter as ``(*args, **kwargs)`` forwarding (for signatures ``_generated`` does not
    handle: ``**kwargs`` or positional-only parameters)."""

    def adapted(*args, **kwargs):
        if kwargs:
            if takes_out and "out" in kwargs:
                return _call_with_out(name, fn, aliases, args, kwargs)
            for key in kwargs:
                if key in aliases:
                    args, kwargs = _rename(name, aliases, args, kwargs)
                    break
            return fn(*args, **kwargs)
        return fn(*args)

    return adapted


class _Missing:
    def __repr__(self):
        return "<not given>"


_MISSING = _Missing()


def _generated(name, fn, aliases, takes_out):
    """The adapter with fn's own signature plus PyTorch's names as keyword-only parameters,
    compiled once: a keyword call then costs one plain call more than fn itself (a
    ``**kwargs`` forwarder costs several times that). None where fn's signature has
    ``**kwargs`` or positional-only parameters."""
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return None
    if any(p.kind in (p.POSITIONAL_ONLY, p.VAR_KEYWORD) for p in params):
        return None
    names = {p.name for p in params}
    if not str(name).isidentifier() or any(n.startswith("_") for n in names):
        return None
    by_target = {}
    for alias, target in aliases.items():
        by_target.setdefault(target, []).append(alias)
    head, kwonly, body, pos_call, kw_call = [], [], [], [], []
    defaults, optional = {}, False
    for p in params:
        own = by_target.get(p.name, [])
        if p.kind is p.VAR_POSITIONAL:
            head.append("*_va")  # its own name may be an alias ("shape")
            for alias in by_target.get(_VARARGS, []):
                kwonly.append(f"{alias}=_M")
                body += [
                    f"    if {alias} is not _M:",
                    "        if _va:",
                    f'            raise TypeError("{name}() got multiple values for argument '
                    f"'{alias}'\")",
                    f"        _va = ({alias},)",
                ]
            pos_call.append("*_va")
            continue
        has_default = p.default is not p.empty
        if has_default:
            default = f"_d{len(defaults)}"
            defaults[default] = p.default
        else:  # required: left out (_M) when another name may fill it, or one before may
            default = "_M" if own or optional else None
        optional = optional or default is not None
        spec = p.name if default is None else f"{p.name}={default}"
        (kwonly if p.kind is p.KEYWORD_ONLY else head).append(spec)
        for alias in own:
            kwonly.append(f"{alias}=_M")
            body += [
                f"    if {alias} is not _M:",
                f"        if {p.name} is not {default}:",
                f'            raise TypeError("{name}() got multiple values for argument '
                f"'{p.name}'\")",
                f"        {p.name} = {alias}",
            ]
        if default == "_M":
            body += [
                f"    if {p.name} is _M:",
                f"        raise TypeError(\"{name}() missing required argument: '{p.name}'\")",
            ]
        (kw_call if p.kind is p.KEYWORD_ONLY else pos_call).append(
            f"{p.name}={p.name}" if p.kind is p.KEYWORD_ONLY else p.name
        )
    if takes_out:
        kwonly.append("out=None")
    if kwonly and not any(h.startswith("*") for h in head):
        head.append("*")
    call = ", ".join(pos_call + kw_call)
    if takes_out:
        body += [
            "    if out is not None:",
            f"        return _into({name!r}, _fn, ({', '.join(pos_call)}{',' if pos_call else ''}), "
            f"{{{', '.join(f'{k!r}: {k}' for k in (c.split('=')[0] for c in kw_call))}}}, out)",
        ]
    source = "\n".join(
        [f"def {name}({', '.join(head + kwonly)}):", *body, f"    return _fn({call})"]
    )
    scope = {"_fn": fn, "_M": _MISSING, "_into": _into, **defaults}
    exec(compile(source, f"<soma keywords: {name}>", "exec"), scope)  # noqa: S102
    return scope[name]


def adapt_namespace(namespace, *, out_names=OUT_FUNCTIONS):
    """Replace each public function in ``namespace`` (a module's ``globals()``) by its adapter;
    functions in ``out_names`` also take ``out=``. Idempotent."""
    exported = {}  # fn -> the names it is exported under (an alias is the same function)
    for name, fn in namespace.items():
        if not name.startswith("_") and inspect.isfunction(fn):
            if not hasattr(fn, "_torch_keywords"):
                exported.setdefault(fn, []).append(name)
    for fn, names in exported.items():
        name = fn.__name__ if fn.__name__ in names else names[0]
        # NOTE: the adapter keeps fn's __module__ and __name__: a whole-model save records
        # the kernel's path, and doctest does not run fn's examples again under this namespace
        adapted = adapt(name, fn, out=any(n in out_names for n in names), aliases_of=tuple(names))
        for n in names:
            namespace[n] = adapted


def adapt_methods(cls):
    """Give the methods defined in ``cls`` PyTorch's keyword names (``axis=``, ``keepdims=``,
    ``mat2=`` …). Methods take no ``out=``, as in PyTorch."""
    exported = {}
    for name, fn in vars(cls).items():
        if not name.startswith("_") and inspect.isfunction(fn):
            if not hasattr(fn, "_torch_keywords"):
                exported.setdefault(fn, []).append(name)
    for fn, names in exported.items():
        name = fn.__name__ if fn.__name__ in names else names[0]
        adapted = adapt(name, fn, method=True, aliases_of=tuple(names))
        if adapted is not fn:
            for n in names:
                setattr(cls, n, adapted)
