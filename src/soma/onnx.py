"""``soma.onnx``: export models to ONNX, like ``torch.onnx`` (``soma.onnx.export``).

The ``onnx`` package is needed only when exporting: ``pip install soma[onnx]``.
"""

from soma.io._onnx_trace import ExportError
from soma.io.onnx_export import export, supported_ops

__all__ = ["ExportError", "export", "supported_ops"]
