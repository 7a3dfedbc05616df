"""`RunningRows`: rows that join at different steps answer as they would alone."""

from pathlib import Path

import pytest
import torch

from locvlm.data.shapes import ShapesConfig, render_scene
from locvlm.engines._decode import Row, RunningRows
from locvlm.model.loading import LoadedModel, load_model
from locvlm.tasks import counting, locpred


@pytest.fixture(scope="module")
def loaded(tiny_shapes_export: Path) -> LoadedModel:
    return load_model(tiny_shapes_export)


def test_rows_joining_mid_way_answer_as_alone(loaded: LoadedModel) -> None:
    scenes = [render_scene(seed=(21, i), config=ShapesConfig(size=None)) for i in range(3)]
    images = [image for image, _ in scenes]
    questions = [
        locpred.prompt(scenes[0][1][0].category),
        counting.prompt(scenes[1][1][0].category),  # a shorter prompt: padding on the left
        locpred.prompt(scenes[2][1][-1].category, 1),
    ]
    limits = [14, 5, 9]
    alone = [
        loaded.generate([image], [q], max_new_tokens=n)[0]
        for image, q, n in zip(images, questions, limits, strict=True)
    ]
    eos = loaded.eos_token_ids
    running = RunningRows(loaded.model, int(loaded.model.config.get_text_config().vocab_size), eos)
    rows = [Row(i, n) for i, n in enumerate(limits)]
    done: dict[int, list[int]] = {}
    prompts = [len(loaded.encoder.prompt_ids(q)) for q in questions]
    widths, widest = [], []
    with torch.inference_mode():
        for step in range(40):
            if step in (0, 3):  # row 0 alone, then rows 1 and 2 join it together
                joining = rows[:1] if step == 0 else rows[1:]
                inputs = loaded.inputs(
                    [images[r.handle] for r in joining], [questions[r.handle] for r in joining]
                )
                running.join(joining, inputs)
            if not running:
                break
            running.choose()
            keep = []
            for i, row in enumerate(running.rows):
                if running.finished(row):
                    done[row.handle] = row.tokens
                else:
                    keep.append(i)
            running.keep(keep)
            widths.append(running.width)  # its prompt, and its tokens but the newest
            widest.append(max((prompts[r.handle] + len(r.tokens) - 1 for r in running.rows),
                              default=0))  # fmt: skip
            if running:
                running.advance()
    assert sorted(done) == [0, 1, 2]
    assert [loaded.decode(done[i]) for i in range(3)] == alone
    for i, n in enumerate(limits):
        assert len(done[i]) == n or done[i][-1] in eos
    # The cache is as wide as the widest row still running: once the first row has left,
    # the columns only it used are gone.
    assert widths == widest
    assert widths[-1] == 0
