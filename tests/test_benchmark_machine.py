"""The benchmark record names the CPU generation, not only the VM's model string."""

from benchmarks.machine import _cpu_generation, _cpu_model


def test_generation_names_family_model_and_the_widest_vector_set():
    zen4 = {"cpu family": "25", "model": "17", "flags": "fpu sse4_2 avx avx2 avx512f avx512bw"}
    zen1 = {"cpu family": "23", "model": "1", "flags": "fpu sse4_2 avx avx2 fma"}
    assert _cpu_generation(zen4) == "family 25 model 17, simd avx512f"
    assert _cpu_generation(zen1) == "family 23 model 1, simd avx2"


def test_generation_without_cpuinfo_says_what_it_knows():
    assert _cpu_generation({}) == "simd none"
    assert _cpu_model({"model name": "AMD EPYC"}) == "AMD EPYC"


def test_record_names_openblas_kernel_set():
    """Results name the kernels NumPy's OpenBLAS runs (AVX2 or AVX-512 on the same family)."""
    from benchmarks.machine import _blas_kernels

    from soma.backend import blas

    assert _blas_kernels() == (blas.core_name() or "unknown")
    assert _blas_kernels() != ""
