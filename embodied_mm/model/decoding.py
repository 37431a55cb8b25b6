"""Decoding one plan step: grammar-constrained (what the planner uses) and plain greedy.

Constrained: every step the grammar allows in the scene (`pick(obj_1)`, …, `cannot()`) is
tokenised as the model is trained to write it (` {step}` + EOS) into a token trie. Decoding
walks the trie greedily. At a branching node only the allowed next tokens are scored (their
rows of the LM head, not the 262k vocabulary); a run of forced tokens (one child each) is
appended without scoring and fed to the LLM in one forward pass with the KV cache. So the
number of LLM calls is at most the number of branching points on the chosen path, and the
result is always one of the valid strings: it parses with `parse_step` by construction.

Speculation (`StepDecoder(speculate=True)`, the default): the first forward pass reads, after
the prompt, a small token tree (`token_tree`): each step name's forced continuation up to its
next decision (` pick(obj_`, ` place` then both `(obj_` and `_at(`, ` push(obj_`), every branch
attending only to the prompt and its own earlier tokens (a tree attention mask, positions
continuing the prompt's). The object or zone is then scored from that same pass, so a
`pick(obj_3)` costs one LLM call instead of two; the ~15 extra positions cost far less than a
second pass. Only a decision below those (a push direction, `front_left`) feeds the chosen
tokens again, after the tree's entries are dropped from the KV cache. Models without per-layer
masks (no `layer_types` in their config) and prompts near the sliding window decode without it.

Which objects a step may name is a `StepScope`: by default any object of the scene; a
planner passes `StepScope.of(obs)`, which also leaves out the steps the executor
refuses before moving (picking or pushing a bowl, placing the held block on itself).

Plain greedy (`greedy_decode`) is the unconstrained reference for benchmarks: full
vocabulary, one token per forward, stop at EOS; its text may not parse.

Example:
    >>> valid_steps(["obj_1"])[:3]
    ['pick(obj_1)', 'place(obj_1)', 'place_at(left)']
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import torch

from embodied_mm.plan_language import GRAMMAR, OBJECT, REFUSAL, allowed_values
from embodied_mm.scene import held_block
from embodied_mm.types import Observation, SkillCall

if TYPE_CHECKING:
    from embodied_mm.model.language_model import CausalLM

MOVING_STEPS = ("pick", "push")  # their object must be a block (the executor's `block()`)
# Below a step name, a branching point with at most this many children is speculated through
# too (` place` → `(obj_` or `_at(`); wider ones (objects, zones) are decided where they start.
SPECULATE_FANOUT = 2


@dataclass(frozen=True)
class StepScope:
    """The objects a step may name in one scene.

    Attributes:
        names: the scene's objects (`obj_1 … obj_N`, or the observation's own names).
        movable: the objects `pick` and `push` may name; None = any of `names`.
        held: the block in the gripper, which `place` may not name; None = no restriction.
    """

    names: tuple[str, ...]
    movable: tuple[str, ...] | None = None
    held: str | None = None

    @classmethod
    def of(cls, obs: Observation, feasible_only: bool = True) -> StepScope:
        """The scope of the steps the executor would start in `obs`: `pick`/`push` name a
        block, and `place` does not name the held block (both are refused before anything
        moves, with "only blocks can be moved" / "cannot place … on itself"). With
        `feasible_only=False`, any object of `obs` anywhere."""
        if not feasible_only:
            return cls(tuple(obs.object_names))
        held = held_block(obs)
        return cls(tuple(obs.object_names),
                   tuple(o.name for o in obs.objects if o.kind == "block"),
                   held.name if held is not None else None)

    def objects_for(self, step: str) -> tuple[str, ...]:
        """The objects `step`'s object argument may name."""
        if step in MOVING_STEPS and self.movable is not None:
            return self.movable
        if step == "place" and self.held is not None:
            return tuple(n for n in self.names if n != self.held)
        return self.names


def as_scope(objects: StepScope | Sequence[str]) -> StepScope:
    """`objects` as a scope; a plain name list allows every object everywhere."""
    return objects if isinstance(objects, StepScope) else StepScope(tuple(objects))


def valid_steps(objects: StepScope | Sequence[str]) -> list[str]:
    """Every step text the grammar allows in a scene with `objects` (names or a scope)."""
    scope = as_scope(objects)
    return [str(SkillCall(name, args)) for name, kinds in GRAMMAR.items()
            for args in itertools.product(*(
                scope.objects_for(name) if k == OBJECT else allowed_values(k, scope.names)
                for k in kinds))]


