"""Frozen weights held in bfloat16 for a stage under autocast: the same losses and gradients, and the
float32 weights back afterwards."""

import pytest
import torch

from lerf3d.scene_llm.model.tiny_llm import TinyLlamaConfig, tiny_random_llama
from lerf3d.scene_llm.train.precision import autocast_weights, frozen_linear_layers

peft = pytest.importorskip("peft")


def _lora_llama(tied: bool = True):
    model = tiny_random_llama(64, TinyLlamaConfig())
    if not tied:  # an output layer of its own, frozen like the rest of the base
        model.config.tie_word_embeddings = False
        model.lm_head.weight = torch.nn.Parameter(model.lm_head.weight.detach().clone())
    torch.manual_seed(0)
    config = peft.LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj", "down_proj"])
    model = peft.get_peft_model(model, config)
    for name, parameter in model.named_parameters():
        if "lora_B" in name:  # B starts at zero: make the adapters' gradients depend on the base weights
            torch.nn.init.normal_(parameter, std=0.1)
    return model.train()


def _loss_and_grads(model, ids):
    with torch.autocast("cpu", dtype=torch.bfloat16):
        logits = model(input_ids=ids).logits
    loss = torch.nn.functional.cross_entropy(logits[:, :-1].float().flatten(0, 1), ids[:, 1:].flatten())
    trained = [p for p in model.parameters() if p.requires_grad]
    return loss.detach(), torch.autograd.grad(loss, trained)


def test_losses_and_gradients_are_those_of_autocast_over_float32_weights():
    model = _lora_llama()
    ids = torch.randint(3, 64, (2, 12), generator=torch.Generator().manual_seed(1))
    loss, grads = _loss_and_grads(model, ids)
    layers = frozen_linear_layers(model)
    weights = {id(layer): layer.weight for layer in layers}
    with autocast_weights(model, enabled=True) as converted:
        assert converted == len(layers) > 0
        assert all(layer.weight.dtype == torch.bfloat16 for layer in layers)
        low_loss, low_grads = _loss_and_grads(model, ids)
    assert torch.equal(low_loss, loss)
    assert all(torch.equal(a, b) for a, b in zip(low_grads, grads, strict=True))
    # afterwards every layer holds its own float32 weight again (the same tensor, not a copy)
    assert {id(layer): layer.weight for layer in frozen_linear_layers(model)} == weights


def test_which_layers_are_converted_and_restoring_after_an_error():
    model = _lora_llama()
    layers = frozen_linear_layers(model)
    names = {name.rsplit(".", 1)[-1] if not name.endswith("base_layer") else name.split(".")[-2]
             for name, module in model.named_modules() if module in layers}
    # the frozen base layers, LoRA-wrapped or not; not the adapters (they train), not the output layer
    # (tied to the input embedding, which is looked up and keeps float32)
    assert names == {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"}
    assert not any(m.weight is model.get_input_embeddings().weight for m in layers)
    with pytest.raises(RuntimeError, match="stop"), autocast_weights(model, enabled=True):
        assert all(m.weight.dtype == torch.bfloat16 for m in layers)
        raise RuntimeError("stop")
    assert all(m.weight.dtype == torch.float32 for m in layers)
    # an untied, frozen output layer is converted too; nothing is without autocast
    untied = _lora_llama(tied=False)
    assert untied.get_output_embeddings() in frozen_linear_layers(untied)
    with autocast_weights(untied, enabled=False) as converted:
        assert converted == 0 and all(m.weight.dtype == torch.float32 for m in untied.modules()
                                      if isinstance(m, torch.nn.Linear))
