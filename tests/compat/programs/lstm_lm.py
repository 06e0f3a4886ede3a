"""Word-level LSTM language model (pytorch/examples word_language_model, tiny): truncated BPTT.

Uses ``weight.new_zeros`` for the initial state, ``flatten_parameters()`` and
``repackage_hidden`` (detach between batches), as the example does.
"""

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from _det import deterministic_init, report


class RNNModel(nn.Module):
    def __init__(self, ntoken, ninp, nhid, nlayers):
        super().__init__()
        self.ntoken = ntoken
        self.encoder = nn.Embedding(ntoken, ninp)
        self.rnn = nn.LSTM(ninp, nhid, nlayers)
        self.decoder = nn.Linear(nhid, ntoken)
        self.nhid, self.nlayers = nhid, nlayers

    def forward(self, input, hidden):
        self.rnn.flatten_parameters()
        emb = self.encoder(input)
        output, hidden = self.rnn(emb, hidden)
        decoded = self.decoder(output).view(-1, self.ntoken)
        return F.log_softmax(decoded, dim=1), hidden

    def init_hidden(self, bsz):
        weight = next(self.parameters())
        return (
            weight.new_zeros(self.nlayers, bsz, self.nhid),
            weight.new_zeros(self.nlayers, bsz, self.nhid),
        )


def repackage_hidden(h):
    if isinstance(h, torch.Tensor):
        return h.detach()
    return tuple(repackage_hidden(v) for v in h)


def batchify(data, bsz):
    nbatch = data.size(0) // bsz
    data = data.narrow(0, 0, nbatch * bsz)
    return data.view(bsz, -1).t().contiguous()


def main():
    rng = np.random.default_rng(0)
    corpus = torch.from_numpy(rng.integers(0, 20, 200)).long()
    train_data = batchify(corpus, 4)
    model = deterministic_init(RNNModel(20, 8, 16, 2))
    criterion = nn.NLLLoss()
    lr, bptt, clip = 2.0, 10, 0.25
    hidden = model.init_hidden(4)
    losses = []
    model.train()
    for i in range(0, train_data.size(0) - 1, bptt):
        seq_len = min(bptt, len(train_data) - 1 - i)
        data, targets = train_data[i : i + seq_len], train_data[i + 1 : i + 1 + seq_len].view(-1)
        model.zero_grad()
        hidden = repackage_hidden(hidden)
        output, hidden = model(data, hidden)
        loss = criterion(output, targets)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
        for p in model.parameters():
            p.data.add_(p.grad, alpha=-lr)
        losses.append(loss.item())
        print(f"| batch {i // bptt:3d} | loss {loss.item():5.2f} | ppl {np.exp(loss.item()):8.2f}")
    report(losses=losses, hidden=hidden[0].sum().item())


if __name__ == "__main__":
    main()
