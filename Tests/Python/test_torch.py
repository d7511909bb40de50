"""Weights under PyTorch's names: RNNKit's models load into torch modules and back."""

import numpy as np
import pytest

import rnnkit

torch = pytest.importorskip("torch", reason="torch is not installed; the comparison with PyTorch needs it")


class Net(torch.nn.Module):
    """The PyTorch module whose state dict RNNKit's names match."""

    def __init__(self, recurrent, outputs):
        super().__init__()
        self.rnn = recurrent
        width = recurrent.proj_size or recurrent.hidden_size
        self.head = torch.nn.Linear(width * (2 if recurrent.bidirectional else 1), outputs)


def to_torch(state_dict):
    return {name: torch.from_numpy(values) for name, values in state_dict.items()}


def trained_model(**config):
    model = rnnkit.Model(**config, seed=5)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(32, 9, config["input_size"])).astype(np.float32)
    per_step = config["topology"] == "many_to_many"
    y = rng.normal(size=(32, 9, config["output_size"]) if per_step else (32, config["output_size"]))
    model.fit(X, y.astype(np.float32), steps=10, lr=1e-2)
    return model


def test_an_lstm_runs_the_same_in_torch_after_load_state_dict():
    model = trained_model(
        cell="lstm",
        input_size=5,
        hidden_size=16,
        num_layers=2,
        bidirectional=True,
        output_size=3,
        topology="many_to_many",
    )
    net = Net(torch.nn.LSTM(5, 16, num_layers=2, bidirectional=True, batch_first=True), 3)
    net.load_state_dict(to_torch(model.state_dict()))
    X = np.random.default_rng(1).normal(size=(6, 9, 5)).astype(np.float32)
    with torch.no_grad():
        sequence, (hidden, cell) = net.rnn(torch.from_numpy(X))
        expected = net.head(sequence).numpy()
    outputs, (final_hidden, final_cell) = model.predict(X, return_state=True)
    np.testing.assert_allclose(outputs, expected, atol=1e-5, rtol=0)
    np.testing.assert_allclose(final_hidden, hidden.numpy(), atol=1e-5, rtol=0)
    np.testing.assert_allclose(final_cell, cell.numpy(), atol=1e-5, rtol=0)


def test_a_gru_over_packed_sequences_matches_and_torch_weights_load_back():
    model = trained_model(cell="gru", input_size=4, hidden_size=12, output_size=2, topology="many_to_one")
    net = Net(torch.nn.GRU(4, 12, batch_first=True), 2)
    net.load_state_dict(to_torch(model.state_dict()))
    rng = np.random.default_rng(2)
    X = rng.normal(size=(5, 7, 4)).astype(np.float32)
    lengths = np.array([7, 3, 5, 1, 6])

    def torch_outputs():
        packed = torch.nn.utils.rnn.pack_padded_sequence(
            torch.from_numpy(X), torch.from_numpy(lengths), batch_first=True, enforce_sorted=False
        )
        with torch.no_grad():
            return net.head(net.rnn(packed)[1][-1]).numpy()

    np.testing.assert_allclose(model.predict(X, lengths), torch_outputs(), atol=1e-5, rtol=0)
    # And back: weights PyTorch drew load into RNNKit.
    torch.manual_seed(0)
    net = Net(torch.nn.GRU(4, 12, batch_first=True), 2)
    model.load_state_dict({name: tensor.detach().numpy() for name, tensor in net.state_dict().items()})
    np.testing.assert_allclose(model.predict(X, lengths), torch_outputs(), atol=1e-5, rtol=0)


@pytest.mark.parametrize("bias", [True, False])
def test_projections_dropout_and_no_bias_load_into_torch_and_back(bias):
    config = dict(
        cell="lstm",
        input_size=5,
        hidden_size=16,
        proj_size=6,
        num_layers=2,
        bidirectional=True,
        dropout=0.3,
        bias=bias,
        output_size=3,
        topology="many_to_many",
    )
    model = trained_model(**config)
    recurrent = torch.nn.LSTM(
        5, 16, num_layers=2, bidirectional=True, batch_first=True, proj_size=6, dropout=0.3, bias=bias
    )
    net = Net(recurrent, 3).eval()
    net.load_state_dict(to_torch(model.state_dict()))
    X = np.random.default_rng(3).normal(size=(4, 9, 5)).astype(np.float32)

    def torch_run():
        with torch.no_grad():
            sequence, (hidden, cell) = net.rnn(torch.from_numpy(X))
            return net.head(sequence).numpy(), hidden.numpy(), cell.numpy()

    outputs, (final_hidden, final_cell) = model.predict(X, return_state=True)
    expected, hidden, cell = torch_run()
    assert final_hidden.shape == (4, 4, 6) and final_cell.shape == (4, 4, 16)
    np.testing.assert_allclose(outputs, expected, atol=1e-5, rtol=0)
    np.testing.assert_allclose(final_hidden, hidden, atol=1e-5, rtol=0)
    np.testing.assert_allclose(final_cell, cell, atol=1e-5, rtol=0)
    # And back: weights PyTorch drew load into RNNKit.
    torch.manual_seed(1)
    net = Net(torch.nn.LSTM(5, 16, num_layers=2, bidirectional=True, batch_first=True, proj_size=6, bias=bias), 3)
    model.load_state_dict({name: tensor.detach().numpy() for name, tensor in net.state_dict().items()})
    expected, _, _ = torch_run()
    np.testing.assert_allclose(model.predict(X), expected, atol=1e-5, rtol=0)
