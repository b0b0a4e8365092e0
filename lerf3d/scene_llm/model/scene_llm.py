"""``SceneLLM``: a causal LM plus the projector that turns scene tokens into its input embeddings.

Training: ``forward(batch)`` projects the batch's scene tokens, splices them in at ``<scene>`` and
returns the summed token cross-entropy and the token count, so a caller can normalise by the token
count of the *global* batch (identical losses and gradients for 1 process x 2B and 2 processes x B).
Inference: ``prefill(tokens, questions)`` gives the left-padded prompt embeddings with the scene
spliced in (the public entry that ask, the viewer and the bench share); ``answer`` runs
:func:`~lerf3d.scene_llm.model.decode.greedy_decode` on it with a KV cache.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from jaxtyping import Bool, Float, Int
from torch import nn

from lerf3d.scene_llm.model.batch import SceneBatch
from lerf3d.scene_llm.model.bridge import LabelBridge
from lerf3d.scene_llm.model.census import census_text
from lerf3d.scene_llm.model.decode import greedy_decode
from lerf3d.scene_llm.model.hints import QuestionHints
from lerf3d.scene_llm.model.identifiers import add_identifier_tokens
from lerf3d.scene_llm.model.links import TokenLinks
from lerf3d.scene_llm.model.llm import LoadedLLM, prompt_text, stop_token_ids
from lerf3d.scene_llm.model.projector import ProjectorConfig
from lerf3d.scene_llm.model.splice import (
    IGNORE_INDEX,
    POSITION_BINS,
    PaddingSide,
    SplicedBatch,
    append_positions,
    append_tails,
    causal_only,
    flatten_slots,
    identifier_text,
    ids_for_embedding,
    interleave_identifiers,
    left_pad,
    name_order,
    pad_scene_tokens,
    position_digits,
    splice_scene_tokens,
)
from lerf3d.scene_llm.tokens.frames import SceneTokens, TokenEncoding


@dataclass(frozen=True, eq=False)
class TokenLoss:
    """Un-normalised loss of a batch."""

    loss_sum: Float[torch.Tensor, ""]
    """Sum of the cross-entropy over all labelled positions (differentiable)."""
    num_tokens: int
    """Number of labelled positions."""

    @property
    def mean(self) -> torch.Tensor:
        return self.loss_sum / max(self.num_tokens, 1)


class SceneLLM(nn.Module):
    """LLM + projector. ``encoding`` must be the one the projector's ``d_in`` was sized for.

    ``sparse_logits``: the training loss runs the decoder and applies the output layer at labelled
    positions only; exact for Llama/Qwen/SmolLM heads (a plain linear layer), so switch it off for
    models whose causal-LM head does more (e.g. Gemma-2's final logit soft-capping).
    ``identifiers``: put ``<objK>`` (the LLM's embeddings of that text) before the K-th scene token
    (:func:`~lerf3d.scene_llm.model.splice.interleave_identifiers`).
    ``identifier_tokens``: N > 0 makes ``<obj0>`` ... ``<obj{N-1}>`` single learned tokens of the LLM
    (:mod:`~lerf3d.scene_llm.model.identifiers`; it changes ``loaded``'s tokenizer and model in place).
    ``position_digits``: follow each token's projected positions with the LLM's embeddings of the
    digits of its room-relative x and y tenths (:func:`~lerf3d.scene_llm.model.splice.position_digits`).
    ``neighbour_links``: end each token's block with ``near <objJ>``, J its nearest other token by box
    gap (:mod:`~lerf3d.scene_llm.model.links`); needs ``identifiers`` and an encoding with extents.
    ``neighbour_names``: the link then names J as the label bridge names it (``near <objJ> desk``);
    needs ``neighbour_links``, a label bridge and ``labels`` (as ``census``).
    ``wall_links``: then ``by the north wall``, the side of the scene its box is nearest (none for
    egocentric tokens); needs ``identifiers`` and an encoding with wall gaps.
    ``support_links``: before the wall, ``on <objJ>`` (named as ``neighbour_names`` names), J the
    token a scene token stands on (:func:`~lerf3d.scene_llm.model.links.supporting_tokens`; none for
    egocentric tokens, whose axes are the camera's, told apart by their wall gaps); needs
    ``identifiers`` and an encoding with extents and wall gaps.
    ``group_by_name``: lay the tokens' blocks out grouped by the label bridge's best name for each
    (:func:`~lerf3d.scene_llm.model.splice.name_order`), each block keeping its identifier; needs
    ``identifiers`` and a label bridge.
    ``question_hints``: K > 0 writes the K scene tokens that best match each question after it
    (:mod:`~lerf3d.scene_llm.model.hints`); needs ``identifiers`` and the features' text tower
    (:meth:`use_text_tower`); ``hint_score_digits``: each candidate's score in 2 digits, 1, or none.
    ``census``: end the scene block with how many tokens carry each name (:mod:`~lerf3d.scene_llm.
    model.census`), the names the label bridge gives them; needs a label bridge and ``labels``, its
    label names in the bridge's order (:func:`~lerf3d.scene_llm.model.bridge.bridge_labels`).
    Texts the layout splices (identifiers, links) are tokenised once per model.
    """

    def __init__(self, loaded: LoadedLLM, projector: nn.Module, projector_config: ProjectorConfig,
                 encoding: TokenEncoding = TokenEncoding(), sparse_logits: bool = True,
                 identifiers: bool = False, position_digits: bool = False,
                 neighbour_links: bool = False, group_by_name: bool = False, question_hints: int = 0,
                 hint_score_digits: int = 2, census: bool = False, labels: Sequence[str] = (),
                 wall_links: bool = False, neighbour_names: bool = False, identifier_tokens: int = 0,
                 support_links: bool = False) -> None:
        super().__init__()
        hidden = loaded.model.get_input_embeddings().embedding_dim
        if projector_config.d_llm != hidden:
            raise ValueError(f"projector outputs {projector_config.d_llm} wide tokens but "
                             f"{loaded.name} embeds at {hidden}")
        self.llm = loaded.model
        self.projector = projector
        self.projector_config = projector_config
        self.tokenizer = loaded.tokenizer
        self.placeholder_id = loaded.placeholder_id
        self.llm_name = loaded.name
        self.encoding = encoding
        self.sparse_logits = sparse_logits
        self.identifiers = identifiers
        if identifier_tokens:
            if not identifiers:
                raise ValueError("identifier_tokens are the identifiers' own tokens: set identifiers")
            add_identifier_tokens(loaded, identifier_tokens)
        self.identifier_tokens = identifier_tokens
        self._text_ids: dict[str, list[int]] = {}
        self.position_digits = position_digits
        self._digit_ids: list[int] = []
        feature_dim = projector_config.d_in - encoding.input_dim(0)
        if position_digits:
            self._relative = encoding.relative_columns(feature_dim)  # ValueError without room-relative inputs
            self._digit_ids = [self._single_token(str(d)) for d in range(POSITION_BINS)]
        self.neighbour_links, self.support_links, self.wall_links = neighbour_links, support_links, wall_links
        self.neighbour_names = neighbour_names
        if neighbour_names and not neighbour_links:
            raise ValueError("neighbour_names name each link's token: set neighbour_links")
        for switch, on in (("neighbour_links", neighbour_links), ("support_links", support_links),
                           ("wall_links", wall_links)):
            if on and not identifiers:
                raise ValueError(f"{switch} follow each token's identifier and name tokens by theirs: "
                                 "set identifiers")
        # the columns each link reads: ValueError naming what the encoding lacks
        corners = encoding.corner_columns(feature_dim) if neighbour_links or support_links else None
        walls = encoding.wall_gap_columns(feature_dim) if wall_links or support_links else None
        self.token_links = TokenLinks(neighbour_links, support_links, wall_links, corners, walls, encoding.xyz_scale)
        self.group_by_name = group_by_name
        if group_by_name:
            if not identifiers:
                raise ValueError("group_by_name moves tokens away from their place: set identifiers, "
                                 "which keep naming them")
            if not isinstance(getattr(projector, "bridge", None), LabelBridge):
                raise ValueError("group_by_name groups tokens by the label bridge's names: the projector "
                                 "needs a label bridge")
        if question_hints < 0 or (question_hints and not identifiers):
            raise ValueError(f"question_hints name tokens by their identifiers (K >= 0 with identifiers "
                             f"set), got {question_hints}")
        self.question_hints = question_hints
        self.hint_score_digits = hint_score_digits
        self.census = census
        self.labels = list(labels)
        if census or neighbour_names:
            bridge = getattr(projector, "bridge", None)
            if not isinstance(bridge, LabelBridge):
                raise ValueError("census and neighbour_names write the label bridge's names: the projector "
                                 "needs a label bridge")
            if len(self.labels) != bridge.keys.shape[0]:
                raise ValueError(f"census and neighbour_names name tokens with the bridge's "
                                 f"{bridge.keys.shape[0]} labels, got {len(self.labels)} label names")
        self._feature_dim = feature_dim
        self.hints: QuestionHints | None = None

    def use_text_tower(self, encode_text: Callable[[list[str]], torch.Tensor]) -> None:
        """Give the model the features' text tower (``list[str] -> (P, F)``), which question hints
        embed questions with; a no-op without hints."""
        if self.question_hints:
            self.hints = QuestionHints(encode_text, self._feature_dim, self.question_hints,
                                       digits=self.hint_score_digits)

    def prompt_questions(self, questions: list[str],
                         scene_inputs: Sequence[Float[torch.Tensor, "T d_in"]]) -> list[str]:
        """The questions as the LLM reads them, each over its own scene tokens' projector inputs: with
        their hints when the model has ``question_hints``, as they are otherwise."""
        if not self.question_hints:
            return list(questions)
        return self._question_hints()(list(questions), scene_inputs)

    def hint_lines(self, questions: list[str],
                   scene_inputs: Sequence[Float[torch.Tensor, "T d_in"]]) -> list[str] | None:
        """The hint line the LLM reads after each question (what ``lerf3d ask --explain`` shows); None
        for a model without ``question_hints``."""
        if not self.question_hints:
            return None
        return self._question_hints().lines(list(questions), scene_inputs)

    def _question_hints(self) -> QuestionHints:
        if self.hints is None:
            raise ValueError("this model writes question hints: give it the features' text tower "
                             "(SceneLLM.use_text_tower) before asking or training")
        return self.hints

    def scene_inputs(self, tokens: SceneTokens) -> Float[torch.Tensor, "T d_in"]:
        """Projector input of a token set (``SceneTokens.projector_input`` with this model's encoding)."""
        inputs = tokens.projector_input(encoding=self.encoding)
        if inputs.shape[-1] != self.projector_config.d_in:
            raise ValueError(f"scene tokens give {inputs.shape[-1]} inputs per token, the projector "
                             f"takes {self.projector_config.d_in} (another feature encoder?)")
        return inputs

    def token_digits(self, tokens: SceneTokens) -> Int[torch.Tensor, "T 2"]:
        """The x and y digits this model splices after each of ``tokens`` (``position_digits``)."""
        if not self.position_digits:
            raise ValueError("this model writes no position digits (position_digits=False)")
        return position_digits(self.scene_inputs(tokens)[..., self._relative][..., :2])

    def splice(
        self,
        input_ids: Int[torch.Tensor, "B L"],
        attention_mask: Int[torch.Tensor, "B L"],
        scene_inputs: Float[torch.Tensor, "B T d_in"],
        scene_mask: Bool[torch.Tensor, "B T"],
        labels: Int[torch.Tensor, "B L"] | None,
        padding_side: PaddingSide,
    ) -> SplicedBatch:
        """Project scene inputs and splice them in at each row's placeholder (``splice_scene_tokens``)."""
        embed = self.llm.get_input_embeddings()
        text = embed(ids_for_embedding(input_ids, self.placeholder_id))  # (B, L, H)
        token_mask = scene_mask  # one entry per scene token (the layout below widens scene_mask)
        projected = self.projector(scene_inputs.to(text.dtype))  # (B, T, H) or (B, T, K, H)
        if self.position_digits:  # slots_i then x and y digits of token i
            slots = projected if projected.dim() == 4 else projected[:, :, None]  # (B, T, K, H)
            digits = position_digits(scene_inputs[..., self._relative][..., :2])  # (B, T, 2): x, y
            projected = append_positions(slots, digits, embed(torch.tensor(self._digit_ids, device=text.device)))
        if self.identifiers:  # <obj0> slots_0 <obj1> slots_1 ...
            slots = projected if projected.dim() == 4 else projected[:, :, None]  # (B, T, K, H)
            links = self._link_embeddings(scene_inputs, scene_mask) if self.token_links.any else None
            order = self.name_order(scene_inputs, scene_mask) if self.group_by_name else None
            projected, scene_mask = interleave_identifiers(slots, scene_mask,
                                                           self.identifier_embeddings(slots.shape[1]), links, order)
        elif projected.dim() == 4:  # each scene token takes K consecutive positions
            projected, scene_mask = flatten_slots(projected, scene_mask)  # (B, T * K, H), (B, T * K)
        if self.census:  # ... then " Counts: chair 2, desk 1."
            tails = [embed(torch.tensor(self.tokenizer(line, add_special_tokens=False)["input_ids"],
                                        device=text.device))
                     for line in self.census_lines(scene_inputs, token_mask)]
            projected, scene_mask = append_tails(projected, scene_mask, tails)
        return splice_scene_tokens(input_ids, attention_mask, text, projected, self.placeholder_id,
                                   labels, scene_mask, padding_side)

    def name_order(self, scene_inputs: Float[torch.Tensor, "B T d_in"],
                   scene_mask: Bool[torch.Tensor, "B T"]) -> Int[torch.Tensor, "B T"]:
        """The order ``group_by_name`` lays each row's tokens out in: grouped by the label bridge's
        best name for each token's feature, west to east (the tokens' own order) within a name."""
        return name_order(self.name_indices(scene_inputs), scene_mask)

    def census_lines(self, scene_inputs: Float[torch.Tensor, "B T d_in"],
                     scene_mask: Bool[torch.Tensor, "B T"]) -> list[str]:
        """The census line each row's scene block ends with (``census``): how many of its real tokens
        the label bridge gives each name (:func:`~lerf3d.scene_llm.model.census.census_text`)."""
        if not self.labels:
            raise ValueError("the census names tokens by the label bridge's labels: this model has none")
        names = self.name_indices(scene_inputs).tolist()
        counts = scene_mask.sum(dim=1).tolist()
        return [census_text([self.labels[k] for k in row[:n]]) for row, n in zip(names, counts, strict=True)]

    def name_indices(self, scene_inputs: Float[torch.Tensor, "... T d_in"]) -> Int[torch.Tensor, "... T"]:
        """Index among the label bridge's labels of the name spelled in each token's slots (its
        feature's nearest label); needs a label bridge."""
        bridge = getattr(self.projector, "bridge", None)
        if not isinstance(bridge, LabelBridge):
            raise ValueError("the tokens' names come from a label bridge: this model has none "
                             "(bridge.enabled with kind = 'labels')")
        return bridge.nearest(scene_inputs[..., : bridge.in_features])

    def _single_token(self, text: str) -> int:
        """The id of ``text``, which the tokenizer must keep as one token (a digit)."""
        ids = self.tokenizer(text, add_special_tokens=False)["input_ids"]
        if len(ids) != 1:
            raise ValueError(f"{self.llm_name}'s tokenizer splits {text!r} into {len(ids)} tokens; position "
                             "digits need one token per digit")
        return ids[0]

    def _text_embeddings(self, texts: Sequence[str]) -> list[Float[torch.Tensor, "J H"]]:
        """The LLM's input embeddings of each of ``texts`` ("" gives none), token ids cached."""
        embed = self.llm.get_input_embeddings()
        for text in set(texts) - self._text_ids.keys():
            self._text_ids[text] = self.tokenizer(text, add_special_tokens=False)["input_ids"] if text else []
        table = {text: embed(torch.tensor(self._text_ids[text], dtype=torch.long, device=embed.weight.device))
                 for text in set(texts)}
        return [table[text] for text in texts]

    def identifier_embeddings(self, count: int) -> list[Float[torch.Tensor, "J H"]]:
        """The LLM's input embeddings of ``<obj0>`` ... ``<obj{count-1}>``."""
        return self._text_embeddings([identifier_text(k) for k in range(count)])

    def _link_embeddings(self, scene_inputs: Float[torch.Tensor, "B T d_in"],
                         scene_mask: Bool[torch.Tensor, "B T"]) -> list[list[Float[torch.Tensor, "J H"]]]:
        """The LLM's embeddings of each token's links (:attr:`token_links`), each link's text
        tokenised on its own, one lookup per row."""
        names = self.token_names(scene_inputs) if self.neighbour_names else None
        out = []
        for row in self.token_links.texts(scene_inputs, scene_mask, names):
            embedded = iter(self._text_embeddings([text for texts in row for text in texts]))
            out.append([torch.cat([next(embedded) for _ in texts]) for texts in row])
        return out

    def token_names(self, scene_inputs: Float[torch.Tensor, "B T d_in"]) -> list[list[str]]:
        """The label bridge's name for each token (:meth:`name_indices`), as links and the census write it."""
        return [[self.labels[k] for k in row] for row in self.name_indices(scene_inputs).tolist()]

    def forward(self, batch: SceneBatch) -> TokenLoss:
        spliced = self.splice(batch.input_ids, batch.attention_mask, batch.scene_inputs,
                               batch.scene_mask, batch.labels, "right")
        targets = spliced.labels[:, 1:]  # position t predicts token t + 1
        keep = targets != IGNORE_INDEX  # (B, L' - 1): answers only, a few tokens per example
        # right padding is never attended by a real position: no mask, the kernel's causal path
        mask, positions = causal_only(spliced.attention_mask, spliced.position_ids)
        if self.sparse_logits:
            # the vocabulary projection is ~20 % of a small LLM's compute when applied everywhere
            # (SmolLM2: 49152 x 576); only the labelled positions need it
            hidden = self.llm.get_decoder()(inputs_embeds=spliced.inputs_embeds, attention_mask=mask,
                                            position_ids=positions).last_hidden_state  # (B, L', H)
            logits = self.llm.get_output_embeddings()(hidden[:, :-1][keep])  # (n, V)
        else:
            logits = self.llm(inputs_embeds=spliced.inputs_embeds, attention_mask=mask,
                              position_ids=positions).logits[:, :-1][keep]  # (n, V)
        loss_sum = F.cross_entropy(logits.float(), targets[keep], reduction="sum")
        return TokenLoss(loss_sum, int(keep.sum()))

    def prefill(self, tokens: Sequence[SceneTokens | None], questions: Sequence[str]) -> SplicedBatch:
        """The prompt of each question as input embeddings, left-padded for generation, scene tokens
        spliced in: what the LLM's first decoding step reads. ``None`` token sets ask without the scene
        (no placeholder in the prompt); all entries must agree."""
        if len(tokens) != len(questions) or not questions:
            raise ValueError(f"need one token set per question, got {len(tokens)} and {len(questions)}")
        with_scene = tokens[0] is not None
        if any((t is not None) != with_scene for t in tokens):
            raise ValueError("mix of questions with and without scene tokens in one call")
        device = self.llm.get_input_embeddings().weight.device
        scene_inputs = [self.scene_inputs(t).to(device) for t in tokens] if with_scene else []  # type: ignore[arg-type]
        if with_scene:
            questions = self.prompt_questions(list(questions), scene_inputs)
        prompts = [self.tokenizer(prompt_text(self.tokenizer, q, with_scene),
                                  add_special_tokens=False)["input_ids"] for q in questions]
        ids, mask = left_pad(prompts, self.tokenizer.pad_token_id, device)
        if with_scene:
            inputs, scene_mask = pad_scene_tokens(scene_inputs)
            return self.splice(ids, mask, inputs, scene_mask, None, "left")
        positions = (mask.cumsum(1) - 1).clamp_min(0) * mask
        return SplicedBatch(self.llm.get_input_embeddings()(ids), mask, positions, None,
                            torch.zeros(len(questions), dtype=torch.long, device=device),
                            torch.zeros(len(questions), dtype=torch.long, device=device))

    @torch.no_grad()
    def answer(self, tokens: Sequence[SceneTokens | None], questions: Sequence[str],
               max_new_tokens: int = 16) -> list[str]:
        """Greedy answers; a ``None`` token set asks without the scene (the text-only baseline).
        All entries must agree: all with scenes or all without (checked by :meth:`prefill`)."""
        spliced = self.prefill(tokens, questions)
        out = greedy_decode(self.llm, spliced.inputs_embeds, spliced.attention_mask, spliced.position_ids,
                            max_new_tokens, stop_token_ids(self.tokenizer))
        return [self.tokenizer.decode(row, skip_special_tokens=True).strip() for row in out]

    def generate(self, scene_tokens: SceneTokens | None, question: str, max_new_tokens: int = 16) -> str:
        """The greedy answer to one question."""
        return self.answer([scene_tokens], [question], max_new_tokens)[0]
