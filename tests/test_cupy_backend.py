"""soma on a real GPU backend: CuPy through the seam, against the NumPy backend (marked ``gpu``).

Skipped unless CuPy and a CUDA device are present (CI has neither). Every op-table row runs
forward and backward on CuPy arrays, and four small models take two SGD and Adam steps; the
values must agree with the NumPy backend's to float64 rounding (GPU libraries sum in other
orders, so not bit for bit).
"""

import numpy as np
import pytest

import soma
from soma import backend
from tests.op_specs import all_specs
from tests.test_backend_seam import _models, _run, _train_steps

cupy = pytest.importorskip("cupy")
try:
    HAS_DEVICE = cupy.cuda.runtime.getDeviceCount() > 0
except Exception:  # no driver or no device: CuPy imports but cannot run
    HAS_DEVICE = False

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not HAS_DEVICE, reason="needs a CUDA device"),
]
if HAS_DEVICE:
    backend.register_backend("cupy", cupy, cupy.ndarray)

SPECS = all_specs()

# Measured on an H200 with CuPy 14.2 (2026-12-04): what still fails there, and why.
_MISSING = "CuPy 14 has no {}: the kernel needs another formulation on that backend"
KNOWN_GAPS = {
    "cummax": _MISSING.format("maximum.accumulate"),
    "cummin": _MISSING.format("minimum.accumulate"),
    "logcumsumexp": _MISSING.format("logaddexp.accumulate"),
    "scatter_reduce[prod": _MISSING.format("multiply.at"),
    "scatter_reduce[0d]": _MISSING.format("multiply.at"),
    "scatter_reduce[amax,": "values rounded to float32 on the CuPy path (not traced yet)",
    "scatter_reduce[amin,": "values rounded to float32 on the CuPy path (not traced yet)",
}


def _known_gap(spec_id):
    return next((why for key, why in KNOWN_GAPS.items() if spec_id.startswith(key)), None)


def _param(spec):
    why = _known_gap(spec.id)
    marks = [pytest.mark.xfail(reason=why, strict=True)] if why else []
    return pytest.param(spec, id=spec.id, marks=marks)


def _close(ours, reference, what):
    got = cupy.asnumpy(ours)
    assert got.dtype == reference.dtype, f"{what}: dtype {got.dtype} != {reference.dtype}"
    if reference.dtype.kind in "fc":
        # the GPU's libraries round differently from NumPy's: a few units in the last place
        tol = 1e-9 if reference.dtype.itemsize >= 8 else 1e-5
        np.testing.assert_allclose(got, reference, rtol=tol, atol=tol * 0.1, err_msg=what)
    else:
        np.testing.assert_array_equal(got, reference, err_msg=what)


@pytest.mark.parametrize("spec", [_param(s) for s in SPECS])
def test_every_op_runs_on_cupy(spec):
    arrays = spec.inputs()
    requires = spec.differentiable(arrays)
    outs_np, grads_np = _run(spec, arrays, requires)
    with backend.use_backend("cupy"):
        outs, grads = _run(spec, [cupy.asarray(a) for a in arrays], requires)
    for k, (ours, reference) in enumerate(zip(outs, outs_np)):
        assert isinstance(ours.array, cupy.ndarray), f"{spec.id}: output {k} not on the GPU"
        _close(ours.array, reference.array, f"{spec.id}: output {k}")
    for i, (ours, reference) in zip(requires, zip(grads, grads_np)):
        if reference is not None:
            assert ours is not None and isinstance(ours.array, cupy.ndarray), spec.id
            _close(ours.array, reference.array, f"{spec.id}: gradient of input {i}")


@pytest.mark.parametrize("optimizer", ["SGD", "Adam"])
@pytest.mark.parametrize("name", sorted(_models()))
def test_models_train_on_cupy(name, optimizer):
    # float64: float32 rounding would blur Adam's first steps, which divide by tiny moments
    # (even in float64 one BatchNorm weight differed by 1.2e-9 relative after two Adam steps)
    soma.set_default_dtype(soma.float64)
    build, shape = _models()[name]
    make = getattr(soma.optim, optimizer)

    def opt(params):
        return make(params, lr=0.1, momentum=0.9) if optimizer == "SGD" else make(params)

    expected = _train_steps(build, shape, opt)
    with backend.use_backend("cupy"):
        got = _train_steps(build, shape, opt)
    for k, (ours, reference) in enumerate(zip(got, expected)):
        assert isinstance(ours, cupy.ndarray), f"{name}: state {k} not on the GPU"
        np.testing.assert_allclose(
            cupy.asnumpy(ours), reference, rtol=1e-7, atol=1e-10, err_msg=f"{name}: state {k}"
        )
