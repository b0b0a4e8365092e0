"""The <scene> splice: exact layout by hand, labels, gradients, and a tiny Llama forward."""

import pytest
import torch

from lerf3d.scene_llm.model.splice import (
    IGNORE_INDEX,
    SplicedBatch,
    causal_only,
    find_placeholders,
    flatten_slots,
    ids_for_embedding,
    pad_scene_tokens,
    splice_scene_tokens,
)

SCENE = 99  # placeholder id used in these tests


def _embed(ids: torch.Tensor) -> torch.Tensor:
    """Text 'embedding' whose value is the token id, so positions can be read back by hand."""
    return ids.float()[..., None].expand(-1, -1, 2).clone()  # (B, L, 2)


def _hand_batch():
    # row 0: 5 tokens, placeholder at 1; row 1: 3 real tokens then 2 right-padding, placeholder at 2
    ids = torch.tensor([[1, SCENE, 2, 3, 4], [5, 6, SCENE, 7, 0]])
    mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 1, 0]])
    labels = torch.tensor([[11, 12, 13, 14, 15], [16, 17, 18, 19, IGNORE_INDEX]])
    # row 0 has 3 scene tokens, row 1 has 2 (third slot is padding)
    tokens = torch.tensor([[[-1.0, -1], [-2, -2], [-3, -3]], [[-4, -4], [-5, -5], [0, 0]]])
    token_mask = torch.tensor([[True, True, True], [True, True, False]])
    return ids, mask, labels, tokens, token_mask


def test_hand_made_case_right_padding():
    ids, mask, labels, tokens, token_mask = _hand_batch()
    out = splice_scene_tokens(ids, mask, _embed(ids), tokens, SCENE, labels, token_mask)
    assert isinstance(out, SplicedBatch)
    assert out.inputs_embeds.shape == (2, 5 - 1 + 3, 2)
    assert out.inputs_embeds[..., 0].tolist() == [
        [1, -1, -2, -3, 2, 3, 4],
        [5, 6, -4, -5, 7, 0, 0],
    ]
    assert out.attention_mask.tolist() == [[1, 1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 1, 0, 0]]
    assert out.labels.tolist() == [
        [11, IGNORE_INDEX, IGNORE_INDEX, IGNORE_INDEX, 13, 14, 15],
        [16, 17, IGNORE_INDEX, IGNORE_INDEX, 19, IGNORE_INDEX, IGNORE_INDEX],
    ]
    assert out.position_ids.tolist() == [[0, 1, 2, 3, 4, 5, 6], [0, 1, 2, 3, 4, 0, 0]]
    assert out.scene_start.tolist() == [1, 2] and out.scene_length.tolist() == [3, 2]
    assert out.scene_mask.tolist() == [
        [False, True, True, True, False, False, False],
        [False, False, True, True, False, False, False],
    ]


def test_left_padding_keeps_padding_in_front():
    ids = torch.tensor([[1, SCENE, 2], [0, SCENE, 3]])
    mask = torch.tensor([[1, 1, 1], [0, 1, 1]])
    tokens, token_mask = pad_scene_tokens([torch.tensor([[-1.0, -1], [-2, -2]]), torch.tensor([[-3.0, -3]])])
    out = splice_scene_tokens(ids, mask, _embed(ids), tokens, SCENE, None, token_mask, padding_side="left")
    assert out.inputs_embeds[..., 0].tolist() == [[1, -1, -2, 2], [0, 0, -3, 3]]
    assert out.attention_mask.tolist() == [[1, 1, 1, 1], [0, 0, 1, 1]]
    assert out.position_ids.tolist() == [[0, 1, 2, 3], [0, 0, 0, 1]]
    assert out.labels is None and out.scene_start.tolist() == [1, 2]


def test_all_tokens_without_mask_and_zero_tokens():
    ids = torch.tensor([[SCENE, 4]])
    out = splice_scene_tokens(ids, torch.ones_like(ids), _embed(ids), torch.full((1, 2, 2), -7.0), SCENE)
    assert out.inputs_embeds[..., 0].tolist() == [[-7, -7, 4]]
    empty = splice_scene_tokens(ids, torch.ones_like(ids), _embed(ids), torch.zeros(1, 0, 2), SCENE)
    assert empty.inputs_embeds[..., 0].tolist() == [[4]] and empty.scene_length.tolist() == [0]


def test_placeholder_errors_are_clear():
    ids = torch.tensor([[1, 2, 3], [SCENE, 2, SCENE], [SCENE, 1, 1]])
    with pytest.raises(ValueError, match=r"exactly one <scene>.*row 0: 0, row 1: 2"):
        find_placeholders(ids, SCENE)
    good = torch.tensor([[1, SCENE, 0]])
    with pytest.raises(ValueError, match="padded"):
        splice_scene_tokens(good, torch.tensor([[1, 0, 0]]), _embed(good), torch.zeros(1, 1, 2), SCENE)
    with pytest.raises(ValueError, match="prefix"):
        splice_scene_tokens(good, torch.ones_like(good), _embed(good), torch.zeros(1, 2, 2), SCENE,
                            scene_token_mask=torch.tensor([[False, True]]))
    with pytest.raises(ValueError, match="LLM width"):
        splice_scene_tokens(good, torch.ones_like(good), _embed(good), torch.zeros(1, 2, 3), SCENE)


