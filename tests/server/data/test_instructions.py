import json
import random
from collections import Counter
from pathlib import Path

import pytest

from locvlm.coords.ivb import IVBCodec
from locvlm.data.instructions import (
    DEFAULT_MIX,
    InstructConfig,
    build_conversations,
    caption_rows,
    question_key,
    sample_turns,
    to_scene,
    write_jsonl,
)
from locvlm.data.negatives import NegativeSampler
from locvlm.model.prompt_format import IMAGE_TOKEN
from locvlm.tasks import TASKS, Obj, Scene
from locvlm.tasks.locpred import TEMPLATES as WHERE
from locvlm_client import Box

VOCABULARY = ("red circle", "blue square", "green diamond", "yellow triangle", "purple circle")


def _rich_scene() -> Scene:
    """Four single objects on a 2x2 grid: every task of the default mix has questions."""
    boxes = {
        "red circle": (5, 5, 25, 25),
        "blue square": (60, 5, 80, 25),
        "green diamond": (5, 60, 25, 80),
        "yellow triangle": (60, 60, 80, 80),
    }
    objects = tuple(Obj(c, Box.from_xyxy(xyxy)) for c, xyxy in boxes.items())
    return Scene(size=(100, 100), objects=objects)


def test_default_config():
    config = InstructConfig()
    assert config.codec == {"name": "ivb", "bins": 100}
    assert config.make_codec() == IVBCodec(bins=100)
    assert set(config.mix) <= set(TASKS)
    assert "caption" not in config.mix
    assert {"locpred", "negpred", "revloc", "region", "exists", "counting"} <= set(config.mix)
    assert sum(DEFAULT_MIX.values()) == pytest.approx(1.0)
    assert (config.turns_per_image, config.negatives, config.seed) == (4, "random", 0)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"mix": {"locpred": 1, "levitate": 1}}, "unknown task"),  # not in TASKS
        ({"mix": {"locpred": -1}}, ">= 0"),  # negative weight
        ({"mix": {"locpred": float("nan")}}, "finite"),  # nan weight
        ({"mix": {"locpred": 0}}, "positive weight"),  # nothing to draw
        ({"turns_per_image": 0}, "turns_per_image"),  # no turns
        ({"negatives": "hard"}, "unknown negatives"),  # not a POPE strategy
        ({"codec": {"name": "morse"}}, "unknown codec"),  # not registered
        ({"codec": {"bins": 10}}, "needs a 'name'"),  # no name
        ({"codec": {"name": "ivb", "bins": 1}}, "bins"),  # the codec refuses it
    ],
)
def test_bad_config(kwargs, message):
    with pytest.raises(ValueError, match=message):
        InstructConfig(**kwargs)


def test_with_weights_updates_and_drops():
    config = InstructConfig().with_weights({"caption": 0.5, "detect": 0})
    assert config.mix["caption"] == 0.5
    assert "detect" not in config.mix
    assert config.mix["locpred"] == DEFAULT_MIX["locpred"]


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        (("locpred", WHERE[0]), ("locpred", WHERE[2]), True),  # another wording
        (("locpred", "Where is the cup?"), ("locpred", "Where is the dog?"), False),  # other phrase
        (
            ("spatial_side", "Which side of the cup is the dog?"),
            ("spatial_side_evidence", "Is the dog left or right of the cup?"),
            True,
        ),  # with or without evidence
        (("detect", "List every object."), ("detect", "Detect every object in the image."), True),
        (("detect", "List every object."), ("detect", "List every cup."), False),  # restricted
        (("locpred", "Hello?"), ("locpred", "Hello?"), True),  # no template: the prompt itself
    ],
)
def test_question_key(a, b, same):
    (task_a, text_a), (task_b, text_b) = a, b
    key_a = question_key(task_a, text_a.format(phrase="cup"))
    assert (key_a == question_key(task_b, text_b.format(phrase="cup"))) is same


def test_sample_turns_are_valid_and_never_repeat_a_question():
    config = InstructConfig(turns_per_image=8)
    codec = config.make_codec()
    for seed in range(30):
        turns = sample_turns(_rich_scene(), codec, random.Random(seed), VOCABULARY, config)
        assert len(turns) == 8
        keys = [question_key(t.task, t.prompt) for t in turns]
        assert len(set(keys)) == len(keys)
        assert all(t.task in config.mix for t in turns)


def test_tasks_without_a_question_are_skipped():
    lonely = Scene(size=(64, 64), objects=(Obj("red circle", Box.from_xyxy((5, 5, 20, 20))),))
    config = InstructConfig(mix={"spatial_yes_no": 10, "locpred": 1}, turns_per_image=3)
    turns = sample_turns(lonely, config.make_codec(), random.Random(0), VOCABULARY, config)
    assert [t.task for t in turns] == ["locpred"]  # one locpred question, no spatial one


