"""Stage 0: pre-train the CLIP vision tower on dense per-patch targets of the scene.

A stand-in for CLIP's pre-training (no weights can be downloaded): throw-away linear
heads on the features LLaVA reads (last layer, CLS dropped) learn, per patch, which
category covers it most and the absolute bins of that object's four box edges. Then
each image token already says "I am part of a red circle whose box is [3, 10, 9, 16]",
and the LM only has to find the patch and copy (measured in training-notes.md: the
tower learns this in minutes, and the LLaVA stages learn much faster on top of it).

With `words` on, a third head ties the projector's output to the LM's own word
embeddings: each projected patch must be closest (cosine) to the mean embedding of its
category's words (" red circle"), so the question's words and the matching patches meet
in one space before the LM is trained to find one from the other.

With `coords` on, the same is done for the box: the values' own tokens get embeddings in
which their order is a direction (`ordered_codes`), and a fourth head asks each projected
patch, through one linear map per edge, to be closest to the embedding of that edge's
value, so writing the box is copying tokens the LM already reads, not a regression.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch
from torch import nn
from torch.nn import functional

from locvlm.tasks import Scene

__all__ = [
    "MAX_OBJECTS",
    "CoordHead",
    "DenseHeads",
    "MeanEmbedding",
    "WordHead",
    "dense_targets",
    "ordered_codes",
    "owners",
    "rank_targets",
    "stage0_loss",
]

MAX_OBJECTS = 5  # the contract's most objects in a scene


def owners(scene: Scene, grid: int) -> np.ndarray:
    """Per patch (row-major): the index in `scene.objects` of the object it belongs to (-1).

    A patch belongs to the object that overlaps it most, so even an object narrower
    than a patch owns at least one.
    """
    width, height = scene.size
    owner = np.full(grid * grid, -1, dtype=np.int64)
    best = np.zeros(grid * grid)
    cells = (np.arange(grid) / grid, (np.arange(grid) + 1) / grid)
    for k, obj in enumerate(scene.objects):
        x1, y1, x2, y2 = obj.box.to_normalized((width, height))
        ox = np.clip(np.minimum(cells[1], x2) - np.maximum(cells[0], x1), 0, None)
        oy = np.clip(np.minimum(cells[1], y2) - np.maximum(cells[0], y1), 0, None)
        overlap = np.outer(oy, ox).ravel()
        win = overlap > best
        best[win] = overlap[win]
        owner[win] = k
    return owner


def dense_targets(
    scene: Scene, grid: int, bins: int, ids: Mapping[str, int]
) -> tuple[np.ndarray, np.ndarray]:
    """Per patch (row-major): category id (`ids`; 0 = none) and its object's edge bins."""
    owner = owners(scene, grid)
    cats = np.zeros(grid * grid, dtype=np.int64)
    edges = np.full((grid * grid, 4), -100, dtype=np.int64)  # -100: ignored by the loss
    for k, obj in enumerate(scene.objects):
        mine = owner == k
        cats[mine] = ids.get(obj.category, 0)
        normalized = obj.box.to_normalized(scene.size)
        edges[mine] = [min(max(int(v * bins + 1e-9), 0), bins - 1) for v in normalized]
    return cats, edges


def rank_targets(scene: Scene, grid: int) -> tuple[np.ndarray, np.ndarray]:
    """Per patch: its object's place in reading order, among all and within its category.

    Places are 1-based; 0 for no object. Every answer lists boxes in reading order, so
    "the k-th object" and "the k-th red circle" are what detection, counting and
    grounding with several instances ask for.
    """
    owner = owners(scene, grid)
    overall = np.zeros(grid * grid, dtype=np.int64)
    within = np.zeros(grid * grid, dtype=np.int64)
    for k, obj in enumerate(scene.objects):
        overall[owner == k] = scene.ordered.index(obj) + 1
        within[owner == k] = scene.instances(obj.category).index(obj) + 1
    return overall, within