@dataclass
class TrieNode:
    """A token-trie node: children by token id; a leaf holds its step text."""

    children: dict[int, TrieNode] = field(default_factory=dict)
    step: str | None = None
    choices: torch.Tensor | None = None  # (n_children,) child token ids, set when branching
    offsets: torch.Tensor | None = None  # (n_children,) added to their scores (`cannot_bias`)

    def branching(self) -> bool:
        return len(self.children) > 1


@dataclass(frozen=True)
class TokenTree:
    """Tokens read with the prompt in one pass (see the module doc). Entry i is `tokens[i]`,
    read after entry `parents[i]` (-1: right after the prompt); `nodes[i]` is the trie node it
    leads to, whose choice the hidden state after entry i scores."""

    tokens: tuple[int, ...]
    parents: tuple[int, ...]
    nodes: tuple[TrieNode, ...]

    def depths(self) -> list[int]:
        """Each entry's distance from the prompt (0 for a step name)."""
        depth: list[int] = []
        for parent in self.parents:
            depth.append(0 if parent < 0 else depth[parent] + 1)
        return depth


def token_tree(root: TrieNode) -> TokenTree:
    """The speculated continuations of `root`'s choices: for each child, its forced tokens up to
    the next branching point that lies below it (a child that only leads to a leaf needs no
    more LLM calls and is left out); through one more branching point of at most
    `SPECULATE_FANOUT` children."""
    tokens: list[int] = []
    parents: list[int] = []
    nodes: list[TrieNode] = []

    def decides_later(node: TrieNode) -> bool:
        while not node.branching():
            if node.step is not None:
                return False
            node = next(iter(node.children.values()))
        return True

    def expand(node: TrieNode, parent: int, widened: bool) -> None:
        if node.step is not None:
            return
        below_root = parent >= 0
        if node.branching() and below_root and (widened or len(node.children) > SPECULATE_FANOUT):
            return  # decided from the hidden state after `parent`
        for token, child in node.children.items():
            if decides_later(child):
                tokens.append(token)
                parents.append(parent)
                nodes.append(child)
                expand(child, len(tokens) - 1, widened or (node.branching() and below_root))

    if root.branching():
        expand(root, -1, False)
    return TokenTree(tuple(tokens), tuple(parents), tuple(nodes))


def steps_below(node: TrieNode) -> set[str]:
    """The step texts of the leaves under `node`."""
    found, stack = set(), [node]
    while stack:
        node = stack.pop()
        if node.step is not None:
            found.add(node.step)
        stack.extend(node.children.values())
    return found


def penalise_refusal(root: TrieNode, bias: float) -> None:
    """Lowers the score of `root`'s choice that leads only to `cannot()` by `bias` logits
    (raises it when `bias` < 0; no-op when no choice leads only there, or `bias` is 0)."""
    if not bias or not root.branching():
        return
    refusal = [steps_below(child) == {REFUSAL} for child in root.children.values()]
    if any(refusal):
        root.offsets = -bias * torch.tensor(refusal, dtype=torch.float32)


def offset(scores: torch.Tensor, node: TrieNode) -> torch.Tensor:
    """`scores` of `node`'s choices plus its `offsets`, if any."""
    if node.offsets is None:
        return scores
    return scores + node.offsets.to(scores.device, scores.dtype)


def tree_attention(past: int, prompt: int, tree: TokenTree) -> tuple[torch.Tensor, torch.Tensor]:
    """(1, 1, Q, past + Q) boolean mask and (1, Q) positions for `prompt` new prompt positions
    after `past` cached ones followed by `tree`'s entries (Q = prompt + entries): the prompt is
    causal, each entry sees the whole prompt, its ancestors and itself."""
    n = len(tree.tokens)
    q = prompt + n
    mask = torch.zeros(q, past + q, dtype=torch.bool)
    mask[:, :past] = True
    mask[:prompt, past:past + prompt] = torch.ones(prompt, prompt, dtype=torch.bool).tril()
    mask[prompt:, past:past + prompt] = True
    start = past + prompt
    for i, parent in enumerate(tree.parents):
        if parent >= 0:
            mask[prompt + i, start:] = mask[prompt + parent, start:]
        mask[prompt + i, start + i] = True
    positions = torch.cat([torch.arange(past, start), start + torch.tensor(tree.depths(),
                                                                          dtype=torch.long)])
    return mask[None, None], positions[None]


