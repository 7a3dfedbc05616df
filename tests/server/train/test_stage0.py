import numpy as np
import torch

from locvlm.data.shapes import CATEGORIES, ShapesConfig, render_scene, task_scene
from locvlm.tasks import Obj, Scene
from locvlm.train.stage0 import (
    CoordHead,
    DenseHeads,
    WordHead,
    dense_targets,
    ordered_codes,
    owners,
    rank_targets,
    stage0_loss,
)
from locvlm_client import Box


def test_word_head_scores_patches_against_the_phrase_embeddings() -> None:
    torch.manual_seed(0)
    embeddings = torch.randn(50, 16)
    phrases = [[1, 2], [3], [4, 5, 6]]
    head = WordHead(phrases, 16)
    mean = torch.stack([embeddings[[1, 2]].mean(0), embeddings[3], embeddings[[4, 5, 6]].mean(0)])
    logits = head(mean.view(1, 3, 16), embeddings)
    assert logits.shape == (1, 3, 4)  # class 0 is "no object"
    assert logits.argmax(-1).tolist() == [[1, 2, 3]]
    scaled = head(5 * mean.view(1, 3, 16), embeddings)  # cosine: the scale does not matter
    assert torch.allclose(scaled, logits, atol=1e-5)


def test_word_loss_reaches_the_embeddings() -> None:
    image, objects = render_scene(3, ShapesConfig(size=(64, 64)))
    scene = task_scene(image.size, objects)
    grid, hidden, text = 8, 12, 10
    heads = DenseHeads(hidden, 32, CATEGORIES)
    words = WordHead([[i] for i in range(len(CATEGORIES))], text)
    embeddings = torch.randn(len(CATEGORIES), text, requires_grad=True)
    projected = torch.randn(1, grid * grid, text, requires_grad=True)
    features = torch.randn(1, grid * grid, hidden)
    loss, info = stage0_loss(heads, features, [scene], grid, words(projected, embeddings))
    loss.backward()
    assert embeddings.grad is not None
    present = {CATEGORIES.index(o.category) for o in objects}
    touched = set(embeddings.grad.abs().sum(1).nonzero().flatten().tolist())
    assert present <= touched
    assert 0 <= info["word_acc"] <= 1
    cats, _ = dense_targets(scene, grid, 32, heads.ids)
    assert (cats > 0).any()


def _scene() -> Scene:
    def obj(category: str, xyxy: tuple[int, int, int, int]) -> Obj:
        return Obj(category=category, box=Box.from_xyxy(xyxy))

    # listed out of reading order on purpose: places come from the boxes, not the list
    return Scene(size=(64, 64), objects=(
        obj("red circle", (40, 40, 56, 56)),  # 3rd in reading order, 2nd red circle
        obj("blue square", (36, 2, 60, 26)),  # 2nd: top edge 2
        obj("red circle", (4, 0, 20, 16)),  # 1st: the highest top edge
    ))  # fmt: skip


def test_rank_targets_give_each_patch_its_objects_place_in_reading_order() -> None:
    scene = _scene()
    overall, within = rank_targets(scene, grid=8)
    owner = owners(scene, grid=8)
    patch = {k: int(np.flatnonzero(owner == k)[0]) for k in range(3)}  # one patch of each
    assert [overall[patch[k]] for k in range(3)] == [3, 2, 1]
    assert [within[patch[k]] for k in range(3)] == [2, 1, 1]
    assert ((overall == 0) == (owner == -1)).all()
    assert ((within == 0) == (owner == -1)).all()


def test_the_rank_heads_add_a_loss_and_an_accuracy() -> None:
    torch.manual_seed(0)
    scene, grid, hidden = _scene(), 8, 12
    features = torch.randn(1, grid * grid, hidden)
    plain = DenseHeads(hidden, 32, CATEGORIES)
    ranked = DenseHeads(hidden, 32, CATEGORIES, ranks=True)
    ranked.load_state_dict(plain.state_dict(), strict=False)  # the same category/edge heads
    loss, info = stage0_loss(plain, features, [scene], grid)
    loss_ranked, info_ranked = stage0_loss(ranked, features, [scene], grid)
    assert "rank_acc" not in info
    assert 0 <= info_ranked["rank_acc"] <= 1
    assert loss_ranked > loss
    loss_ranked.backward()
    assert ranked.ranks is not None
    assert ranked.ranks.weight.grad is not None


def test_ordered_codes_make_order_a_direction_and_neighbours_alike() -> None:
    codes = ordered_codes(64, 24, norm=3.0)
    assert codes.shape == (64, 24)
    assert torch.allclose(codes.norm(dim=1), torch.full((64,), 3.0), atol=1e-4)
    # one direction orders every value: the least-squares readout of v is monotone (64
    # random points in 24 dimensions have no such direction)
    readout = torch.linalg.lstsq(codes, torch.linspace(0, 1, 64).unsqueeze(1)).solution
    assert ((codes @ readout).squeeze(1).diff() > 0).all()
    similar = torch.nn.functional.cosine_similarity(codes[10], codes, dim=-1)
    assert similar.argsort(descending=True)[:3].tolist() in ([10, 9, 11], [10, 11, 9])
    assert torch.equal(ordered_codes(32, 48, 3.0, seed=1), ordered_codes(32, 48, 3.0, seed=1))


def test_coord_head_reads_each_edge_through_its_own_map() -> None:
    torch.manual_seed(0)
    embeddings = torch.randn(40, 16)
    values = [[2 * k, 2 * k + 1] for k in range(8)]  # value k: tokens "k" and " k"
    head = CoordHead(values, 16)
    assert head(torch.randn(2, 5, 16), embeddings).shape == (2, 5, 4, 8)
    with torch.no_grad():
        head.maps.copy_(torch.eye(16).expand(4, 16, 16))
    value_3 = embeddings[[6, 7]].mean(0)
    logits = head(value_3.view(1, 1, 16), embeddings)
    assert logits.argmax(-1).tolist() == [[[3, 3, 3, 3]]]
    with torch.no_grad():
        head.maps[1].mul_(-1)  # edge 1 reads the opposite direction: another value wins
    assert head(value_3.view(1, 1, 16), embeddings).argmax(-1)[0, 0, 1] != 3


def test_the_coord_loss_reaches_the_value_embeddings() -> None:
    image, objects = render_scene(5, ShapesConfig(size=(64, 64)))
    scene = task_scene(image.size, objects)
    grid, hidden, text, bins = 8, 12, 10, 32
    heads = DenseHeads(hidden, bins, CATEGORIES)
    coords = CoordHead([[k] for k in range(bins)], text)
    embeddings = torch.randn(bins, text, requires_grad=True)
    projected = torch.randn(1, grid * grid, text, requires_grad=True)
    features = torch.randn(1, grid * grid, hidden)
    plain, _ = stage0_loss(heads, features, [scene], grid)
    loss, info = stage0_loss(heads, features, [scene], grid, None, coords(projected, embeddings))
    assert loss > plain
    loss.backward()
    assert embeddings.grad is not None
    assert projected.grad is not None
    _, edges = dense_targets(scene, grid, bins, heads.ids)
    written = set(edges[edges >= 0].tolist())
    touched = set(embeddings.grad.abs().sum(1).nonzero().flatten().tolist())
    assert written <= touched
    assert 0 <= info["coord_err_bins"] < bins