class DenseHeads(nn.Module):
    """Linear per-patch heads: category (none + `vocabulary`) and 4 edges x `bins`.

    With `ranks`, two more: the object's place in reading order among all objects and
    among its category's (`rank_targets`, 0 = none, 1..`MAX_OBJECTS`).
    """

    def __init__(self, hidden: int, bins: int, vocabulary: Sequence[str], ranks: bool = False):
        super().__init__()
        self.bins = bins
        self.ids = {name: i + 1 for i, name in enumerate(vocabulary)}  # 0: no object
        self.category = nn.Linear(hidden, len(vocabulary) + 1)
        self.edges = nn.Linear(hidden, 4 * bins)
        self.ranks = nn.Linear(hidden, 2 * (MAX_OBJECTS + 1)) if ranks else None

    def forward(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits `(B, P, 25)` and `(B, P, 4, bins)` from patch features `(B, P, H)`."""
        b, p, _ = features.shape
        return self.category(features), self.edges(features).view(b, p, 4, self.bins)

    def rank_logits(self, features: torch.Tensor) -> torch.Tensor:
        """Logits `(B, P, 2, MAX_OBJECTS + 1)`: overall and within-category place."""
        assert self.ranks is not None
        b, p, _ = features.shape
        return self.ranks(features).view(b, p, 2, MAX_OBJECTS + 1)


class MeanEmbedding(nn.Module):
    """The mean input embedding of each of several token sequences (a phrase, a value)."""

    def __init__(self, token_ids: Sequence[Sequence[int]]) -> None:
        super().__init__()
        width = max(len(ids) for ids in token_ids)
        index = torch.zeros(len(token_ids), width, dtype=torch.long)
        weight = torch.zeros(len(token_ids), width)
        for row, ids in enumerate(token_ids):
            index[row, : len(ids)] = torch.tensor(list(ids))
            weight[row, : len(ids)] = 1.0 / len(ids)
        self.register_buffer("index", index, persistent=False)  # not saved: rebuilt
        self.register_buffer("weight", weight, persistent=False)

    def forward(self, embeddings: torch.Tensor) -> torch.Tensor:
        """`(sequences, D)` from the embedding table `(vocabulary, D)`."""
        index, weight = self.get_buffer("index"), self.get_buffer("weight")
        return (embeddings[index] * weight.unsqueeze(-1)).sum(1)


class WordHead(nn.Module):
    """Per-patch category logits from projected patches against the LM's word embeddings.

    Class 0 (no object) is a learnt vector; class c is the mean input embedding of the
    tokens of category c's phrase. Cosine similarity times a learnt temperature.
    """

    def __init__(self, phrase_ids: Sequence[Sequence[int]], hidden: int) -> None:
        super().__init__()
        self.phrases = MeanEmbedding(phrase_ids)
        self.background = nn.Parameter(torch.randn(hidden) * 0.02)
        self.log_scale = nn.Parameter(torch.tensor(2.3))  # temperature ~10, like CLIP's

    def forward(self, projected: torch.Tensor, embeddings: torch.Tensor) -> torch.Tensor:
        """Logits `(B, P, 1 + categories)` of projected patches `(B, P, D)`."""
        phrases = self.phrases(embeddings)
        classes = functional.normalize(torch.cat([self.background[None], phrases]), dim=-1)
        return functional.normalize(projected, dim=-1) @ classes.T * self.log_scale.exp()


def ordered_codes(values: int, dim: int, norm: float, seed: int = 0) -> torch.Tensor:
    """`(values, dim)` embeddings of 0 .. values - 1 in which order is linear.

    Each value v (scaled to [0, 1]) is a ramp (v - 1/2, weighted twice) and sines and
    cosines of pi * f * v for f = 1 .. 8 (fewer for few values: neighbours at most a
    quarter turn apart), mapped into `dim` by a fixed random orthonormal basis and scaled
    to `norm`: "is a < b" is the sign of one projection, and neighbours are alike.
    """
    v = torch.linspace(0.0, 1.0, values).unsqueeze(1)
    top = max(1, min(8, (values - 1) // 2))
    f = torch.arange(1, top + 1, dtype=torch.float32).unsqueeze(0)
    features = torch.cat(
        [2 * (v - 0.5), torch.cos(torch.pi * f * v), torch.sin(torch.pi * f * v)], 1
    )
    generator = torch.Generator().manual_seed(seed)
    basis, _ = torch.linalg.qr(torch.randn(dim, features.shape[1], generator=generator))
    codes = features @ basis.T
    return codes * (norm / codes.norm(dim=1, keepdim=True))


class CoordHead(nn.Module):
    """Per-patch edge-value logits from projected patches against the LM's value tokens.

    Class k of an edge is the mean input embedding of value k's tokens (`"k"` and `" k"`:
    the first value of a box follows "[" without a space); each edge reads the patch
    through its own linear map. Cosine similarity times a learnt temperature.
    """

    def __init__(self, value_ids: Sequence[Sequence[int]], hidden: int, seed: int = 0) -> None:
        super().__init__()
        self.values = MeanEmbedding(value_ids)
        generator = torch.Generator().manual_seed(seed)
        maps = [torch.linalg.qr(torch.randn(hidden, hidden, generator=generator))[0]
                for _ in range(4)]  # fmt: skip
        self.maps = nn.Parameter(torch.stack(maps))  # (4, hidden, hidden): one per edge
        self.log_scale = nn.Parameter(torch.tensor(2.3))

    def forward(self, projected: torch.Tensor, embeddings: torch.Tensor) -> torch.Tensor:
        """Logits `(B, P, 4, values)` of projected patches `(B, P, D)`."""
        values = functional.normalize(self.values(embeddings), dim=-1)
        edges = functional.normalize(torch.einsum("bpd,eod->bpeo", projected, self.maps), dim=-1)
        return edges @ values.T * self.log_scale.exp()


def stage0_loss(
    heads: DenseHeads,
    features: torch.Tensor,
    scenes: Sequence[Scene],
    grid: int,
    word_logits: torch.Tensor | None = None,
    coord_logits: torch.Tensor | None = None,
) -> tuple[torch.Tensor, dict[str, float]]:
    """Loss of the dense heads (plus the word and coordinate heads', given their logits).

    The word head's classes are in the heads' vocabulary order after class 0 (none), as
    the dense category targets are.
    """
    targets = [dense_targets(s, grid, heads.bins, heads.ids) for s in scenes]
    cats = torch.from_numpy(np.stack([c for c, _ in targets]))
    edges = torch.from_numpy(np.stack([e for _, e in targets]))
    cat_logits, edge_logits = heads(features)
    cat_loss = functional.cross_entropy(cat_logits.flatten(0, 1), cats.flatten())
    edge_loss = functional.cross_entropy(
        edge_logits.flatten(0, 2), edges.flatten(), ignore_index=-100, label_smoothing=0.1
    )
    loss = cat_loss + edge_loss
    info: dict[str, float] = {}
    if heads.ranks is not None:
        ranks = torch.from_numpy(np.stack([np.stack(rank_targets(s, grid), -1) for s in scenes]))
        rank_logits = heads.rank_logits(features)
        loss = loss + functional.cross_entropy(rank_logits.flatten(0, 2), ranks.flatten())
        with torch.no_grad():
            owned = ranks[..., 0] > 0
            info["rank_acc"] = (
                (rank_logits.argmax(-1) == ranks).all(-1)[owned].float().mean().item()
            )
    if word_logits is not None:
        loss = loss + functional.cross_entropy(word_logits.flatten(0, 1), cats.flatten())
        info["word_acc"] = (word_logits.argmax(-1) == cats).float().mean().item()
    if coord_logits is not None:
        loss = loss + functional.cross_entropy(
            coord_logits.flatten(0, 2), edges.flatten(), ignore_index=-100, label_smoothing=0.1
        )
    with torch.no_grad():
        covered = edges[..., 0] >= 0
        info["cat_acc"] = (cat_logits.argmax(-1) == cats).float().mean().item()
        info["edge_err_bins"] = (
            (edge_logits.argmax(-1) - edges).abs().float()[covered].mean().item()
        )
        if coord_logits is not None:
            info["coord_err_bins"] = (
                (coord_logits.argmax(-1) - edges).abs().float()[covered].mean().item()
            )
    return loss, info