def test_ids_for_embedding_and_pad_scene_tokens():
    assert ids_for_embedding(torch.tensor([[3, SCENE, 4]]), SCENE).tolist() == [[3, 0, 4]]
    tokens, mask = pad_scene_tokens([torch.ones(2, 3), torch.ones(4, 3)])
    assert tokens.shape == (2, 4, 3) and mask.tolist() == [[True, True, False, False], [True] * 4]
    assert tokens[0, 2:].abs().sum() == 0


def test_gradient_reaches_real_scene_tokens_only():
    ids, mask, labels, tokens, token_mask = _hand_batch()
    tokens = tokens.clone().requires_grad_(True)
    text = _embed(ids).requires_grad_(True)
    out = splice_scene_tokens(ids, mask, text, tokens, SCENE, labels, token_mask)
    (out.inputs_embeds * torch.arange(1.0, 15.0).view(1, 7, 2)).sum().backward()
    assert tokens.grad[0].abs().sum() > 0 and tokens.grad[1, :2].abs().sum() > 0
    assert tokens.grad[1, 2].abs().sum() == 0  # the padding slot is dropped
    # row 0's first scene token sits at output position 1: weights 3 and 4
    assert tokens.grad[0, 0].tolist() == [3.0, 4.0]
    assert text.grad[:, :, 0][ids == SCENE].abs().sum() == 0  # placeholder embedding discarded


def _tiny_llama():
    transformers = pytest.importorskip("transformers")
    torch.manual_seed(0)
    cfg = transformers.LlamaConfig(
        vocab_size=100, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64,
    )
    return transformers.LlamaForCausalLM(cfg).eval()


def test_tiny_llama_loss_is_finite_and_ignores_scene_positions():
    model = _tiny_llama()
    ids, mask, labels, _, token_mask = _hand_batch()
    g = torch.Generator().manual_seed(0)
    tokens = torch.randn(2, 3, 32, generator=g, requires_grad=True)
    text = model.get_input_embeddings()(ids_for_embedding(ids, SCENE))  # (B, L, 32)
    out = splice_scene_tokens(ids, mask, text, tokens, SCENE, labels, token_mask)
    result = model(inputs_embeds=out.inputs_embeds, attention_mask=out.attention_mask,
                   position_ids=out.position_ids, labels=out.labels)
    assert torch.isfinite(result.loss)
    # the loss is the mean cross-entropy over the next-token targets that are not ignored
    logits, targets = result.logits[:, :-1], out.labels[:, 1:]
    keep = targets != IGNORE_INDEX
    manual = torch.nn.functional.cross_entropy(logits[keep], targets[keep])
    torch.testing.assert_close(result.loss, manual)
    result.loss.backward()
    assert tokens.grad.abs().sum() > 0
    # the label sitting on the placeholder has no effect: scene positions are always ignored
    other = labels.clone()
    other[ids == SCENE] = 42
    out2 = splice_scene_tokens(ids, mask, text, tokens, SCENE, other, token_mask)
    assert torch.equal(out2.labels, out.labels)
    with torch.no_grad():
        loss2 = model(inputs_embeds=out2.inputs_embeds, attention_mask=out2.attention_mask,
                      position_ids=out2.position_ids, labels=out2.labels).loss
    torch.testing.assert_close(loss2, result.loss)
    # whereas giving the scene positions real labels would change it
    forced = out.labels.clone()
    forced[out.scene_mask] = 42
    with torch.no_grad():
        loss3 = model(inputs_embeds=out.inputs_embeds, attention_mask=out.attention_mask,
                      position_ids=out.position_ids, labels=forced).loss
    assert not torch.isclose(loss3, result.loss)


def test_tiny_llama_padded_sample_matches_it_alone():
    model = _tiny_llama()
    ids, mask, labels, _, token_mask = _hand_batch()
    tokens = torch.randn(2, 3, 32, generator=torch.Generator().manual_seed(1))
    embed = model.get_input_embeddings()
    with torch.no_grad():
        batched = splice_scene_tokens(ids, mask, embed(ids_for_embedding(ids, SCENE)), tokens, SCENE,
                                      labels, token_mask)
        logits = model(inputs_embeds=batched.inputs_embeds, attention_mask=batched.attention_mask,
                       position_ids=batched.position_ids).logits
        alone_ids = ids[1:, :4]  # row 1 without its padding, with only its 2 real scene tokens
        alone = splice_scene_tokens(alone_ids, torch.ones_like(alone_ids),
                                    embed(ids_for_embedding(alone_ids, SCENE)), tokens[1:, :2], SCENE)
        alone_logits = model(inputs_embeds=alone.inputs_embeds, attention_mask=alone.attention_mask).logits
    torch.testing.assert_close(logits[1, :5], alone_logits[0], atol=1e-5, rtol=1e-4)


