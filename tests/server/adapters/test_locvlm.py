"""Our checkpoints' adapter: the Task API's prompts and readers, LLaVA's chat, a square."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pytest
from PIL import Image

from locvlm.adapters import get_adapter
from locvlm.model.config import ModelPreset
from locvlm.model.sidecar import Sidecar
from locvlm.tasks import TASKS
from locvlm.train.config import TrainConfig
from locvlm_client import Box
from tests.server.adapters.stock import near

SIDECAR = Sidecar(
    codec={"name": "ivb", "bins": 32}, preset="tiny", image_size=64,
    vocabulary=["red circle", "blue square"],
)  # fmt: skip


def test_prompts_and_constraints_are_the_tasks_own():
    adapter, task = get_adapter(SIDECAR), TASKS["locpred"]
    question = adapter.ground("red circle", (128, 64))
    args = {"phrase": "red circle"}
    assert question.text == task.prompt(args, adapter.codec, (128, 64))
    assert question.regex == task.constraint(args, adapter.codec, adapter.vocabulary)
    assert re.fullmatch(question.regex, "There is no red circle.")


def test_reading_boxes_and_absence():
    adapter = get_adapter(SIDECAR)
    text = adapter.codec.encode([Box(x1=0, y1=0, x2=64, y2=32)], (128, 64))
    [box] = adapter.read_ground(text, "red circle", (128, 64))
    assert near(box, (0, 0, 64, 32), px=adapter.codec.tolerance * 128)
    assert adapter.read_ground("There is no red circle.", "red circle", (128, 64)) == []
    assert adapter.read_ground("hmm", "red circle", (128, 64)) is None


def test_images_are_squashed_and_the_chat_is_llavas():
    adapter = get_adapter(SIDECAR)
    assert adapter.prepare(Image.new("RGBA", (300, 100))).size == (64, 64)
    assert adapter.render("Where?") == "USER: <image>\nWhere? ASSISTANT:"
    assert adapter.native_spatial
    assert adapter.tasks == {"ground", "detect", "describe", "spatial"}


def test_describe_reads_the_category_and_the_relation():
    adapter = get_adapter(SIDECAR)
    said = adapter.read_describe("A red circle, left of the blue square.", (64, 64))
    assert said.parsed
    assert said.label == "red circle"
    assert not adapter.read_describe("?!", (64, 64)).parsed


def test_without_context_a_region_is_asked_revlocs_question():
    """RevLoc is trained in every mix; its bare category reads as the region's label."""
    adapter, box = get_adapter(SIDECAR), Box.from_xyxy((0, 0, 32, 32))
    question, args = adapter.describe(box, (64, 64), context=False), {"box": box}
    assert question.text == TASKS["revloc"].prompt(args, adapter.codec, (64, 64))
    assert question.regex is not None
    assert re.fullmatch(question.regex, "blue square")
    said = adapter.read_describe("blue square", (64, 64))
    assert (said.label, said.text) == ("blue square", "the blue square")
    in_context = adapter.describe(box, (64, 64), context=True)
    assert in_context.text == TASKS["region"].prompt(args, adapter.codec, (64, 64))


def test_a_phrase_is_known_by_its_category_in_any_case_article_or_number():
    adapter = get_adapter(SIDECAR)
    assert adapter.known("The Red circles.") == "red circle"
    assert adapter.known("blue square") == "blue square"
    assert adapter.known("the cat") is None
    open_vocabulary = get_adapter(Sidecar(codec={"name": "nfp"}, preset="tiny", image_size=64))
    assert open_vocabulary.known("the cat") == "the cat"


def test_a_checkpoint_that_grounds_from_its_listing_reads_each_phrase_from_it():
    adapter = get_adapter(SIDECAR.replace(listing=True))
    question = adapter.ground("red circle", (128, 64))
    assert question == adapter.ground("blue square", (128, 64)) == adapter.detect([], (128, 64))
    assert question.text == "List every object."
    box = adapter.codec.encode([Box(x1=0, y1=0, x2=64, y2=32)], (128, 64))
    other = adapter.codec.encode([Box(x1=64, y1=32, x2=128, y2=64)], (128, 64))
    listing = f"blue square {box}; red circle {box}; red circle {other}"
    assert re.fullmatch(question.regex or "", listing)
    assert len(adapter.read_ground(listing, "red circle", (128, 64)) or []) == 2
    assert adapter.read_ground("nothing", "red circle", (128, 64)) == []
    assert adapter.read_ground(f"blue square {box}", "red circle", (128, 64)) == []
    assert adapter.read_ground("hmm", "red circle", (128, 64)) is None


