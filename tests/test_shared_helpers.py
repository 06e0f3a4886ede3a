"""The helpers soma keeps one of (issue 10 §3): the n-tuple expansion and window geometry."""

import pytest

from soma.functional._utils import ntuple
from soma.functional._window_geometry import offset_slices, output_length, output_size


def test_ntuple_expands_ints_and_one_tuples_and_keeps_n_tuples():
    assert ntuple(3, 2, "conv2d", "stride") == (3, 3)
    assert ntuple((4,), 3, "conv3d", "stride") == (4, 4, 4)
    assert ntuple([1, 2], 2, "conv2d", "stride") == (1, 2)


def test_ntuple_errors_name_the_op_and_argument():
    with pytest.raises(
        ValueError, match=r"max_pool2d: kernel_size must be an int or a tuple of 2"
    ):
        ntuple((1, 2, 3), 2, "max_pool2d", "kernel_size")
    with pytest.raises(TypeError, match=r"conv2d: stride must be an int or a tuple of 2 ints"):
        ntuple((1.5, 2), 2, "conv2d", "stride")
    with pytest.raises(TypeError, match=r"Resize: size"):
        ntuple(None, 2, "Resize", "size")


def test_output_length_worked_by_hand():
    # 7 wide, kernel 3, stride 2, no padding: windows start at 0, 2, 4 -> 3 outputs
    assert output_length(7, 3, 2, 1, 0, 0) == 3
    # dilation 2 spans 5: starts 0, 2 -> 2
    assert output_length(7, 3, 2, 2, 0, 0) == 2
    # ceil_mode: 6 wide, kernel 2, stride 2 -> 3 either way; 5 wide -> floor 2, ceil 3
    assert output_length(5, 2, 2, 1, 0, 0) == 2
    assert output_length(5, 2, 2, 1, 0, 0, ceil_mode=True) == 3
    # ceil_mode never starts a window in the right padding: 5 wide, k 2, s 2, pad 1 each side;
    # padded starts 0, 2, 4 fit; ceil would add a start at 6 = size + before (padding): dropped
    assert output_length(5, 2, 2, 1, 1, 1) == 3
    assert output_length(5, 2, 2, 1, 1, 1, ceil_mode=True) == 3
    assert output_length(6, 2, 2, 1, 1, 1, ceil_mode=True) == 4  # start 6 reads input pixel 5
    assert output_size((7, 5), (3, 2), (2, 2), (1, 1), ((0, 0), (0, 0))) == (3, 2)


def test_offset_slices_view_each_offset_of_every_window():
    # kernel 2, stride 3, dilation 2, 2 outputs: offset 0 reads 0 and 3, offset 1 reads 2 and 5
    assert offset_slices((2,), (2,), (3,), (2,)) == [(slice(0, 4, 3),), (slice(2, 6, 3),)]
