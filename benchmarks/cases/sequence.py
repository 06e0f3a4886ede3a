"""Sequence models (issue: RNN/LSTM/GRU, attention, Transformers): training steps."""

from benchmarks.harness import Case


def lstm_training_step(torch):
    """LSTM(32→128, 1 layer, batch_first), seq 50, batch 32, linear head on the last step,
    MSE, Adam."""
    lstm = torch.nn.LSTM(32, 128, batch_first=True)
    head = torch.nn.Linear(128, 1)
    x = torch.randn(32, 50, 32)
    y = torch.randn(32, 1)
    criterion = torch.nn.MSELoss()
    optimizer = torch.optim.Adam(list(lstm.parameters()) + list(head.parameters()), lr=1e-3)

    def step():
        optimizer.zero_grad()
        out, _ = lstm(x)
        loss = criterion(head(out[:, -1]), y)
        loss.backward()
        optimizer.step()

    return step


def lstm_unrolled_training_step(torch):
    """The same LSTM written step by step from basic ops (a graph node per op per time step):
    what the fused per-layer kernel saves, in both frameworks."""
    w_ih = torch.nn.Linear(32, 4 * 128)
    w_hh = torch.nn.Linear(128, 4 * 128)
    head = torch.nn.Linear(128, 1)
    x = torch.randn(32, 50, 32)
    y = torch.randn(32, 1)
    criterion = torch.nn.MSELoss()
    params = list(w_ih.parameters()) + list(w_hh.parameters()) + list(head.parameters())
    optimizer = torch.optim.Adam(params, lr=1e-3)

    def step():
        optimizer.zero_grad()
        h = torch.zeros(32, 128)
        c = torch.zeros(32, 128)
        projected = w_ih(x)
        for t in range(50):
            i, f, g, o = (projected[:, t] + w_hh(h)).chunk(4, 1)
            c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
            h = torch.sigmoid(o) * torch.tanh(c)
        loss = criterion(head(h), y)
        loss.backward()
        optimizer.step()

    return step


def transformer_encoder_training_step(torch):
    """2-layer TransformerEncoder (d_model 128, 4 heads, ff 512, dropout 0.1, batch_first),
    seq 64, batch 16, mean-pooled linear head, MSE, Adam."""
    layer = torch.nn.TransformerEncoderLayer(128, 4, dim_feedforward=512, batch_first=True)
    encoder = torch.nn.TransformerEncoder(layer, num_layers=2, enable_nested_tensor=False)
    head = torch.nn.Linear(128, 1)
    x = torch.randn(16, 64, 128)
    y = torch.randn(16, 1)
    criterion = torch.nn.MSELoss()
    optimizer = torch.optim.Adam(list(encoder.parameters()) + list(head.parameters()), lr=1e-3)
    encoder.train()

    def step():
        optimizer.zero_grad()
        loss = criterion(head(encoder(x).mean(dim=1)), y)
        loss.backward()
        optimizer.step()

    return step


CASES = [
    Case(
        "lstm_train",
        "sequence",
        "LSTM 32→128 batch_first, seq 50, batch 32, linear head, Adam",
        lstm_training_step,
    ),
    Case(
        "lstm_unrolled_train",
        "sequence",
        "the same LSTM unrolled from basic ops, one graph node per op and step",
        lstm_unrolled_training_step,
    ),
    Case(
        "transformer_train",
        "sequence",
        "2-layer TransformerEncoder d128 h4 ff512, seq 64, batch 16, Adam",
        transformer_encoder_training_step,
    ),
]
