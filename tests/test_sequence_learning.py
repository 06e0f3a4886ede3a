"""The sequence examples learn what they claim: the LSTM remembers across a gap where a plain RNN
cannot, the character model beats the uniform guess, the ViT reads digits."""

import runpy
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).parent.parent / "examples"


def _example(name):
    return runpy.run_path(str(EXAMPLES / name))


@pytest.mark.slow
def test_lstm_solves_the_adding_problem_where_the_rnn_fails():
    train = _example("adding_problem.py")["train"]
    baseline = 1 / 6  # MSE of always predicting the mean
    lstm = train("LSTM", seq_len=50, steps=400, seed=0)
    rnn = train("RNN", seq_len=50, steps=400, seed=0)
    assert lstm < 0.2 * baseline, f"LSTM test MSE {lstm:.4f}"
    assert rnn > 0.7 * baseline, f"RNN test MSE {rnn:.4f}"


@pytest.mark.slow
def test_char_lm_beats_the_uniform_guess_and_generates_text():
    main = _example("char_lm.py")["main"]
    first, train_loss, held_out, uniform, sample = main(
        steps=120, hidden=64, seq_len=32, batch=16, lr=1e-2, log_every=0, sample_length=60
    )
    assert abs(first - uniform) < 0.3  # starts as a uniform guess
    assert train_loss < 0.6 * uniform
    assert held_out < 0.65 * uniform
    assert sample.startswith("Shall I ") and len(sample) == len("Shall I ") + 60


@pytest.mark.slow
def test_tiny_vit_learns_digits():
    accuracy = _example("vit_digits.py")["main"](epochs=4, log=False)
    assert accuracy > 0.5  # chance is 0.1
