"""Constrained decoding for `transformers` generation: xgrammar grammars, one matcher per row.

`Grammars` compiles regular expressions for one tokenizer and caches them;
`ConstrainRows` is a logits processor for one batch whose rows each follow their own
grammar, or none, so requests with different constraints share a batch. xgrammar
matches the raw token strings; our byte-level BPE tokens carry their own spaces, so a
codec's regular expression and the decoded text agree.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import xgrammar as xgr
from transformers import LogitsProcessor, PreTrainedTokenizerBase

__all__ = ["ConstrainRows", "Grammars"]


class Grammars:
    """xgrammar grammars compiled for one tokenizer, cached by regular expression."""

    def __init__(
        self, tokenizer: PreTrainedTokenizerBase, vocab_size: int, stop_ids: Sequence[int]
    ) -> None:
        info = xgr.TokenizerInfo.from_huggingface(
            tokenizer, vocab_size=vocab_size, stop_token_ids=list(stop_ids)
        )
        self._compiler = xgr.GrammarCompiler(info, max_threads=1, cache_enabled=False)
        self._cache: dict[str, xgr.CompiledGrammar] = {}
        self.vocab_size = vocab_size

    def compile(self, regex: str) -> xgr.CompiledGrammar:
        """The compiled grammar of `regex` (as `Constraint.for_engine` writes it)."""
        if regex not in self._cache:
            if len(self._cache) >= 256:  # bounded: NegPred alternatives carry the phrase
                self._cache.clear()
            grammar = xgr.Grammar.from_regex(regex)
            self._cache[regex] = self._compiler.compile_grammar(grammar)
        return self._cache[regex]


class ConstrainRows(LogitsProcessor):
    """Masks the logits of constrained rows with one xgrammar matcher per row."""

    def __init__(self, grammars: Sequence[xgr.CompiledGrammar | None], vocab_size: int) -> None:
        self.matchers = [None if g is None else xgr.GrammarMatcher(g) for g in grammars]
        self.bitmask = xgr.allocate_token_bitmask(len(grammars), vocab_size)
        self.started = False

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        """Advance each row's matcher by its last token, then mask the next token's logits."""
        if self.started:
            for i, matcher in enumerate(self.matchers):
                if matcher is None or matcher.is_terminated():
                    continue
                # Refused: the padding after a row that stopped at its own limit.
                if not matcher.accept_token(int(input_ids[i, -1])):
                    self.matchers[i] = None
        self.started = True
        rows = []
        for i, matcher in enumerate(self.matchers):
            if matcher is not None and not matcher.is_terminated():
                matcher.fill_next_token_bitmask(self.bitmask, i)
                rows.append(i)
        if rows:
            xgr.apply_token_bitmask_inplace(scores, self.bitmask, indices=rows)
        return scores