def test_causal_only_drops_the_mask_of_right_padding_alone():
    ids, mask, labels, tokens, token_mask = _hand_batch()
    right = splice_scene_tokens(ids, mask, _embed(ids), tokens, SCENE, labels, token_mask)
    none, positions = causal_only(right.attention_mask, right.position_ids)
    # real positions keep their numbers, the padding counts on (not 0, which would read as a new sequence)
    assert none is None and positions.tolist() == [[0, 1, 2, 3, 4, 5, 6], [0, 1, 2, 3, 4, 5, 6]]
    # left padding, or a hole, puts padding before a real position: the mask stays
    left_mask, left_positions = torch.tensor([[1, 1, 1], [0, 1, 1]]), torch.tensor([[0, 1, 2], [0, 0, 1]])
    assert causal_only(left_mask, left_positions) == (left_mask, left_positions)
    holed = torch.tensor([[1, 0, 1]])
    assert causal_only(holed, torch.tensor([[0, 0, 1]]))[0] is holed
    with pytest.raises(ValueError, match=r"must both be \(B, L\)"):
        causal_only(mask, right.position_ids)


def test_tiny_llama_right_padded_batch_without_mask_matches_the_masked_one():
    """Outputs and gradients at every real position of a right-padded batch are those of the masked
    batch when the mask is dropped (causal attention never reads the padding after them)."""
    model = _tiny_llama()
    ids, mask, labels, _, token_mask = _hand_batch()
    tokens = torch.randn(2, 3, 32, generator=torch.Generator().manual_seed(2), requires_grad=True)
    out = splice_scene_tokens(ids, mask, model.get_input_embeddings()(ids_for_embedding(ids, SCENE)), tokens,
                              SCENE, labels, token_mask)
    real = out.attention_mask.bool()
    masked = model(inputs_embeds=out.inputs_embeds, attention_mask=out.attention_mask,
                   position_ids=out.position_ids).logits
    (masked_grad,) = torch.autograd.grad(masked[real].square().sum(), tokens, retain_graph=True)
    free_mask, free_positions = causal_only(out.attention_mask, out.position_ids)
    free = model(inputs_embeds=out.inputs_embeds, attention_mask=free_mask, position_ids=free_positions).logits
    (free_grad,) = torch.autograd.grad(free[real].square().sum(), tokens)
    torch.testing.assert_close(free[real], masked[real], atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(free_grad, masked_grad, atol=1e-5, rtol=1e-4)
    # with the padding numbered 0 as the splice numbers it, the row would read as packed sequences
    # and the model would build a mask after all; the positions causal_only gives avoid that
    from transformers.masking_utils import find_packed_sequence_indices

    assert find_packed_sequence_indices(out.position_ids) is not None
    assert find_packed_sequence_indices(free_positions) is None


def test_flatten_slots_lays_tokens_out_slot_after_slot():
    projected = torch.arange(2 * 2 * 3).float().reshape(2, 2, 3, 1)  # (B=2, T=2, K=3, H=1)
    mask = torch.tensor([[True, True], [True, False]])
    flat, flat_mask = flatten_slots(projected, mask)
    assert flat[..., 0].tolist() == [[0, 1, 2, 3, 4, 5], [6, 7, 8, 9, 10, 11]]
    assert flat_mask.tolist() == [[True] * 6, [True] * 3 + [False] * 3]
    with pytest.raises(ValueError, match="does not match"):
        flatten_slots(projected, mask[:, :1])


def test_identifiers_go_before_each_token_and_padding_after():
    from lerf3d.scene_llm.model.splice import identifier_text, interleave_identifiers

    assert [identifier_text(k) for k in (0, 7, 12)] == ["<obj0>", "<obj7>", "<obj12>"]
    with pytest.raises(ValueError, match="from 0"):
        identifier_text(-1)
    # identifier k is J_k = k + 1 rows of value 100 + k; token slots are negative (K = 2 per token)
    identifiers = [torch.full((k + 1, 2), 100.0 + k) for k in range(3)]
    projected = -torch.arange(1.0, 13.0).reshape(2, 3, 2, 1).expand(-1, -1, -1, 2)  # (B=2, T=3, K=2, H=2)
    mask = torch.tensor([[True, True, True], [True, False, False]])
    out, out_mask = interleave_identifiers(projected, mask, identifiers)
    row0 = [100, -1, -2, 101, 101, -3, -4, 102, 102, 102, -5, -6]
    row1 = [100, -7, -8] + [0] * 9
    assert out[..., 0].tolist() == [row0, row1] and out.shape == (2, 12, 2)
    assert out_mask.tolist() == [[True] * 12, [True] * 3 + [False] * 9]
    with pytest.raises(ValueError, match="identifiers"):
        interleave_identifiers(projected, mask, identifiers[:2])
    with pytest.raises(ValueError, match="first"):
        interleave_identifiers(projected, torch.tensor([[False, True, True], [True, False, False]]), identifiers)
