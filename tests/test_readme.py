"""The README's tour runs: each ```python block on its own, in a fresh namespace, as a reader
who copies just that block would run it. Afterwards the test checks what the blocks claim.
"""

import re
from pathlib import Path

import numpy as np
import pytest

README = Path(__file__).resolve().parent.parent / "README.md"


def _python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)


def test_readme_has_the_tour_blocks():
    blocks = _python_blocks()
    assert len(blocks) >= 6
    assert "import soma as torch" in blocks[0]


def test_readme_autograd_block_computes_what_its_comment_says():
    namespace: dict = {}
    exec(_python_blocks()[0], namespace)
    start = np.linspace(-1, 1, 5, dtype=np.float32)
    x = namespace["x"]
    np.testing.assert_allclose(x.grad.numpy(), 3 * np.sin(6 * start), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(
        x.detach().numpy(), start - 0.1 * 3 * np.sin(6 * start), rtol=1e-5, atol=1e-6
    )


def test_readme_python_blocks_each_run_on_their_own(tmp_path, monkeypatch):
    torch = pytest.importorskip("torch")
    pytest.importorskip("matplotlib")
    pytest.importorskip("onnx")
    monkeypatch.chdir(tmp_path)
    reference = torch.nn.Sequential(
        torch.nn.Flatten(), torch.nn.Linear(64, 128), torch.nn.ReLU(), torch.nn.Linear(128, 10)
    )
    torch.save(reference.state_dict(), tmp_path / "model.pt")  # what the last block loads

    namespaces = []
    for number, block in enumerate(_python_blocks(), start=1):
        namespace: dict = {"__name__": "readme"}  # fresh: no block leans on another
        try:
            exec(compile(block, f"README.md python block {number}", "exec"), namespace)
        except Exception as error:  # pragma: no cover - the message is the point
            pytest.fail(f"README python block {number} failed: {error!r}\n{block}")
        namespaces.append(namespace)

    training = next(ns for ns in namespaces if "history" in ns)
    assert max(training["history"]["val_accuracy"]) > 0.9  # the MLP learns the digits
    namespace = namespaces[-1]  # the files block
    assert (tmp_path / "filters.png").stat().st_size > 0
    assert (tmp_path / "maps.png").stat().st_size > 0
    assert (tmp_path / "model.onnx").stat().st_size > 0
    loaded = namespace["model"][1].weight.detach().numpy()
    np.testing.assert_array_equal(loaded, reference[1].weight.detach().numpy())


def test_soma_submodules_load_on_first_use_in_a_fresh_interpreter():
    """`import soma` then `soma.models.…` works without importing soma.models (PEP 562)."""
    import subprocess
    import sys

    import soma

    src = str(Path(soma.__file__).resolve().parent.parent)
    code = (
        "import sys, soma\n"
        "assert 'soma.models' not in sys.modules\n"
        "print(type(soma.models.lenet5()).__name__, soma.train.fit.__name__, "
        "soma.load_model.__name__)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env={"PYTHONPATH": src}
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["LeNet5", "fit", "load_model"]