def test_mix_weights_are_honoured():
    config = InstructConfig(turns_per_image=1)
    codec, rng, n = config.make_codec(), random.Random(0), 6000
    drawn = Counter(
        t.task
        for _ in range(n)
        for t in sample_turns(_rich_scene(), codec, rng, VOCABULARY, config)
    )
    assert sum(drawn.values()) == n
    for task, weight in DEFAULT_MIX.items():
        assert drawn[task] / n == pytest.approx(weight, abs=0.02), task


def test_negatives_come_from_the_sampler(make_record):
    # "purple circle" co-occurs with the scene's objects: the adversarial negative.
    records = [
        make_record(1, (100, 100), ("red circle", (0, 0, 9, 9)), ("purple circle", (20, 0, 29, 9)))
    ]
    sampler = NegativeSampler.from_records(records, VOCABULARY, "adversarial", top_k=1)
    config = InstructConfig(mix={"negpred": 1, "exists": 1}, turns_per_image=1)
    codec = config.make_codec()
    for seed in range(40):
        (turn,) = sample_turns(
            _rich_scene(), codec, random.Random(seed), VOCABULARY, config, sampler
        )
        asks_absent = turn.task == "negpred" or turn.answer == "no"
        assert ("purple circle" in turn.prompt) is asks_absent


def test_rows_are_llava_conversations(coco_tiny):
    config = InstructConfig(seed=3)
    rows = list(build_conversations(coco_tiny.records(), coco_tiny.category_names(), config,
                                    image_root="imgs"))  # fmt: skip
    assert [r["id"] for r in rows] == ["139", "285", "632", "724", "776"]
    for row in rows:
        assert set(row) == {"id", "image", "width", "height", "conversations", "tasks"}
        assert row["image"] == str(Path("imgs") / Path(row["image"]).name)
        turns = row["conversations"]
        assert [t["from"] for t in turns] == ["human", "gpt"] * len(row["tasks"])
        assert turns[0]["value"].startswith(f"{IMAGE_TOKEN}\n")
        assert all(IMAGE_TOKEN not in t["value"] for t in turns[1:])
        assert 1 <= len(row["tasks"]) <= config.turns_per_image
        json.dumps(row)
    assert (rows[0]["width"], rows[0]["height"]) == (160, 120)


def test_crowd_categories_are_never_negatives(coco_tiny):
    mix = {"negpred": 1, "exists": 1, "counting": 1}
    crowd = [r for r in coco_tiny.records() if r.id == 632]
    names, crowds = coco_tiny.category_names(), {632: {"person"}}
    asked = [
        turn["value"]
        for seed in range(40)
        for row in build_conversations(
            crowd, names, InstructConfig(mix=mix, turns_per_image=6, seed=seed), crowds=crowds
        )
        for turn in row["conversations"]
    ]
    assert len(asked) == 40 * 12
    assert not any("person" in text or "people" in text for text in asked)


def test_rows_are_deterministic_and_independent_of_order(coco_tiny):
    records = list(coco_tiny.records())
    names = coco_tiny.category_names()
    sampler = NegativeSampler.from_records(records, names)
    config = InstructConfig(seed=5)
    first = list(build_conversations(records, names, config, sampler))
    assert first == list(build_conversations(records, names, config, sampler))
    backwards = list(build_conversations(records[::-1], names, config, sampler))
    assert backwards == first[::-1]
    other = list(build_conversations(records, names, InstructConfig(seed=6), sampler))
    assert other != first


def test_caption_rows(coco_tiny):
    rows = {row["id"]: row for row in caption_rows(coco_tiny.records())}
    desk = rows["139"]["conversations"]
    assert desk == [
        {"from": "human", "value": f"{IMAGE_TOKEN}\nDescribe the image."},
        {"from": "gpt", "value": "a person, two cups and a laptop"},
    ]
    assert rows["632"]["conversations"][1]["value"] == "a dog and a cup"  # crowd left out
    assert rows["139"]["tasks"] == ["caption"]


def test_to_scene(make_record):
    scene = to_scene(make_record(4, (30, 20), ("cup", (1, 2, 3, 4))))
    assert scene.size == (30, 20)
    assert scene.objects == (Obj("cup", Box.from_xyxy((1, 2, 3, 4))),)


def test_write_jsonl_is_atomic(tmp_path):
    out = tmp_path / "rows.jsonl"
    assert write_jsonl([{"a": 1}, {"b": "é"}], out) == 2
    assert [json.loads(line) for line in out.read_text().splitlines()] == [{"a": 1}, {"b": "é"}]

    def broken():
        yield {"a": 2}
        raise RuntimeError("disk on fire")

    with pytest.raises(RuntimeError):
        write_jsonl(broken(), out)
    assert out.read_text().count("\n") == 2  # the old file is untouched
    assert [p.name for p in tmp_path.iterdir()] == ["rows.jsonl"]  # no temporary left
