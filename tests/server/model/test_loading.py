import re
from pathlib import Path

import pytest

from locvlm.data.shapes import ShapesConfig, render_scene
from locvlm.engines.base import Constraint
from locvlm.model.loading import LoadedModel, load_model
from locvlm.tasks import counting, locpred


@pytest.fixture(scope="module")
def loaded(tiny_shapes_export: Path) -> LoadedModel:
    return load_model(tiny_shapes_export)


def test_generate_follows_each_row_s_constraint(loaded: LoadedModel) -> None:
    image, objects = render_scene(seed=(5, 0), config=ShapesConfig(size=None))
    questions = [locpred.prompt(objects[0].category), counting.prompt(objects[0].category)]
    free = loaded.generate([image, image], questions, max_new_tokens=12)
    pattern = "perhaps [0-9]"  # no answer the model was taught
    regexes = [None, Constraint(regex=pattern).for_engine()]
    said = loaded.generate([image, image], questions, max_new_tokens=12, regexes=regexes)
    assert said[0] == free[0]  # an unconstrained row beside a constrained one is unchanged
    assert not re.fullmatch(pattern, free[1])
    assert re.fullmatch(pattern, said[1]), said[1]
