"""What the benchmarks ran on: CPU, cores, BLAS and threading settings (recorded, never changed)."""

import os
import platform
import subprocess
import sys

THREAD_VARS = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "OPENBLAS_THREAD_TIMEOUT",
    "MKL_NUM_THREADS",
    "MALLOC_TOP_PAD_",
    "MALLOC_MMAP_THRESHOLD_",
    "MALLOC_TRIM_THRESHOLD_",
)


def _first_cpu() -> dict:
    """The first processor's fields in /proc/cpuinfo (empty where there is none)."""
    fields = {}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if not line.strip():
                    break
                key, _, value = line.partition(":")
                fields[key.strip()] = value.strip()
    except OSError:
        pass
    return fields


def _cpu_model(fields: dict) -> str:
    return fields.get("model name") or platform.processor() or "unknown"


def _cpu_generation(fields: dict) -> str:
    """Family, model and widest vector instructions: a VM's "AMD EPYC" alone hides whether it
    is a Zen 1 with AVX2 or a Zen 4 with AVX-512, which differ 2-3x in the same benchmark."""
    flags = set(fields.get("flags", "").split())
    simd = next((f for f in ("avx512f", "avx2", "avx", "sse4_2") if f in flags), "none")
    if "cpu family" not in fields:
        return f"simd {simd}"
    return f"family {fields.get('cpu family')} model {fields.get('model')}, simd {simd}"


def _in_fresh_python(code: str) -> str:
    """What ``code`` prints, run in a Python of its own (the harness's own process loads
    neither soma nor anything it would set up)."""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    return out.stdout.strip()


def _numpy_blas() -> str:
    code = (
        "import numpy, json; c = numpy.show_config(mode='dicts'); "
        "b = c['Build Dependencies']['blas']; print(b.get('name'), b.get('version'))"
    )
    return _in_fresh_python(code) or "unknown"


def _blas_kernels() -> str:
    """The kernel set NumPy's OpenBLAS chose for this CPU: the same CPU family can run AVX2 or
    AVX-512 kernels (a Zen 5 VM got "haswell"; a Zen 4 VM "skylakex"), and soma's products are
    OpenBLAS's."""
    return _in_fresh_python("from soma.backend import blas; print(blas.core_name())") or "unknown"


def describe() -> dict:
    import numpy

    cpu = _first_cpu()
    info = {
        "cpu": _cpu_model(cpu),
        "cpu_generation": _cpu_generation(cpu),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "numpy_blas": _numpy_blas(),
        "blas_kernels": _blas_kernels(),
        "env": {k: os.environ[k] for k in THREAD_VARS if k in os.environ},
    }
    try:
        import torch

        info["torch"] = torch.__version__
        info["torch_threads"] = torch.get_num_threads()
    except ImportError:
        info["torch"] = None
    return info
