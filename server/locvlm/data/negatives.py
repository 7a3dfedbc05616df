"""POPE-style negatives: which absent category to ask about (Li et al. 2023, "POPE").

    sampler = NegativeSampler.from_records(dataset.records(), dataset.category_names())
    sampler.using("adversarial").sample(present=["dog", "person"], n=3, rng=rng)

Three strategies rank the categories an image does not show, and a negative is drawn
from the top of the ranking:

- `random`: every absent category is equally likely;
- `popular`: the `top_k` absent categories most frequent in the dataset;
- `adversarial`: the `top_k` absent categories that co-occur most often with the
  present ones (ties broken by frequency), the hardest to reject.

With `top_k` equal to the number asked for, popular and adversarial are POPE's exact
protocol; a larger `top_k` trades hardness for variety in training data.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from locvlm.data.coco import CocoDataset, ImageRecord

__all__ = ["STRATEGIES", "NegativeSampler", "crowd_categories"]


_Ranking = Callable[["NegativeSampler", Collection[str]], list[str]]


def _random(sampler: NegativeSampler, present: Collection[str]) -> list[str]:
    return [c for c in sampler.vocabulary if c not in present]


def _popular(sampler: NegativeSampler, present: Collection[str]) -> list[str]:
    absent = _random(sampler, present)
    return sorted(absent, key=lambda c: -sampler.frequency.get(c, 0))  # stable: vocabulary order


def _adversarial(sampler: NegativeSampler, present: Collection[str]) -> list[str]:
    absent = _popular(sampler, present)
    rows = [sampler.cooccurrence.get(p, Counter()) for p in present]
    return sorted(absent, key=lambda c: -sum(row.get(c, 0) for row in rows))  # stable: frequency


STRATEGIES: dict[str, _Ranking] = {
    "random": _random,
    "popular": _popular,
    "adversarial": _adversarial,
}
"""Each strategy's ranking of the absent categories, best negative first."""

# Strategies whose pool is the whole ranking rather than its top.
_UNRANKED = frozenset({"random"})


@dataclass(frozen=True)
class NegativeSampler:
    """Draws absent categories for an image, given the categories it shows.

    Deterministic: the same `rng` state gives the same negatives.
    """

    vocabulary: tuple[str, ...]
    frequency: Mapping[str, int] = field(default_factory=Counter)
    """Number of images that show each category."""
    cooccurrence: Mapping[str, Counter[str]] = field(default_factory=dict)
    """`cooccurrence[a][b]`: number of images that show both `a` and `b` (a != b)."""
    strategy: str = "random"
    top_k: int = 3  # POPE's protocol asks 3 negatives per image from the top 3

    def __post_init__(self) -> None:
        if self.strategy not in STRATEGIES:
            known = ", ".join(STRATEGIES)
            raise ValueError(f"unknown negatives strategy {self.strategy!r}; known: {known}")
        if self.top_k < 1:
            raise ValueError(f"top_k must be at least 1, got {self.top_k}")

    @classmethod
    def from_records(
        cls,
        records: Iterable[ImageRecord],
        vocabulary: Sequence[str] | None = None,
        strategy: str = "random",
        top_k: int = 3,
    ) -> NegativeSampler:
        """Count category frequencies and co-occurrences over `records`.

        `vocabulary` defaults to the categories seen, in order of first appearance.
        """
        frequency: Counter[str] = Counter()
        cooccurrence: dict[str, Counter[str]] = {}
        for record in records:
            shown = list(dict.fromkeys(category for category, _ in record.objects))
            frequency.update(shown)
            for a in shown:
                cooccurrence.setdefault(a, Counter()).update(b for b in shown if b != a)
        words = tuple(vocabulary) if vocabulary is not None else tuple(frequency)
        return cls(words, frequency, cooccurrence, strategy, top_k)

    def using(self, strategy: str) -> NegativeSampler:
        """The same statistics with another strategy."""
        return replace(self, strategy=strategy)

    def ranked(self, present: Collection[str]) -> list[str]:
        """Every absent vocabulary entry, best negative first under the strategy."""
        return STRATEGIES[self.strategy](self, set(present))

    def pool(self, present: Collection[str], n: int = 1) -> list[str]:
        """The absent categories a negative is drawn from when `n` are wanted."""
        ranked = self.ranked(present)
        return ranked if self.strategy in _UNRANKED else ranked[: max(n, self.top_k)]

    def sample(self, present: Collection[str], n: int, rng: random.Random) -> list[str]:
        """Up to `n` distinct absent categories from the pool, in random order."""
        pool = self.pool(present, n)
        return rng.sample(pool, k=min(n, len(pool)))


def crowd_categories(dataset: CocoDataset) -> dict[int, frozenset[str]]:
    """Per image id, the categories that a crowd region (`iscrowd=1`) shows.

    Records leave crowd regions out, yet such a category is in the image: it must never
    be asked about as absent, counted or grounded.
    """
    names = {c.id: c.name for c in dataset.categories}
    found: dict[int, set[str]] = {}
    for ann in dataset.annotations:
        if ann.iscrowd:
            found.setdefault(ann.image_id, set()).add(names[ann.category_id])
    return {image_id: frozenset(categories) for image_id, categories in found.items()}
