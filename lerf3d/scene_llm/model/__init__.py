"""The Scene-LLM model: the LLM, the projector and splicing scene tokens into the prompt.

- :mod:`.llm`, :mod:`.tiny_llm`: loading the LLM and tokenizer (SmolLM2 GGUF default, any HF model,
  tiny random Llama), prompt formatting
- :mod:`.bridge`, :mod:`.projector`: the feature -> word-embedding projector and its start
- :mod:`.splice`: the public prefill/splice API (scene tokens into input embeddings)
- :mod:`.batch`, :mod:`.scene_llm`: tokenised examples and ``SceneLLM`` (loss, greedy answers)
"""
