"""Convolutions (1/2/3-D and transposed), padding and fold/unfold, on small float64 inputs.

Each row is (input shape, weight shape, keyword arguments); bias is the third input when
``bias`` is true. Between them the rows cover stride > 1, dilation > 1, groups, depthwise
(both kernels: dense for small inputs, taps for large), 'same'/'valid', odd and non-square
sizes, asymmetric kernels and padding, batch 1, one channel, 1×1 kernels and output_padding.
"""

import soma
from tests.op_specs.spec import OpSpec, torch

F, TF = soma.nn.functional, torch.nn.functional

# name, input, weight, bias?, kwargs, variant
CONV = [
    ("conv1d", (2, 3, 9), (4, 3, 3), True, {}, "basic"),
    ("conv1d", (2, 2, 10), (4, 2, 4), True, dict(stride=2, padding=1), "stride2_pad"),
    ("conv1d", (1, 2, 11), (2, 2, 3), False, dict(dilation=3, padding=2), "dilation_batch1"),
    ("conv1d", (2, 4, 9), (6, 2, 3), True, dict(groups=2), "groups"),
    ("conv1d", (2, 3, 8), (6, 1, 3), True, dict(groups=3, padding=1), "depthwise_multiplier"),
    (
        "conv1d",
        (2, 2, 40),
        (2, 1, 5),
        True,
        dict(groups=2, padding=2, stride=3),
        "depthwise_dense",
    ),
    (
        "conv1d",
        (2, 2, 80),
        (4, 1, 3),
        True,
        dict(groups=2, padding=1, dilation=2),
        "depthwise_taps",
    ),
    ("conv1d", (2, 2, 7), (3, 2, 4), True, dict(padding="same", dilation=2), "same_even_kernel"),
    ("conv1d", (2, 2, 7), (3, 2, 4), True, dict(padding="valid"), "valid"),
    ("conv2d", (2, 3, 5, 6), (4, 3, 3, 3), True, {}, "basic"),
    (
        "conv2d",
        (2, 2, 7, 5),
        (3, 2, 3, 2),
        True,
        dict(stride=(2, 1), padding=(1, 0)),
        "asymmetric",
    ),
    ("conv2d", (1, 1, 6, 7), (1, 1, 3, 3), True, dict(dilation=(2, 1), padding=2), "one_channel"),
    ("conv2d", (2, 4, 5, 5), (6, 2, 2, 3), True, dict(groups=2, stride=2, padding=1), "groups"),
    ("conv2d", (2, 3, 6, 5), (3, 1, 3, 3), True, dict(groups=3, padding=1), "depthwise_dense"),
    (
        "conv2d",
        (2, 2, 13, 12),
        (4, 1, 3, 3),
        True,
        dict(groups=2, stride=2, padding=1),
        "depthwise_taps",
    ),
    (
        "conv2d",
        (2, 2, 12, 11),
        (2, 1, 3, 2),
        False,
        dict(groups=2, dilation=2, padding=(2, 1)),
        "depthwise_taps_dilated",
    ),
    (
        "conv2d",
        (2, 2, 5, 6),
        (3, 2, 4, 2),
        True,
        dict(padding="same", dilation=(1, 2)),
        "same_even_kernel",
    ),
    ("conv2d", (2, 3, 4, 5), (5, 3, 1, 1), True, {}, "pointwise"),
    ("conv2d", (2, 3, 5, 5), (4, 3, 1, 1), False, dict(stride=2), "pointwise_stride2"),
    ("conv2d", (2, 3, 8, 9), (4, 3, 1, 1), True, {}, "pointwise_per_image"),
    ("conv1d", (2, 3, 70), (2, 3, 1), False, {}, "pointwise_per_image"),
    ("conv3d", (2, 2, 4, 5, 3), (3, 2, 2, 3, 2), True, dict(padding=(1, 0, 1)), "basic"),
    (
        "conv3d",
        (1, 4, 5, 4, 5),
        (4, 2, 3, 2, 3),
        True,
        dict(stride=(2, 1, 2), groups=2, dilation=(1, 2, 1)),
        "groups",
    ),
    ("conv3d", (2, 3, 3, 4, 4), (3, 1, 3, 3, 3), True, dict(groups=3, padding=1), "depthwise"),
    ("conv3d", (1, 2, 7, 7, 7), (2, 1, 3, 3, 3), True, dict(groups=2, stride=2), "depthwise_taps"),
    ("conv3d", (1, 2, 4, 3, 4), (2, 2, 2, 2, 3), False, dict(padding="same"), "same"),
    # 16+ input channels per group: the channels-last kernels
    ("conv1d", (2, 16, 7), (5, 16, 3), True, dict(stride=2), "wide"),
    ("conv2d", (2, 16, 5, 4), (3, 16, 3, 2), True, dict(stride=(1, 2), padding=(1, 0)), "wide"),
    (
        "conv2d",
        (1, 32, 4, 4),
        (4, 16, 3, 3),
        True,
        dict(groups=2, padding=1, dilation=(1, 2)),
        "wide_groups",
    ),
    ("conv2d", (2, 16, 5, 5), (8, 16, 3, 3), True, dict(padding=1), "wide_adjoint_conv"),
    ("conv2d", (1, 16, 5, 6), (4, 16, 2, 3), False, dict(padding="same"), "wide_same_even"),
    ("conv2d", (1, 16, 3, 4), (5, 16, 1, 1), True, {}, "pointwise_batch1"),
    ("conv3d", (1, 16, 3, 3, 4), (2, 16, 2, 2, 3), True, dict(padding=1), "wide"),
]

