"""A character-level language model: an LSTM that learns to write like Shakespeare's sonnets.

The text (sixteen sonnets, public domain) ships with soma: ``soma.data.texts.load_text``. The
model reads one character at a time (an embedding per character), carries what it has read in
its LSTM state, and predicts a distribution over the next character. Training minimises the
cross-entropy of that prediction on random windows of the text (truncated backpropagation
through time over ``seq_len`` characters). Generation feeds the model's own samples back in.

The loss is in nats per character: a uniform guess over the 64 characters costs log 64 ≈ 4.16;
the characters' frequencies alone give 3.12. Training on 90% of the text, the default run
(600 steps, 128 hidden units) reached a held-out loss of 2.43 with a training loss of 1.0;
the text is only 9 KB, so longer training memorises it (1,000 steps: training 0.50, held-out
3.04) and the samples start to quote the sonnets.

    python examples/char_lm.py [--steps 600] [--hidden 128]
"""

import argparse
import math

import numpy as np

import soma
from soma import nn
from soma.data.texts import load_text


class CharLSTM(nn.Module):
    """Embedding → LSTM → Linear: next-character logits for every position."""

    def __init__(
        self,
        vocab_size: int,
        embed_dim: int = 32,
        hidden: int = 128,
        num_layers: int = 1,
        dropout: float = 0.0,
    ):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, embed_dim)
        self.lstm = nn.LSTM(
            embed_dim, hidden, num_layers=num_layers, batch_first=True, dropout=dropout
        )
        self.head = nn.Linear(hidden, vocab_size)

    def forward(self, ids, state=None):
        out, state = self.lstm(self.embed(ids), state)
        return self.head(out), state


class Vocabulary:
    """Characters ↔ integer ids."""

    def __init__(self, text: str):
        self.chars = sorted(set(text))
        self.index = {c: i for i, c in enumerate(self.chars)}

    def __len__(self):
        return len(self.chars)

    def encode(self, text: str) -> np.ndarray:
        return np.array([self.index[c] for c in text], dtype=np.int64)

    def decode(self, ids) -> str:
        return "".join(self.chars[int(i)] for i in ids)


def windows(data: np.ndarray, rng, batch: int, seq_len: int):
    """Random (input, next-character target) windows, each (batch, seq_len)."""
    starts = rng.integers(0, len(data) - seq_len - 1, batch)
    idx = starts[:, None] + np.arange(seq_len + 1)
    chunk = data[idx]
    return soma.tensor(chunk[:, :-1]), soma.tensor(chunk[:, 1:])


@soma.no_grad()
def generate(
    model: CharLSTM,
    vocab: Vocabulary,
    prompt: str,
    length: int,
    temperature: float = 0.8,
    generator=None,
) -> str:
    """Continue ``prompt`` by sampling ``length`` characters from the model."""
    model.eval()
    logits, state = model(soma.tensor(vocab.encode(prompt))[None])
    out = []
    for _ in range(length):
        probs = (logits[0, -1] / temperature).softmax(-1)
        next_id = soma.multinomial(probs, 1, generator=generator)
        out.append(int(next_id.item()))
        logits, state = model(next_id[None], state)
    model.train()
    return prompt + vocab.decode(out)


def evaluate(model, data, seq_len: int, criterion) -> float:
    """Mean loss over consecutive windows of ``data`` (no sampling noise)."""
    n = (len(data) - 1) // seq_len
    x = soma.tensor(data[: n * seq_len].reshape(n, seq_len))
    y = soma.tensor(data[1 : n * seq_len + 1].reshape(n, seq_len))
    with soma.no_grad():
        model.eval()
        logits, _ = model(x)
        model.train()
        return criterion(logits.reshape(-1, logits.shape[-1]), y.reshape(-1)).item()


def main(
    steps: int = 600,
    hidden: int = 128,
    seq_len: int = 64,
    batch: int = 32,
    lr: float = 3e-3,
    seed: int = 0,
    log_every: int = 200,
    sample_length: int = 400,
):
    """Train on 90% of the sonnets, report the held-out loss, print a sample.

    Returns ``(first_loss, final_train_loss, held_out_loss, uniform_loss, sample)``.
    """
    soma.manual_seed(seed)
    rng = np.random.default_rng(seed)
    text = load_text("sonnets")
    vocab = Vocabulary(text)
    data = vocab.encode(text)
    split = int(0.9 * len(data))
    train_data, held_out = data[:split], data[split:]
    model = CharLSTM(len(vocab), hidden=hidden)
    optimizer = soma.optim.Adam(model.parameters(), lr=lr)
    criterion = nn.CrossEntropyLoss()
    losses = []
    for step in range(steps):
        x, y = windows(train_data, rng, batch, seq_len)
        optimizer.zero_grad()
        logits, _ = model(x)
        loss = criterion(logits.reshape(-1, len(vocab)), y.reshape(-1))
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        losses.append(loss.item())
        if log_every and step % log_every == 0:
            print(f"step {step:5d}  loss {loss.item():.3f} nats/char")
    uniform = math.log(len(vocab))
    held = evaluate(model, held_out, seq_len, criterion)
    recent = float(np.mean(losses[-max(1, steps // 20) :]))
    print(f"\nvocabulary {len(vocab)} characters: uniform guess {uniform:.2f} nats/char")
    print(f"training loss {recent:.3f}, held-out loss {held:.3f} nats/char")
    sample = generate(
        model, vocab, "Shall I ", sample_length, generator=soma.Generator().manual_seed(seed)
    )
    print("\n" + sample)
    return losses[0], recent, held, uniform, sample


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--seq-len", type=int, default=64)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    main(args.steps, args.hidden, args.seq_len, lr=args.lr, seed=args.seed)
