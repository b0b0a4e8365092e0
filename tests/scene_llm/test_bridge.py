"""The text-fitted bridge: the regression, the vocabulary, the bridged projector and its file."""

from __future__ import annotations

import pytest
import torch

from lerf3d.scene_llm.model.bridge import (
    BridgeConfig,
    LabelBridge,
    bridge_labels,
    fit_bridge,
    label_bridge_tables,
    spelled_embeddings,
    text_bridge,
    vocabulary_words,
    word_embeddings,
)
from lerf3d.scene_llm.model.projector import (
    BridgedProjector,
    ProjectorConfig,
    build_projector,
    load_projector,
    save_projector,
)


class _Tokenizer:
    """Whole words and pieces, byte-level BPE style ("Ġ" starts a word)."""

    vocab = {"Ġchair": 0, "Ġthe": 1, "Ġbed": 2, "side": 3, "Ġtable": 4, "ĠNASA": 5, "Ġx2": 6, "Ġlamp": 7}

    def get_vocab(self):
        return dict(self.vocab)

    def __call__(self, text, add_special_tokens=False):
        pieces = {" bedside": ["Ġbed", "side"]}
        words = [t for w in text.split(" ")[1:] for t in pieces.get(" " + w, ["Ġ" + w])]
        return {"input_ids": [self.vocab[w] for w in words]}


def test_fit_recovers_an_affine_map():
    generator = torch.Generator().manual_seed(0)
    text = torch.randn(200, 6, generator=generator)
    weight, bias = torch.randn(6, 4, generator=generator), torch.randn(4, generator=generator)
    fitted_w, fitted_b = fit_bridge(text, text @ weight + bias, ridge=1e-6)
    torch.testing.assert_close(fitted_w, weight, atol=1e-4, rtol=0)
    torch.testing.assert_close(fitted_b, bias, atol=1e-4, rtol=0)
    shrunk, _ = fit_bridge(text, text @ weight + bias, ridge=10.0)
    assert shrunk.norm() < weight.norm()  # the penalty shrinks


def test_vocabulary_and_word_embeddings():
    tokenizer = _Tokenizer()
    assert vocabulary_words(tokenizer, 10) == ["chair", "the", "bed", "table", "lamp"]
    assert vocabulary_words(tokenizer, 2) == ["chair", "the"]
    embedding = torch.nn.Embedding(8, 3)
    rows = word_embeddings(tokenizer, embedding, ["chair", "bedside"])
    torch.testing.assert_close(rows[0], embedding.weight[0].detach())
    torch.testing.assert_close(rows[1], embedding.weight[2:4].mean(0).detach())


def test_text_bridge_maps_a_word_to_its_embedding():
    tokenizer = _Tokenizer()
    letters = "abcdefgh"
    tokenizer.vocab = {
        f"\u0120{a}{b}{c}x": i
        for i, (a, b, c) in enumerate((a, b, c) for a in letters for b in letters for c in letters[:2])
    }
    words = vocabulary_words(tokenizer, 1000)
    assert len(words) == 128
    embedding = torch.nn.Embedding(len(words), 6)
    mixing = torch.randn(6, 10, generator=torch.Generator().manual_seed(1))
    text = {w: embedding.weight[i].detach() @ mixing for i, w in enumerate(words)}  # a linear text tower
    weight, bias = text_bridge(
        lambda ws: torch.stack([text[w] for w in ws]),
        tokenizer,
        embedding,
        BridgeConfig(num_words=1000, ridge=1e-6),
        batch_size=50,
    )
    assert weight.shape == (10, 6)
    torch.testing.assert_close(
        text[words[7]] @ weight + bias, embedding.weight[7].detach(), atol=1e-3, rtol=0
    )
    tokenizer.vocab = dict(list(tokenizer.vocab.items())[:5])
    with pytest.raises(ValueError, match="too few"):
        text_bridge(
            lambda ws: torch.stack([text[w] for w in ws]), tokenizer, embedding, BridgeConfig(num_words=16)
        )


