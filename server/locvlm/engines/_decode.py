"""`RunningRows`: the decode state of continuous batching, for a decoder-only model.

    rows = RunningRows(model, vocab_size=…, eos=[2])
    rows.join([Row(handle, limit=16)], inputs)   # prompts prefilled together
    while rows:
        rows.choose()                            # each row's next token (greedy)
        rows.keep([i for i, r in enumerate(rows.rows) if not rows.finished(r)])
        if rows:
            rows.advance()                       # the new tokens through the model

Rows join between steps: their prompts are prefilled as one left-padded batch, and
their key/value caches are left-padded to the running rows' length and stacked under
theirs. A row leaves as soon as it is complete, and the columns no row uses any more
are cut off the left. Each row keeps its own positions (its real tokens so far), so
its answer is the one it would get alone: the same masking as a left-padded
`generate`, and what `test_transformers_engine` checks.

Constrained rows follow their own xgrammar matcher (a grammar, or none, per row), so
rows with different constraints, or none, run together.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
import xgrammar as xgr
from torch.nn import functional
from transformers import DynamicCache

__all__ = ["Row", "RunningRows"]


@dataclass(eq=False)
class Row:
    """One answer being generated: its caller's handle and what it has made so far."""

    handle: Any  # the engine's record of the request
    limit: int  # the most tokens it may make
    grammar: xgr.CompiledGrammar | None = None
    logprobs: bool = False  # keep each chosen token's log-probability (of the raw logits)
    tokens: list[int] = field(default_factory=list)
    scores: list[float] = field(default_factory=list)
    matcher: xgr.GrammarMatcher | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        if self.grammar is not None:
            self.matcher = xgr.GrammarMatcher(self.grammar)


class RunningRows:
    """The rows generating now, their key/value cache and their next-token logits."""

    def __init__(self, model: Any, vocab_size: int, eos: Sequence[int]) -> None:
        self._model, self._vocab, self._eos = model, vocab_size, frozenset(eos)
        self.rows: list[Row] = []
        self._cache: DynamicCache | None = None
        self._mask = torch.zeros(0, 0, dtype=torch.long)  # [rows, columns]: 1 = a real token
        self._logits = torch.zeros(0, vocab_size)  # [rows, vocab]: each row's next token's

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def width(self) -> int:
        """Columns of the cache: the longest running row's tokens, prompt and answer."""
        return int(self._mask.shape[1])

    def join(self, rows: Sequence[Row], inputs: dict[str, Any]) -> None:
        """Prefill `rows` (left-padded `inputs`, one row each) and add them to the batch.

        `inputs` may hold a `cache` of their first columns already (`model.prefix`): only
        the columns after it are prefilled then.
        """
        inputs = dict(inputs)
        mask = inputs["attention_mask"].long()
        positions = (mask.cumsum(-1) - 1).masked_fill(mask == 0, 0)
        cache = inputs.pop("cache", None)
        cache = DynamicCache() if cache is None else cache
        done = cache.get_seq_length()
        if done:
            inputs["input_ids"], positions = inputs["input_ids"][:, done:], positions[:, done:]
        out = self._model(**inputs, position_ids=positions, cache=cache, use_cache=True,
                          logits_to_keep=1)  # fmt: skip
        logits = out.logits[:, -1].float()
        if self._cache is None:
            self._cache, self._mask, self._logits = cache, mask, logits
            self.rows = list(rows)
            return
        width = max(self._mask.shape[1], mask.shape[1])

        def left(t: torch.Tensor, columns: int) -> torch.Tensor:  # [rows, heads, columns, dim]
            return functional.pad(t, (0, 0, width - columns, 0))

        ours, theirs = self._mask.shape[1], mask.shape[1]
        self._cache = DynamicCache(ddp_cache_data=[
            (torch.cat([left(k0, ours), left(k1, theirs)]),
             torch.cat([left(v0, ours), left(v1, theirs)]))
            for (k0, v0, _), (k1, v1, _) in zip(self._cache, cache, strict=True)
        ])  # fmt: skip
        self._mask = torch.cat([functional.pad(self._mask, (width - ours, 0)),
                                functional.pad(mask, (width - theirs, 0))])  # fmt: skip
        self._logits = torch.cat([self._logits, logits])
        self.rows += rows

    def choose(self) -> None:
        """Append each row's next token: the best its grammar allows (greedy)."""
        logits, rows = self._logits, self.rows
        raw = logits.log_softmax(-1) if any(r.logprobs for r in rows) else None
        constrained = [
            i for i, r in enumerate(rows) if r.matcher is not None and not r.matcher.is_terminated()
        ]
        masked = set(constrained)
        if constrained:
            bitmask = xgr.allocate_token_bitmask(len(rows), self._vocab)
            for i in constrained:
                rows[i].matcher.fill_next_token_bitmask(bitmask, i)  # type: ignore[union-attr]
            xgr.apply_token_bitmask_inplace(logits, bitmask, indices=constrained)
        for i, (row, token) in enumerate(zip(rows, logits.argmax(-1).tolist(), strict=True)):
            row.tokens.append(token)
            if raw is not None and row.logprobs:
                row.scores.append(float(raw[i, token]))
            if i in masked and not row.matcher.accept_token(token):  # type: ignore[union-attr]
                row.matcher = None  # cannot happen within its mask; unconstrained from here

    def finished(self, row: Row) -> bool:
        """It made its end token, or as many tokens as it may."""
        return bool(row.tokens) and (row.tokens[-1] in self._eos or len(row.tokens) >= row.limit)

    def keep(self, indices: Sequence[int]) -> None:
        """Keep only the rows at `indices` (in this order); drop the columns none uses."""
        if len(indices) == len(self.rows):
            return
        if not indices:
            self.rows, self._cache = [], None
            self._mask, self._logits = self._mask[:0, :0], self._logits[:0]
            return
        at = torch.tensor(list(indices))
        mask = self._mask[at]
        start = int(mask.any(0).nonzero()[0])  # every row's real tokens end at the right
        assert self._cache is not None
        self._cache = DynamicCache(
            ddp_cache_data=[(k[at, :, start:], v[at, :, start:]) for k, v, _ in self._cache]
        )
        self._mask, self._logits = mask[:, start:], self._logits[at]
        self.rows = [self.rows[i] for i in indices]

    def advance(self) -> None:
        """Run each row's newest token through the model: the next step's logits."""
        tokens = torch.tensor([[r.tokens[-1]] for r in self.rows])
        self._mask = functional.pad(self._mask, (0, 1), value=1)
        positions = self._mask.sum(-1, keepdim=True) - 1
        out = self._model(input_ids=tokens, attention_mask=self._mask, position_ids=positions,
                          cache=self._cache, use_cache=True, logits_to_keep=1)  # fmt: skip
        self._logits = out.logits[:, -1].float()
