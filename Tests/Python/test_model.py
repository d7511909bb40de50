"""Models: configuration, parameters by PyTorch name, prediction shapes, files, sampling."""

import numpy as np
import pytest

import rnnkit


def features(count, steps, width, seed=0):
    return np.random.default_rng(seed).uniform(-1, 1, (count, steps, width)).astype(np.float32)


def test_a_model_describes_its_configuration_and_parameters():
    model = rnnkit.Model(
        cell="gru", input_size=5, hidden_size=7, output_size=3, num_layers=2, bidirectional=True, seed=1
    )
    assert model.config == {
        "cell": "gru",
        "input_size": 5,
        "hidden_size": 7,
        "output_size": 3,
        "num_layers": 2,
        "bidirectional": True,
        "topology": "many_to_one",
        "bias": True,
        "dropout": 0.0,
        "proj_size": 0,
        "head": "linear",
        "input": "dense",
        "embedding_size": 0,
        "vocabulary": None,
    }
    shapes = model.parameters
    layer = ["weight_ih", "weight_hh", "bias_ih", "bias_hh"]
    expected_names = [
        f"rnn.{tensor}_l{index}{suffix}" for index in (0, 1) for suffix in ("", "_reverse") for tensor in layer
    ] + ["head.weight", "head.bias"]
    assert list(shapes) == expected_names
    assert shapes["rnn.weight_ih_l0"] == (21, 5)
    assert shapes["rnn.weight_ih_l1_reverse"] == (21, 14)
    assert shapes["head.weight"] == (3, 14)
    assert model.parameter_count == sum(int(np.prod(shape)) for shape in shapes.values())
    assert "cell='gru'" in repr(model)
    assert model.kernels in ("avx512", "avx2", "baseline", "neon")


def test_the_seed_decides_the_initial_weights():
    config = dict(cell="lstm", input_size=4, hidden_size=6, output_size=2)
    first, again, other = (rnnkit.Model(**config, seed=seed).state_dict() for seed in (3, 3, 4))
    assert all(np.array_equal(first[name], again[name]) for name in first)
    assert not np.array_equal(first["rnn.weight_hh_l0"], other["rnn.weight_hh_l0"])
    bound = 1 / np.sqrt(6)
    assert all(np.abs(values).max() <= bound for name, values in first.items() if name.startswith("rnn."))


@pytest.mark.parametrize(
    "topology, inputs, extra, expected",
    [
        ("many_to_one", (4, 6, 3), {}, (4, 3)),
        ("many_to_many", (4, 6, 3), {}, (4, 6, 3)),
        ("one_to_one", (4, 3), {}, (4, 3)),
        ("one_to_many", (4, 3), {"time_steps": 5}, (4, 5, 3)),
        ("encoder_decoder", (4, 6, 3), {"decoder_inputs": np.zeros((4, 5, 3), np.float32)}, (4, 5, 3)),
    ],
)
def test_outputs_are_shaped_by_the_topology(topology, inputs, extra, expected):
    model = rnnkit.Model(cell="lstm", input_size=3, hidden_size=8, output_size=3, topology=topology)
    X = np.random.default_rng(0).uniform(-1, 1, inputs).astype(np.float32)
    outputs = model.predict(X, **extra)
    assert outputs.shape == expected and outputs.dtype == np.float32
    assert np.isfinite(outputs).all()


def test_final_states_are_pytorchs_h_n_and_c_n():
    X = features(4, 6, 3)
    lstm = rnnkit.Model(cell="lstm", input_size=3, hidden_size=8, output_size=2, num_layers=2, bidirectional=True)
    outputs, (hidden, cell) = lstm.predict(X, return_state=True)
    assert outputs.shape == (4, 2) and hidden.shape == (4, 4, 8) and cell.shape == (4, 4, 8)
    gru = rnnkit.Model(cell="gru", input_size=3, hidden_size=8, output_size=2)
    outputs, hidden = gru.predict(X, return_state=True)
    assert hidden.shape == (1, 4, 8)
    # Without a head, a one-layer model's output is the top layer's last state, h_n.
    identity = rnnkit.Model(cell="gru", input_size=3, hidden_size=8, head="identity")
    identity.load_state_dict({name: values for name, values in gru.state_dict().items() if name.startswith("rnn.")})
    assert np.array_equal(identity.predict(X), hidden[0])


def test_steps_past_a_length_change_nothing():
    model = rnnkit.Model(cell="lstm", input_size=3, hidden_size=8, output_size=2)
    X = features(3, 7, 3)
    lengths = np.array([7, 4, 1])
    noisy = X.copy()
    noisy[1, 4:] = 100
    noisy[2, 1:] = -100
    assert np.array_equal(model.predict(X, lengths), model.predict(noisy, lengths))
    alone = model.predict(X[1:2, :4])
    np.testing.assert_allclose(model.predict(X, lengths)[1], alone[0], rtol=1e-6, atol=1e-6)


