"""The generative models learn (issue 13): thresholds on data that needs no download.

The helpers (classifier, judge, MMD) and the experiments are those of
``examples/generative_digits.py``, which runs them longer and prints the figures quoted in
docs/GENERATIVE.md; here shorter runs must clear thresholds with a margin:

* conv autoencoder, 30 epochs: test MSE below a fifth of the mean-image baseline;
* VAE, 60 epochs: held-out negative ELBO below 30 nats and most samples (> 50 %) classified with
  confidence ≥ 0.8 by a separately trained CNN;
* DCGAN (16×16), 20 epochs: confidently classified samples covering ≥ 8 of the 10 classes
  (a class counts when ≥ 1 % of all samples land in it confidently);
* DDPM on two moons, 150 epochs: MMD to held-out data below half that of N(0, I).
"""

import runpy
from pathlib import Path

import numpy as np
import pytest

import soma

pytest.importorskip("sklearn")
EXAMPLE = runpy.run_path(str(Path(__file__).parent.parent / "examples" / "generative_digits.py"))


@pytest.fixture(scope="module")
def data():
    return EXAMPLE["digits"]()


@pytest.fixture(scope="module")
def classifier(data):
    net, accuracy = EXAMPLE["digits_classifier"](*data)
    assert accuracy > 0.95
    return net


@pytest.mark.slow
def test_conv_autoencoder_reconstructs_far_better_than_the_mean_image(data, tmp_path):
    pytest.importorskip("matplotlib")
    figures = EXAMPLE["run_autoencoder"](data, str(tmp_path), epochs=30)
    # measured: 0.0073 against 0.0727
    assert figures["test MSE"] < figures["mean-image baseline MSE"] / 5
    assert 0.06 < figures["mean-image baseline MSE"] < 0.09


@pytest.mark.slow
def test_vae_elbo_and_samples_a_classifier_recognises(data, classifier, tmp_path):
    pytest.importorskip("matplotlib")
    figures = EXAMPLE["run_vae"](data, classifier, str(tmp_path), epochs=60)
    # measured: 24.0 nats, 71 % of samples confident, every class present
    assert figures["test negative ELBO (nats/image)"] < 30
    assert figures["samples with confidence >= 0.8"] > 0.5  # most of them
    assert sum(c >= 5 for c in figures["classes of confident samples"]) >= 8
    assert (tmp_path / "vae_latent.png").stat().st_size > 5_000


@pytest.mark.slow
def test_dcgan_samples_cover_the_classes(data, classifier, tmp_path):
    pytest.importorskip("matplotlib")
    figures = EXAMPLE["run_gan"](data, classifier, str(tmp_path), epochs=20)
    classes = np.array(figures["classes of confident samples"])
    assert (classes >= 5).sum() >= 8  # ≥ 1 % of the 500 samples, confidently, per class
    assert figures["samples with confidence >= 0.8"] >= 0.3


@pytest.mark.slow
def test_ddpm_on_two_moons_matches_the_data(tmp_path):
    pytest.importorskip("matplotlib")
    figures = EXAMPLE["run_ddpm_moons"](str(tmp_path), epochs=150)
    assert figures["MMD ancestral"] < 0.5 * figures["MMD N(0, I) baseline"]
    assert figures["NN distance ancestral"] < 0.5 * figures["NN distance N(0, I)"]


def test_mmd_is_zero_for_equal_sets_and_grows_with_a_shift():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((200, 2))
    mmd = EXAMPLE["mmd"]
    assert mmd(a, a) == pytest.approx(0.0, abs=1e-12)
    assert mmd(a, a + 0.5) < mmd(a, a + 2.0)
    assert EXAMPLE["nearest_distance"](a, a) == 0.0


def test_judge_counts_confident_predictions():
    class Fixed(soma.nn.Module):
        def forward(self, x):
            return soma.tensor([[10.0] + [0.0] * 9, [0.0] * 10, [0.0, 0.0, 10.0] + [0.0] * 7])

    share, classes = EXAMPLE["judge"](Fixed(), soma.zeros(3, 1, 8, 8))
    assert share == pytest.approx(2 / 3)
    assert classes.tolist() == [1, 0, 1, 0, 0, 0, 0, 0, 0, 0]