# name, input, weight (in, out/groups, *k), bias?, kwargs, variant
TRANSPOSED = [
    ("conv_transpose1d", (2, 3, 5), (3, 2, 3), True, dict(stride=2), "stride2"),
    (
        "conv_transpose1d",
        (1, 4, 4),
        (4, 3, 4),
        True,
        dict(stride=3, padding=2, output_padding=1, groups=2, dilation=2),
        "all_args",
    ),
    (
        "conv_transpose2d",
        (1, 1, 3, 3),
        (1, 1, 2, 2),
        True,
        dict(stride=2, padding=1),
        "lecture_3x3_to_4x4",
    ),
    (
        "conv_transpose2d",
        (2, 3, 4, 3),
        (3, 2, 3, 2),
        True,
        dict(stride=(2, 1), padding=(1, 0), output_padding=(1, 0)),
        "asymmetric",
    ),
    (
        "conv_transpose2d",
        (2, 4, 3, 3),
        (4, 1, 3, 3),
        False,
        dict(stride=2, groups=2, dilation=(1, 2)),
        "groups_dilation",
    ),
    (
        "conv_transpose2d",
        (2, 3, 4, 4),
        (3, 1, 3, 3),
        True,
        dict(groups=3, padding=1),
        "depthwise_dense",
    ),
    (
        "conv_transpose2d",
        (2, 2, 12, 11),
        (2, 1, 3, 3),
        True,
        dict(groups=2, stride=2, padding=1, output_padding=1),
        "depthwise_taps",
    ),
    ("conv_transpose2d", (1, 4, 3, 3), (4, 16, 3, 3), True, dict(stride=2), "wide"),
    ("conv_transpose2d", (2, 3, 8, 8), (3, 2, 1, 1), True, {}, "pointwise_per_image"),
    (
        "conv_transpose3d",
        (1, 2, 2, 3, 2),
        (2, 3, 2, 2, 3),
        True,
        dict(stride=2, padding=(0, 1, 1), output_padding=(1, 0, 1)),
        "basic",
    ),
]


def _conv_spec(name, x, w, bias, kwargs, variant):
    ours, theirs = getattr(F, name), getattr(TF, name)
    out_channels = w[1] * kwargs.get("groups", 1) if "transpose" in name else w[0]
    if bias:
        return OpSpec(
            name,
            lambda a, b, c: ours(a, b, c, **kwargs),
            lambda a, b, c: theirs(a, b, c, **kwargs),
            shapes=(x, w, (out_channels,)),
            variant=variant,
        )
    return OpSpec(
        name,
        lambda a, b: ours(a, b, **kwargs),
        lambda a, b: theirs(a, b, **kwargs),
        shapes=(x, w),
        variant=variant,
    )


PADS = [
    ((2, 3, 5), (1, 2), "1d"),
    ((2, 3, 5), (-1, 3), "1d_crop"),
    ((3, 4, 5), (2, 1, 0, 3), "2d_unbatched"),
    ((1, 2, 4, 5), (1, 2, 3, 1), "2d"),
    ((1, 2, 3, 4, 5), (1, 0, 2, 1, 1, 2), "3d"),
    ((1, 2, 3, 4, 5), (-1, 2, 1, -1, 0, 2), "3d_crop"),
]

PAD_SPECS = [
    OpSpec(
        "pad",
        lambda a, p=p, m=m: F.pad(a, p, mode=m),
        lambda a, p=p, m=m: TF.pad(a, p, mode=m),
        shapes=(shape,),
        variant=f"{m}_{v}",
    )
    for m in ("constant", "reflect", "replicate", "circular")
    for shape, p, v in PADS
] + [
    OpSpec(
        "pad",
        lambda a: F.pad(a, (1, 2, 0, 1), value=2.5),
        lambda a: TF.pad(a, (1, 2, 0, 1), value=2.5),
        shapes=((3, 4),),
        variant="value",
    ),
    OpSpec(
        "pad",
        lambda a: F.pad(a, (1, 1, 0, 0, 2, 0)),
        lambda a: TF.pad(a, (1, 1, 0, 0, 2, 0)),
        shapes=((3, 2, 4),),
        variant="constant_all_dims",
    ),
]

BLOCK_SPECS = [
    OpSpec(
        "unfold",
        lambda a: F.unfold(a, (2, 3), dilation=(1, 2), padding=1, stride=(2, 1)),
        lambda a: TF.unfold(a, (2, 3), dilation=(1, 2), padding=1, stride=(2, 1)),
        shapes=((2, 3, 5, 6),),
    ),
    OpSpec(
        "fold",
        lambda a: F.fold(a, (5, 6), (2, 3), dilation=(1, 2), padding=1, stride=(2, 1)),
        lambda a: TF.fold(a, (5, 6), (2, 3), dilation=(1, 2), padding=1, stride=(2, 1)),
        shapes=((2, 18, 12),),
    ),
]

SPECS = [_conv_spec(*row) for row in CONV + TRANSPOSED] + PAD_SPECS + BLOCK_SPECS
