"""``torch.backends``: switches of GPU libraries that programs set at start-up.

soma's kernels are NumPy's, deterministic and free of autotuning, so these flags are accepted
and remembered (``torch.backends.cudnn.benchmark = True`` reads back True) but change nothing;
every ``is_available()`` answers False.
"""


class _Namespace:
    """A settable group of flags, importable as a module (``import torch.backends.cudnn``)."""

    _is_namespace = True

    def __init__(self, name, **flags):
        self.__name__ = name
        self.__dict__.update(flags)

    def __repr__(self):
        return f"<soma stand-in for {self.__name__}>"

    @staticmethod
    def is_available() -> bool:
        return False

    @staticmethod
    def is_built() -> bool:
        return False


class _CuDNN(_Namespace):
    @staticmethod
    def version():
        return None


cudnn = _CuDNN(
    "torch.backends.cudnn", enabled=True, benchmark=False, deterministic=False, allow_tf32=True
)
mps = _Namespace("torch.backends.mps")
mkldnn = _Namespace("torch.backends.mkldnn", enabled=False)
openmp = _Namespace("torch.backends.openmp")
cuda = _Namespace(
    "torch.backends.cuda",
    matmul=_Namespace(
        "torch.backends.cuda.matmul",
        allow_tf32=False,
        allow_fp16_reduced_precision_reduction=True,
        allow_bf16_reduced_precision_reduction=True,
    ),
)
cuda.enable_flash_sdp = cuda.enable_mem_efficient_sdp = cuda.enable_math_sdp = lambda on: None
cuda.flash_sdp_enabled = cuda.mem_efficient_sdp_enabled = lambda: False
cuda.math_sdp_enabled = lambda: True