def test_a_state_dict_round_trip_gives_identical_predictions():
    trained = rnnkit.Model(cell="gru", input_size=3, hidden_size=8, output_size=2, seed=1)
    fresh = rnnkit.Model(**trained.config, seed=2)
    X = features(5, 6, 3)
    assert not np.array_equal(trained.predict(X), fresh.predict(X))
    weights = trained.state_dict()
    fresh.load_state_dict(weights)
    assert np.array_equal(trained.predict(X), fresh.predict(X))
    # The arrays are copies: changing one changes no model.
    weights["head.bias"] += 1
    assert not np.array_equal(trained.state_dict()["head.bias"], weights["head.bias"])


def test_a_refused_state_dict_changes_nothing():
    model = rnnkit.Model(cell="rnn_tanh", input_size=3, hidden_size=4, output_size=2)
    before = model.state_dict()
    bad_shape = dict(before, **{"rnn.weight_hh_l0": np.zeros((4, 3), np.float32), "head.bias": np.ones(2)})
    with pytest.raises(rnnkit.DataMismatchError, match=r"rnn.weight_hh_l0 has shape \[4, 4\].*\[4, 3\]"):
        model.load_state_dict(bad_shape)
    not_finite = dict(before, **{"head.bias": np.array([0, np.nan])})
    with pytest.raises(ValueError, match="not finite"):
        model.load_state_dict(not_finite)
    with pytest.raises(rnnkit.NotFoundError, match="unexpected rnn.weight_ih_l1"):
        model.load_state_dict(dict(before, **{"rnn.weight_ih_l1": np.zeros((4, 4))}))
    with pytest.raises(KeyError, match="missing head.bias"):
        model.load_state_dict({name: value for name, value in before.items() if name != "head.bias"})
    after = model.state_dict()
    assert all(np.array_equal(before[name], after[name]) for name in before)
    model.load_state_dict({"head.bias": np.array([1.5, -2])}, strict=False)
    assert model.state_dict()["head.bias"].tolist() == [1.5, -2]


def test_a_saved_model_loads_with_its_configuration_and_weights(tmp_path):
    model = rnnkit.Model(cell="lstm_ln", input_size=3, hidden_size=5, output_size=4, topology="many_to_many", seed=9)
    path = tmp_path / "model.safetensors"
    model.save(path)
    loaded = rnnkit.load(str(path))
    assert loaded.config == model.config
    X = features(2, 4, 3)
    assert np.array_equal(loaded.predict(X), model.predict(X))


def test_token_inputs_read_embeddings_or_one_hot_vectors():
    tokens = np.array([[0, 3, 9, 2], [5, 5, 1, 0]])
    embedded = rnnkit.Model(
        cell="gru",
        input="embedding",
        input_size=10,
        embedding_size=4,
        hidden_size=8,
        output_size=10,
        topology="many_to_many",
    )
    assert embedded.parameters["embedding.weight"] == (10, 4)
    assert embedded.predict(tokens).shape == (2, 4, 10)
    one_hot = rnnkit.Model(cell="lstm", input="one_hot", input_size=10, hidden_size=8, output_size=3)
    assert "embedding.weight" not in one_hot.parameters
    assert one_hot.predict(tokens, lengths=[4, 2]).shape == (2, 3)
    with pytest.raises(rnnkit.DataMismatchError, match="token 10"):
        one_hot.predict(np.array([[1, 10]]))


def test_a_character_model_learns_and_samples_its_vocabulary():
    vocabulary = "abc\n"
    text = "abc\n" * 100
    ids = np.array([vocabulary.index(character) for character in text], dtype=np.int32)
    windows = np.stack([ids[start : start + 17] for start in range(0, len(ids) - 17, 3)])
    model = rnnkit.Model(
        cell="lstm",
        input="one_hot",
        vocabulary=vocabulary,
        hidden_size=32,
        output_size=4,
        topology="many_to_many",
        seed=1,
    )
    assert model.config["input_size"] == 4
    model.fit(windows[:, :-1], windows[:, 1:], lr=1e-2, steps=150, batch_size=16)
    sample = model.sample_text("ab", 30, temperature=0.5, seed=3)
    assert sample.startswith("ab") and len(sample) == 32 and set(sample) <= set(vocabulary)
    assert sample == model.sample_text("ab", 30, temperature=0.5, seed=3)
    assert model.sample_text("ab", 6, top_k=1) == "abc\nabc\n"
