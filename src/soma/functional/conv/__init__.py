"""Convolutions: 1-D, 2-D and 3-D, plain and transposed, grouped, dilated, and fold/unfold.

``convolution`` holds the public functions and their two Functions (ConvNd, ConvTransposeNd);
the private modules are the kernels they choose between: ``_args`` validates arguments and
computes output sizes, ``_geometry`` describes a convolution's windows, ``_im2col`` (and
``_im2col_narrow`` for few channels) lowers a convolution to one matrix product,
``_pointwise`` handles 1×1 kernels without copies, ``_depthwise`` one filter per channel.
``fold`` is ``unfold``/``fold`` (im2col as a public op). Used by ``nn/modules/conv.py`` and
``nn/modules/fold.py``.
"""