def build_trie(steps: Sequence[str], encode: Callable[[str], list[int]]) -> TrieNode:
    """A trie over `encode(step)` for each step; every token sequence must end in a leaf.

    Raises:
        ValueError: one step's tokens are a prefix of another's (add a terminator).
    """
    root = TrieNode()
    for step in steps:
        node = root
        for token in encode(step):
            if node.step is not None:
                raise ValueError(f"tokens of {node.step!r} are a prefix of {step!r}'s")
            node = node.children.setdefault(token, TrieNode())
        if node.children or node.step is not None:
            raise ValueError(f"tokens of {step!r} are a prefix of another step's")
        node.step = step
    stack = [root]
    while stack:
        node = stack.pop()
        if node.branching():
            node.choices = torch.tensor(list(node.children))
        stack.extend(node.children.values())
    return root


class StepDecoder:
    """Grammar-constrained greedy decoding of one plan step with a `CausalLM` (`PalmE` or
    the text baseline's `TextLM`).

    Tries are built once per scope (object names, or a `StepScope`) and reused.
    `forward_calls` counts LLM forward passes and `last_timing` splits the last decision
    into the prompt's forward pass (`prefill_s`) and the rest (`decode_s`), for tests and
    benchmarks. `last_margin` is the
    smallest gap between the best and the second-best allowed token's score over the last
    decision's branching points (inf without any): how close the call was.

    `cannot_bias` (logits, ≥ 0 lowers refusals) is subtracted from the score of `cannot()`
    where a step begins: a prior correction that trades refusals of feasible requests against
    refusals of impossible ones without retraining (docs/palme.md, "Refusal bias").
    """

    def __init__(self, model: CausalLM, speculate: bool = True, cannot_bias: float = 0.0) -> None:
        self.model = model
        self.cannot_bias = float(cannot_bias)
        self._compiled: dict[Hashable, tuple[TrieNode, TokenTree]] = {}  # trie, its token tree
        config = model.llm.config
        self.speculate = speculate and bool(getattr(config, "layer_types", None))
        self._window = getattr(config, "sliding_window", None) or float("inf")
        self.forward_calls = 0
        self.last_timing: dict[str, float] = {}
        self.last_margin = float("inf")

    def key(self, objects: StepScope | Sequence[str]) -> Hashable:
        """The cache key of the trie for `objects` (names or scope)."""
        return as_scope(objects)

    def steps(self, key: Hashable) -> Sequence[str]:
        """The texts the trie for `key` allows: here, the valid plan steps of the scope."""
        return valid_steps(key)

    def _compile(self, objects: StepScope | Sequence[str]) -> tuple[TrieNode, TokenTree]:
        """The (cached) trie of the allowed texts for `objects`, and its token tree."""
        key = self.key(objects)
        if key not in self._compiled:
            trie = build_trie(self.steps(key), self.model.target_ids)
            penalise_refusal(trie, self.cannot_bias)
            self._compiled[key] = trie, token_tree(trie)
        return self._compiled[key]

    def trie(self, objects: StepScope | Sequence[str]) -> TrieNode:
        """The (cached) trie of the valid steps in a scene with `objects` (names or scope)."""
        return self._compile(objects)[0]

    def scores(self, hidden: torch.Tensor, choices: torch.Tensor) -> torch.Tensor:
        """(len(choices),) LM-head scores of the allowed next tokens given a (H,) state."""
        return self.model.token_logits(hidden, choices.to(hidden.device))

    def _forward(self, embeds: torch.Tensor, cache):
        hidden, cache = self.model.hidden_states(embeds, cache=cache, use_cache=True)
        self.forward_calls += 1
        return hidden[0, -1], cache  # (H,) state after the last fed position

    def _prefill(self, prompt_embeds: torch.Tensor, tree: TokenTree, cache):
        """The prompt's forward pass, with `tree` when speculating: (state after the prompt,
        KV cache, trie node id → state after its tree entry, entries cached)."""
        past = cache.get_seq_length() if cache is not None else 0
        prompt = prompt_embeds.shape[1]
        if not (self.speculate and tree.tokens and past + prompt + len(tree.tokens) < self._window):
            hidden, cache = self._forward(prompt_embeds, cache)
            return hidden, cache, {}, 0
        ids = torch.tensor(tree.tokens, device=self.model.device)
        embeds = torch.cat([prompt_embeds, self.model.embed_tokens(ids)[None].to(
            prompt_embeds.dtype)], dim=1)
        mask, positions = tree_attention(past, prompt, tree)
        mask, positions = mask.to(self.model.device), positions.to(self.model.device)
        masks = {kind: mask for kind in set(self.model.llm.config.layer_types)}
        hidden, cache = self.model.hidden_states(embeds, attention_mask=masks, cache=cache,
                                                 use_cache=True, position_ids=positions)
        self.forward_calls += 1
        states = {id(node): hidden[0, prompt + i] for i, node in enumerate(tree.nodes)}
        return hidden[0, prompt - 1], cache, states, len(tree.tokens)

    @torch.no_grad()
    def decode(self, prompt_embeds: torch.Tensor, objects: StepScope | Sequence[str],
               cache=None) -> str:
        """The best-scoring valid step, greedy token by token.

        Args:
            prompt_embeds: (1, T, H) prompt embeddings (`PalmE.prompt_embeds`).
            objects: the scene's objects, `obj_1 … obj_N`, or a `StepScope`.
            cache: KV cache of a prompt prefix that `prompt_embeds` continues (it is extended
                in place: pass a copy to reuse the prefix).

        Returns:
            Plan text that parses with `parse_step(text, names)`.
        """
        start = time.perf_counter()
        node, tree = self._compile(objects)
        hidden, cache, speculated, tree_entries = self._prefill(prompt_embeds, tree, cache)
        prefilled = time.perf_counter()
        pending: list[int] = []  # chosen tokens the LLM has not read yet (outside the tree)
        margin = float("inf")
        while node.step is None:
            if node.branching():
                if pending and id(node) in speculated:  # read with the prompt, in the tree
                    hidden = speculated[id(node)]
                elif pending:
                    if tree_entries:  # drop the tree's entries: the cache is the prompt's again
                        cache.crop(-tree_entries)
                        tree_entries, speculated = 0, {}
                    ids = torch.tensor(pending, device=self.model.device)
                    hidden, cache = self._forward(self.model.embed_tokens(ids)[None], cache)
                    pending = []
                scores = offset(self.scores(hidden, node.choices), node)
                best, runner_up = scores.topk(2).values.tolist()
                margin = min(margin, best - runner_up)
                token = int(node.choices[int(scores.argmax())])
            else:
                token = next(iter(node.children))
            pending.append(token)
            node = node.children[token]
        self.last_timing = {"prefill_s": prefilled - start,
                            "decode_s": time.perf_counter() - prefilled}
        self.last_margin = margin
        return node.step