def test_bridged_projector_starts_as_the_bridge_and_round_trips(tmp_path):
    cfg = ProjectorConfig(d_in=7, hidden=16, d_llm=5, bridge_dim=4)
    projector = build_projector(cfg)
    assert isinstance(projector, BridgedProjector)
    weight, bias = torch.randn(4, 5), torch.randn(5)
    projector.set_bridge(weight, bias)
    x = torch.randn(3, 7)
    torch.testing.assert_close(projector(x), x[:, :4] @ weight + bias)  # the MLP starts at zero
    loss = projector(x).square().sum()
    loss.backward()
    assert projector.mlp[2].weight.grad.abs().sum() > 0  # and still learns
    save_projector(projector, cfg, tmp_path / "p.pt")
    loaded, loaded_cfg = load_projector(tmp_path / "p.pt", expected=cfg)
    assert loaded_cfg.bridge_dim == 4
    torch.testing.assert_close(loaded(x), projector(x))
    with pytest.raises(ValueError, match="bridge_dim"):
        ProjectorConfig(d_in=3, hidden=4, d_llm=4, bridge_dim=4)


def test_label_bridge_gives_the_embedding_of_the_nearest_label(tmp_path):
    """A feature equal to a label's text embedding comes out as (nearly) that label's LLM
    embedding, multi-token labels as the mean of their tokens; distinct labels stay distinct,
    unlike a regression's outputs, which shrink towards the mean."""
    tokenizer = _Tokenizer()
    embedding = torch.nn.Embedding(len(tokenizer.vocab), 6)
    labels = bridge_labels(["chair", "bedside", "chair ", "lamp"], BridgeConfig(extra_labels=("table",)))
    assert labels == ["bedside", "chair", "lamp", "table"]
    text = {f"a photo of a {w}": torch.randn(10, generator=torch.Generator().manual_seed(i))
            for i, w in enumerate(labels)}
    keys, values = label_bridge_tables(lambda ps: torch.stack([text[p] for p in ps]), tokenizer, embedding,
                                       labels, BridgeConfig())
    torch.testing.assert_close(values[0], embedding.weight[[2, 3]].detach().mean(0))  # " bed" + "side"
    cfg = ProjectorConfig(d_in=13, hidden=16, d_llm=6, bridge_dim=10, bridge_labels=len(labels))
    projector = build_projector(cfg)
    assert isinstance(projector.bridge, LabelBridge)
    projector.set_labels(keys, values, 50.0)
    assert float(projector.bridge.log_temperature.exp()) == pytest.approx(50.0)
    x = torch.cat([keys * 3.0, torch.randn(4, 3)], dim=1)  # the norm of a feature does not matter
    out = projector(x)
    torch.testing.assert_close(out, values, atol=0.05, rtol=0)
    assert torch.cdist(out, out).fill_diagonal_(float("inf")).min() > 0.5
    save_projector(projector, cfg, tmp_path / "labels.pt")
    loaded, loaded_cfg = load_projector(tmp_path / "labels.pt", expected=cfg)
    assert loaded_cfg.bridge_labels == 4
    torch.testing.assert_close(loaded(x), out)
    with pytest.raises(ValueError, match="set_labels"):
        projector.set_bridge(torch.zeros(10, 6), torch.zeros(6))
    with pytest.raises(ValueError, match="bridge_labels"):
        ProjectorConfig(d_in=13, hidden=16, d_llm=6, bridge_labels=3)
    with pytest.raises(ValueError, match="at least two labels"):
        bridge_labels([], BridgeConfig(extra_labels=()))


