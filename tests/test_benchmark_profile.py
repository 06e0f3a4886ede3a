"""The benchmark profiler's split adds up (no timing asserted: only its bookkeeping)."""

from benchmarks.harness import all_cases
from benchmarks.profile import measure_soma, split_table


def _case(name):
    return next(c for c in all_cases() if c.name == name)


def test_the_split_accounts_for_every_kernel_and_node():
    m = measure_soma(_case("sin3x_train"), steps=3)
    assert m["nodes"] == 8  # 3 Linear, 2 ReLU, 2 reshapes, 1 MSE per step
    assert abs(sum(m["families"].values()) - m["kernel"]) < 1e-9
    assert abs(sum(seconds for _, seconds in m["ops"].values()) - m["kernel"]) < 1e-9
    assert {"matrix products (GEMM)", "activations", "losses"} <= set(m["families"])
    assert m["ops"][("Linear", "matrix products (GEMM)", "forward")][0] == 3


def test_split_table_has_one_row_per_case():
    table = split_table([_case("sin3x_train")], steps=3).splitlines()
    assert len(table) == 3 and table[2].startswith("| sin3x_train |")
    assert "matrix products (GEMM)" in table[2]