@torch.no_grad()
def greedy_decode(model: CausalLM, prompt_embeds: torch.Tensor, max_new_tokens: int = 24) -> str:
    """Unconstrained greedy decoding over the full vocabulary (a benchmark reference).

    Args:
        model: the PaLM-E model (or any `CausalLM`).
        prompt_embeds: (1, T, H) sentence embeddings.
        max_new_tokens: stop after this many tokens without a terminator.

    Returns:
        The decoded text, stripped; it may not be a valid step.
    """
    hidden, cache = model.hidden_states(prompt_embeds, use_cache=True)
    tokens: list[int] = []
    for _ in range(max_new_tokens):
        token = int(model.token_logits(hidden[0, -1]).argmax())
        if token == model.terminator:
            break
        tokens.append(token)
        ids = torch.tensor([[token]], device=model.device)
        hidden, cache = model.hidden_states(model.embed_tokens(ids), cache=cache, use_cache=True)
    return model.tokenizer.decode(tokens).strip()


@torch.no_grad()
def reference_decode(decoder: StepDecoder, prompt_embeds: torch.Tensor,
                     objects: StepScope | Sequence[str]) -> str:
    """The same choice as `decoder.decode`, computed the slow, obvious way (a check that the
    optimisations change speed, not answers): at every branching point the whole prompt plus
    the tokens chosen so far is run again without a cache, the full vocabulary is scored, and
    the best allowed token is taken."""
    model = decoder.model
    node, chosen = decoder.trie(objects), []
    while node.step is None:
        if node.branching():
            ids = torch.tensor(chosen, dtype=torch.long, device=model.device)
            embeds = torch.cat([prompt_embeds, model.embed_tokens(ids)[None]], dim=1)
            logits = model.token_logits(model.hidden_states(embeds)[0][0, -1])  # (V,)
            allowed = node.choices.to(logits.device)
            token = int(allowed[offset(logits[allowed], node).argmax()])
        else:
            token = next(iter(node.children))
        chosen.append(token)
        node = node.children[token]
    return node.step
