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
    Case("lstm_train", "sequence", "LSTM 32→128 batch_first, seq 50, batch 32, linear head, Adam",
         lstm_training_step, goal=1.5),
    Case("transformer_train", "sequence",
         "2-layer TransformerEncoder d128 h4 ff512, seq 64, batch 16, Adam",
         transformer_encoder_training_step, goal=1.5),
]