def test_spelled_label_bridge_writes_each_name_token_by_token(tmp_path):
    """With slots = K a label comes out as the embeddings of its own tokens, then the separator,
    padded or cut to K positions; the MLP's output is added to every slot, and the file round-trips."""
    class _WithComma(_Tokenizer):
        vocab = {**_Tokenizer.vocab, ",": 8}

        def __call__(self, text, add_special_tokens=False):
            return {"input_ids": [8]} if text == "," else super().__call__(text)

    tokenizer = _WithComma()
    embedding = torch.nn.Embedding(len(tokenizer.vocab), 6)
    labels = ["bedside", "chair", "lamp"]
    text = {f"a photo of a {w}": torch.randn(10, generator=torch.Generator().manual_seed(i))
            for i, w in enumerate(labels)}
    bridge = BridgeConfig(enabled=True, kind="labels", slots=3, separator=",")
    keys, values = label_bridge_tables(lambda ps: torch.stack([text[p] for p in ps]), tokenizer, embedding,
                                       labels, bridge)
    weight = embedding.weight.detach()
    assert values.shape == (3, 3, 6)
    torch.testing.assert_close(values[0], weight[[2, 3, 8]])  # " bed" "side" ","
    torch.testing.assert_close(values[1], weight[[0, 8, 8]])  # " chair" "," padded with ","
    cut = spelled_embeddings(tokenizer, embedding, ["bedside"], 1, ",")
    torch.testing.assert_close(cut[0], weight[[2]])  # cut to one slot
    cfg = ProjectorConfig(d_in=13, hidden=16, d_llm=6, bridge_dim=10, bridge_labels=3, slots=3)
    projector = build_projector(cfg)
    projector.set_labels(keys, values, 50.0)
    x = torch.cat([keys * 2.0, torch.randn(3, 3)], dim=1)
    out = projector(x)  # (3 tokens, 3 slots, 6)
    torch.testing.assert_close(out, values, atol=0.05, rtol=0)
    with torch.no_grad():
        projector.mlp[2].bias.fill_(1.0)  # the MLP's part lands on every slot of its token
    torch.testing.assert_close(projector(x) - out, torch.ones(3, 3, 6))
    save_projector(projector, cfg, tmp_path / "spelled.pt")
    loaded, loaded_cfg = load_projector(tmp_path / "spelled.pt", expected=cfg)
    assert loaded_cfg.slots == 3
    torch.testing.assert_close(loaded(x), projector(x))
    with pytest.raises(ValueError, match="slots"):
        ProjectorConfig(d_in=13, hidden=16, d_llm=6, bridge_dim=10, slots=2)  # no label bridge
    with pytest.raises(ValueError, match="kind='labels'"):
        BridgeConfig(enabled=True, kind="linear", slots=2)
    with pytest.raises(ValueError, match="slots"):
        BridgeConfig(slots=0)


def test_mlp_slot_keeps_the_spelled_name_exact_and_takes_one_more_position(tmp_path):
    """mlp_slot: the name's slots are the lookup alone (whatever the MLP says), the MLP's output is
    one more position after them (zero at the start), and the file round-trips."""
    labels, dim, hidden = 3, 10, 6
    keys = torch.nn.functional.normalize(torch.randn(labels, dim, generator=torch.Generator().manual_seed(0)), dim=1)
    values = torch.randn(labels, 2, hidden, generator=torch.Generator().manual_seed(1))
    cfg = ProjectorConfig(d_in=13, hidden=16, d_llm=hidden, bridge_dim=dim, bridge_labels=labels, slots=2,
                          mlp_slot=True)
    projector = build_projector(cfg)
    projector.set_labels(keys, values, 200.0)
    x = torch.cat([keys, torch.randn(labels, 3)], dim=1)  # each token's feature is one label's key
    out = projector(x)
    assert out.shape == (labels, 3, hidden)  # 2 name slots + the MLP's own
    torch.testing.assert_close(out[:, :2], values, atol=1e-4, rtol=0)
    assert torch.equal(out[:, 2], torch.zeros(labels, hidden))  # the MLP's output starts at zero
    with torch.no_grad():
        projector.mlp[2].bias.fill_(1.0)
    moved = projector(x)
    torch.testing.assert_close(moved[:, :2], out[:, :2])  # the name does not move
    torch.testing.assert_close(moved[:, 2], torch.ones(labels, hidden))
    save_projector(projector, cfg, tmp_path / "slot.pt")
    loaded, loaded_cfg = load_projector(tmp_path / "slot.pt", expected=cfg)
    assert loaded_cfg.mlp_slot
    torch.testing.assert_close(loaded(x), moved)
    with pytest.raises(ValueError, match="mlp_slot"):
        ProjectorConfig(d_in=13, hidden=16, d_llm=6, bridge_dim=10, mlp_slot=True)  # no label bridge
    with pytest.raises(ValueError, match="mlp_slot"):
        BridgeConfig(enabled=True, kind="linear", mlp_slot=True)