def test_a_phrase_its_listing_names_none_of_gets_a_second_look_on_its_own():
    adapter = get_adapter(SIDECAR.replace(listing=True))
    size = (128, 64)
    look = adapter.second_look("red circle", size)
    assert look is not None
    assert look.text == "Where is the red circle?"
    encode = adapter.codec.encode
    square, elsewhere = Box(x1=0, y1=0, x2=32, y2=32), Box(x1=64, y1=32, x2=96, y2=64)
    listed = adapter.read_listing(f"blue square {encode([square], size)}", size)
    assert listed is not None
    assert [o.category for o in listed] == ["blue square"]  # the tasks' objects
    assert listed[0].box.iou(square) > 0.5
    assert adapter.read_listing("nothing", size) == []
    assert adapter.read_listing("hmm", size) is None
    own = adapter.read_second_look(encode([elsewhere], size), listed, size)
    assert len(own) == 1  # where nothing is listed: kept
    assert own[0].iou(elsewhere) > 0.5
    assert adapter.read_second_look(encode([square], size), listed, size) == []  # the square
    assert adapter.read_second_look("There is no red circle.", listed, size) == []
    assert adapter.read_second_look(encode([elsewhere], size), [], size) == own  # none listed
    assert get_adapter(SIDECAR).second_look("red circle", size) is None  # asked on its own


def test_how_a_checkpoint_grounds_is_in_its_sidecar(tmp_path: Path):
    assert SIDECAR.listing is False  # sidecars written before the field
    config = TrainConfig()
    trained = Sidecar.for_training(ModelPreset(name="tiny"), {"name": "ivb"}, config)
    assert trained.listing  # the recipe trains the detect task
    no_listing = replace(config, mix={k: v for k, v in config.mix.items() if k != "detect"})
    assert Sidecar.for_training(ModelPreset(name="tiny"), {}, no_listing).listing is False
    trained.write(tmp_path)
    assert Sidecar.read(tmp_path) == trained
    assert trained.grounds_from == "listing"  # boxes from the listing unless told otherwise
    trained.replace(grounds_from="answer").write(tmp_path)
    assert Sidecar.read(tmp_path).grounds_from == "answer"
    data = (tmp_path / "locvlm.json").read_text().replace('"answer"', '"both"')
    (tmp_path / "locvlm.json").write_text(data)
    with pytest.raises(ValueError, match="grounds_from"):
        Sidecar.read(tmp_path)


def test_a_checkpoint_that_grounds_from_its_answers_has_them_checked_by_its_listing():
    adapter = get_adapter(SIDECAR.replace(listing=True, grounds_from="answer"))
    size = (128, 64)
    assert adapter.ground("red circle", size).text == "Where is the red circle?"
    check = adapter.grounding_check(size)
    assert check is not None
    assert check.text == "List every object."
    assert adapter.second_look("red circle", size) is None  # the listing is asked anyway
    encode = adapter.codec.encode
    square, elsewhere = Box(x1=0, y1=0, x2=32, y2=32), Box(x1=64, y1=32, x2=96, y2=64)
    listed = adapter.read_listing(f"blue square {encode([square], size)}", size)
    assert listed is not None
    assert adapter.read_checked(encode([square], size), listed, "red circle", size) == []
    kept = adapter.read_checked(encode([elsewhere], size), listed, "red circle", size)
    assert kept is not None
    assert len(kept) == 1
    assert kept[0].iou(elsewhere) > 0.5
    assert get_adapter(SIDECAR.replace(listing=True)).grounding_check(size) is None


def test_a_checkpoint_that_grounds_in_tiles_grounds_a_non_square_image_from_its_crops():
    tiled = SIDECAR.replace(listing=True, grounds_from="answer", grounds_in_tiles=True)
    adapter = get_adapter(tiled)
    assert adapter.ground_crops((64, 64)) == ()  # square: asked whole
    assert adapter.ground_crops((128, 64)) == ((0, 0, 64, 64), (32, 0, 96, 64), (64, 0, 128, 64))
    for sidecar in (SIDECAR.replace(grounds_in_tiles=True),  # no listing to check against
                    SIDECAR.replace(listing=True, grounds_from="answer")):  # fmt: skip
        assert get_adapter(sidecar).ground_crops((128, 64)) == ()


def test_a_checkpoint_that_detects_in_tiles_lists_a_non_square_image_s_crops_too():
    adapter = get_adapter(SIDECAR.replace(detects_in_tiles=True))
    assert adapter.detect_crops((64, 70)) == ()  # square enough: listed whole
    assert adapter.detect_crops((64, 128)) == ((0, 0, 64, 64), (0, 32, 64, 96), (0, 64, 64, 128))
    assert get_adapter(SIDECAR).detect_crops((64, 128)) == ()  # the default: whole only
