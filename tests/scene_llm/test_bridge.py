"""The text-fitted bridge: the regression, the vocabulary, the bridged projector and its file."""

from __future__ import annotations

import pytest
import torch

from lerf3d.scene_llm.bridge import BridgeConfig, fit_bridge, text_bridge, vocabulary_words, word_embeddings
from lerf3d.scene_llm.projector import (
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
