"""Resampling: interpolate in every mode, pixel shuffle and unshuffle."""

from soma.functional.resample import interpolate, pixel_shuffle, pixel_unshuffle
from tests.op_specs.spec import TF, OpSpec

SHAPES = {1: (2, 3, 5), 2: (2, 2, 5, 7), 3: (1, 2, 3, 4, 5)}
MODES = [
    ("nearest", 1),
    ("nearest", 2),
    ("nearest", 3),
    ("nearest-exact", 1),
    ("nearest-exact", 2),
    ("nearest-exact", 3),
    ("linear", 1),
    ("bilinear", 2),
    ("trilinear", 3),
    ("bicubic", 2),
    ("area", 1),
    ("area", 2),
    ("area", 3),
]
# (variant, keyword arguments) of the geometry; each is run for every mode and dimensionality
GEOMETRY = [
    ("x2", dict(scale_factor=2)),
    ("x1.7", dict(scale_factor=1.7)),
    ("x0.6", dict(scale_factor=0.6)),
    ("x0.6_recompute", dict(scale_factor=0.6, recompute_scale_factor=True)),
    ("size_up", dict(size=9)),
    ("size_down", dict(size=3)),
    ("size_1", dict(size=1)),
]

SPECS = []
for mode, d in MODES:
    for variant, kw in GEOMETRY:
        corners = [None] if mode in ("nearest", "nearest-exact", "area") else [False, True]
        for ac in corners:
            args = dict(kw, mode=mode, align_corners=ac)
            name = f"{mode},{d}d,{variant}" + ("" if ac is None else f",align_corners={ac}")
            SPECS.append(
                OpSpec(
                    "interpolate",
                    lambda x, a=args: interpolate(x, **a),
                    lambda x, a=args: TF.interpolate(x, **a),
                    shapes=(SHAPES[d],),
                    variant=name,
                )
            )
SPECS += [
    OpSpec(
        "interpolate",
        lambda x: interpolate(x, size=(3, 8), mode="bilinear"),
        lambda x: TF.interpolate(x, size=(3, 8), mode="bilinear"),
        shapes=((1, 2, 5, 4),),
        variant="bilinear,mixed",
    ),
    OpSpec(
        "interpolate",
        lambda x: interpolate(x, scale_factor=(2, 0.5), mode="nearest"),
        lambda x: TF.interpolate(x, scale_factor=(2, 0.5), mode="nearest"),
        shapes=((1, 2, 3, 6),),
        variant="nearest,mixed",
    ),
    OpSpec(
        "pixel_shuffle",
        lambda x: pixel_shuffle(x, 2),
        lambda x: TF.pixel_shuffle(x, 2),
        shapes=((2, 8, 3, 5),),
    ),
    OpSpec(
        "pixel_shuffle",
        lambda x: pixel_shuffle(x, 3),
        lambda x: TF.pixel_shuffle(x, 3),
        shapes=((9, 2, 4),),
        variant="unbatched",
    ),
    OpSpec(
        "pixel_unshuffle",
        lambda x: pixel_unshuffle(x, 2),
        lambda x: TF.pixel_unshuffle(x, 2),
        shapes=((2, 3, 6, 4),),
    ),
    OpSpec(
        "pixel_unshuffle",
        lambda x: pixel_unshuffle(x, 3),
        lambda x: TF.pixel_unshuffle(x, 3),
        shapes=((2, 1, 2, 6, 3),),
        variant="5d",
    ),
]
