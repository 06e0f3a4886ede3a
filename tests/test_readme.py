"""The README's tour runs: its ```python blocks, executed in order in one namespace.

The blocks build on each other as a reader would type them (the lecture's network, then data,
training, models, inspection, files). Afterwards the test checks what they claim.
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


def test_readme_python_blocks_run_in_order(tmp_path, monkeypatch):
    torch = pytest.importorskip("torch")
    pytest.importorskip("matplotlib")
    pytest.importorskip("onnx")
    monkeypatch.chdir(tmp_path)
    reference = torch.nn.Sequential(
        torch.nn.Flatten(), torch.nn.Linear(64, 128), torch.nn.ReLU(), torch.nn.Linear(128, 10)
    )
    torch.save(reference.state_dict(), tmp_path / "model.pt")  # what the last block loads

    namespace: dict = {"__name__": "readme"}
    for number, block in enumerate(_python_blocks(), start=1):
        try:
            exec(compile(block, f"README.md python block {number}", "exec"), namespace)
        except Exception as error:  # pragma: no cover - the message is the point
            pytest.fail(f"README python block {number} failed: {error!r}\n{block}")

    assert max(namespace["history"]["val_accuracy"]) > 0.9  # the MLP learns the digits
    assert (tmp_path / "filters.png").stat().st_size > 0
    assert (tmp_path / "maps.png").stat().st_size > 0
    assert (tmp_path / "model.onnx").stat().st_size > 0
    loaded = namespace["model"][1].weight.detach().numpy()
    np.testing.assert_array_equal(loaded, reference[1].weight.detach().numpy())
