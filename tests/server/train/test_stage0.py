import torch

from locvlm.data.shapes import CATEGORIES, ShapesConfig, render_scene, task_scene
from locvlm.train.stage0 import DenseHeads, WordHead, dense_targets, stage0_loss


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
