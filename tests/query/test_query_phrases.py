"""The phrase check: written once (check_phrases), run where phrases enter, trusted below."""

from __future__ import annotations

import pytest
import torch
from query_helpers import HashTextEncoder

from lerf3d.query.phrases import Phrases, check_phrases, encode_phrases
from lerf3d.query.relevancy import CANONICAL_NEGATIVES
from lerf3d.query.search import ScaledEmbeddings, ScaleSearcher


def test_check_phrases_strips_and_returns_checked_phrases():
    checked = check_phrases(["  coffee mug ", "chair"])
    assert isinstance(checked, Phrases)
    assert checked == ("coffee mug", "chair") and list(checked) == ["coffee mug", "chair"]
    assert check_phrases(checked) is checked  # checked where they entered: handed back as they are
    assert check_phrases(checked, "negative phrase") is checked
    assert check_phrases(CANONICAL_NEGATIVES, "negative phrase") is CANONICAL_NEGATIVES  # checked once, at import


@pytest.mark.parametrize("bad, error, message", [
    ([], ValueError, "at least one phrase is needed"),
    (["cup", "   "], ValueError, "phrase 1 is empty"),
    ("cup", TypeError, r"not a single string: \['cup'\]"),
    (["cup", 3], TypeError, "phrase 1 must be a string, got int"),
])
def test_check_phrases_errors(bad, error, message):
    with pytest.raises(error, match=message):
        check_phrases(bad)


def test_check_phrases_names_what_it_checks():
    with pytest.raises(ValueError, match="at least one negative phrase is needed"):
        check_phrases((), "negative phrase")


def test_inner_layers_take_only_checked_phrases():
    encoder = HashTextEncoder()
    embeddings = encode_phrases(encoder, check_phrases(["cup", "chair"]))
    assert embeddings.shape == (2, encoder.embedding_dim)
    torch.testing.assert_close(embeddings.norm(dim=-1), torch.ones(2))
    with pytest.raises(TypeError, match="check_phrases"):
        encode_phrases(encoder, ["cup"])  # a caller that skipped the check
    with pytest.raises(TypeError, match="check_phrases"):
        encode_phrases(encoder, "cup")  # would otherwise encode 'c', 'u', 'p'
    stack = ScaledEmbeddings(torch.nn.functional.normalize(torch.randn(2, 4, encoder.embedding_dim), dim=-1),
                             (0.5, 1.0))
    searcher = ScaleSearcher(stack, encoder, (4,))
    with pytest.raises(TypeError, match="check_phrases"):
        searcher.search(["cup"], check_phrases(["object"]))
    # the public entry point checks, then answers exactly as the inner search does on checked phrases
    public = searcher.query([" cup "], ["object"])
    inner = searcher.search(check_phrases(["cup"]), check_phrases(["object"]))
    assert [m.phrase for m in public] == ["cup"]
    torch.testing.assert_close(public[0].values, inner[0].values)
    assert public[0].scale == inner[0].scale
