"""A causal Transformer language model: the square subsequent mask built with ``torch.tril``."""

import math

import numpy as np
import torch
import torch.nn as nn
from _det import deterministic_init, report


class PositionalEncoding(nn.Module):
    def __init__(self, d_model, max_len=64):
        super().__init__()
        position = torch.arange(max_len).unsqueeze(1)
        div_term = torch.exp(torch.arange(0, d_model, 2) * (-math.log(10000.0) / d_model))
        pe = torch.zeros(max_len, 1, d_model)
        pe[:, 0, 0::2] = torch.sin(position * div_term)
        pe[:, 0, 1::2] = torch.cos(position * div_term)
        self.register_buffer("pe", pe)

    def forward(self, x):
        return x + self.pe[: x.size(0)]


class TransformerModel(nn.Module):
    def __init__(self, ntoken, d_model=16, nhead=2, d_hid=32, nlayers=2):
        super().__init__()
        self.pos_encoder = PositionalEncoding(d_model)
        layer = nn.TransformerEncoderLayer(d_model, nhead, d_hid, dropout=0.0)
        self.transformer_encoder = nn.TransformerEncoder(
            layer, nlayers, enable_nested_tensor=False
        )
        self.embedding = nn.Embedding(ntoken, d_model)
        self.d_model = d_model
        self.linear = nn.Linear(d_model, ntoken)

    def forward(self, src, src_mask):
        src = self.embedding(src) * math.sqrt(self.d_model)
        src = self.pos_encoder(src)
        output = self.transformer_encoder(src, src_mask)
        return self.linear(output)


def causal_mask(sz):
    mask = torch.tril(torch.ones(sz, sz)) == 1
    return torch.zeros(sz, sz).masked_fill(~mask, float("-inf"))


def main():
    rng = np.random.default_rng(0)
    tokens = torch.from_numpy(rng.integers(0, 12, (9, 4)))
    model = deterministic_init(TransformerModel(12))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    criterion = nn.CrossEntropyLoss()
    src, tgt = tokens[:-1], tokens[1:]
    mask = causal_mask(src.size(0))
    losses = []
    for _ in range(3):
        optimizer.zero_grad()
        output = model(src, mask)
        loss = criterion(output.view(-1, 12), tgt.reshape(-1))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 0.5)
        optimizer.step()
        losses.append(loss.item())
    # causality: changing the last token leaves earlier outputs unchanged
    with torch.no_grad():
        changed = src.clone()
        changed[-1] = (changed[-1] + 1) % 12
        diff = (model(src, mask)[:-1] - model(changed, mask)[:-1]).abs().max().item()
    report(losses=losses, mask_row=mask[1].tolist(), causal_diff=diff)


if __name__ == "__main__":
    main()
