import json
from collections.abc import Sequence
from pathlib import Path

import pytest
from PIL import Image
from typer.testing import CliRunner

from locvlm.cli import app
from locvlm.coords import get_codec
from locvlm.data.shapes import COLORS, SHAPES
from locvlm.engines.base import Constraint
from locvlm.eval.runner import evaluate, load_rows, markdown, open_image
from locvlm.tasks import TASKS, spatial
from locvlm.tasks.base import as_box

runner = CliRunner()


@pytest.fixture(scope="module")
def bench(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("bench")
    assert (
        runner.invoke(
            app,
            [
                "data",
                "shapes",
                "--n",
                "12",
                "--seed",
                "4",
                "--size",
                "random",
                "--out",
                str(root / "d"),
            ],
        ).exit_code
        == 0
    )
    out = root / "b.jsonl"
    kinds = "leftright,pope,grounding,counting"
    coco = str(root / "d/annotations.json")
    args = [
        "data",
        "bench",
        "--kind",
        kinds,
        "--coco",
        coco,
        "--images",
        str(root / "d"),
        "--out",
        str(out),
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    return out


def _always(text: str):  # type: ignore[no-untyped-def]
    def generate(
        images: Sequence[Image.Image], prompts: Sequence[str], regexes: Sequence[str | None]
    ) -> list[str]:
        assert all(isinstance(i, Image.Image) for i in images)
        return [text] * len(prompts)

    return generate


def test_always_yes_scores_as_pope_predicts(bench: Path) -> None:
    rows = load_rows([bench])
    report, records = evaluate(rows, _always("yes"), get_codec("ivb"), evidence=False)
    pope = report["benches"]["pope"]["pope"]["random"]
    assert pope["yes_ratio"] == 1.0
    yes_share = sum(
        r["expected"]["answer"] == "yes"
        for r in rows
        if r["bench"] == "pope" and r.get("split") == "random"
    )
    n = sum(1 for r in rows if r["bench"] == "pope" and r.get("split") == "random")
    assert pope["accuracy"] == pytest.approx(yes_share / n)
    assert report["benches"]["grounding"]["accuracy"] == 0.0  # "yes" is no box
    yes_no = sum(r["task"] == "spatial_yes_no" for r in rows)
    assert len(records) == len(rows) - report["skipped"] + yes_no  # + each asked as served
    assert "| pope | exists |" in markdown(report)


def test_flip_rows_are_mirrored(bench: Path) -> None:
    rows = [r for r in load_rows([bench]) if r.get("hflip")]
    assert rows, "the left/right bench holds flipped twins"
    flipped = open_image(rows[0])
    original = Image.open(rows[0]["image"]).convert("RGB")
    assert flipped.tobytes() == original.transpose(Image.Transpose.FLIP_LEFT_RIGHT).tobytes()


def test_malformed_bench_line_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(
        json.dumps({"id": "a", "bench": "b", "task": "t", "size": [1, 1]}) + "\n{oops\n"
    )
    with pytest.raises(ValueError, match=r"bad.jsonl:2: not JSON"):
        load_rows([path])


def test_a_row_id_seen_in_an_earlier_file_is_refused_with_both_places(tmp_path: Path) -> None:
    row = json.dumps(
        {"id": "grounding/0/3", "bench": "grounding", "task": "negpred", "size": [1, 1]}
    )
    (tmp_path / "random.jsonl").write_text(row + "\n")
    (tmp_path / "popular.jsonl").write_text(row + "\n")
    with pytest.raises(ValueError, match=r"popular.jsonl:1: row id 'grounding/0/3' is also at "
                                         r".*random.jsonl:1"):  # fmt: skip
        load_rows([tmp_path / "random.jsonl", tmp_path / "popular.jsonl"])


def test_saved_answers_are_judged_again_without_generating(bench: Path) -> None:
    rows = load_rows([bench])
    codec = get_codec("ivb")
    report, records = evaluate(rows, _always("no"), codec, evidence=False)
    saved = {r["id"]: r["text"] for r in records}

    def never(
        images: Sequence[Image.Image], prompts: Sequence[str], regexes: Sequence[str | None]
    ) -> list[str]:
        raise AssertionError("nothing is generated when answers are given")

    again, again_records = evaluate(rows, never, codec, evidence=False, answers=saved)
    assert again == report
    assert again_records == records
    saved["pope/0/0"] = "yes"  # a changed answer is judged as it now reads
    changed, _ = evaluate(rows, never, codec, evidence=False, answers=saved)
    assert changed != report
    with pytest.raises(KeyError):
        evaluate(rows, never, codec, evidence=False, answers={})


def test_served_rows_are_decoded_with_the_api_s_constraints(bench: Path) -> None:
    """The API constrains its side question; the task's own question goes unconstrained."""
    rows = [r for r in load_rows([bench]) if r["task"] == "spatial_yes_no"]
    codec, vocabulary = get_codec("ivb"), [f"{c} {s}" for c in COLORS for s in SHAPES]
    asked: list[tuple[str, str | None]] = []

    def model(
        images: Sequence[Image.Image], prompts: Sequence[str], regexes: Sequence[str | None]
    ) -> list[str]:
        asked.extend(zip(prompts, regexes, strict=True))
        # unconstrained, this model rambles; constrained, it can only name a side
        return ["left" if r else "it is over there" for r in regexes]

    report, records = evaluate(rows, model, codec, evidence=False, vocabulary=vocabulary)
    side = TASKS["spatial_side"]
    want = {
        Constraint(
            regex=side.constraint(spatial.side_args(r["args"]), codec, vocabulary)
        ).for_engine()
        for r in rows
    }
    assert {c for _, c in asked if c} == want  # the side question's own constraint
    own = {r["prompt"] for r in records if not r["id"].endswith("/served")}
    assert {p for p, c in asked if c is None} == own
    tasks = report["benches"]["leftright"]["tasks"]
    assert tasks["spatial_yes_no"]["parse_failures"] == 1.0
    assert tasks["spatial_yes_no_served"]["parse_failures"] == 0.0


def test_yes_no_rows_are_also_judged_as_the_api_answers_them(bench: Path) -> None:
    rows = [r for r in load_rows([bench]) if r["task"] == "spatial_yes_no"]
    assert rows
    codec = get_codec("ivb")
    report, records = evaluate(rows, _always("left"), codec, evidence=False)
    tasks = report["benches"]["leftright"]["tasks"]
    # every row asked twice: as it is ("left" reads as no yes/no at all), and as the side
    # question, whose "left" answers yes to "left of" and no to "right of"
    assert tasks["spatial_yes_no"]["n"] == tasks["spatial_yes_no_served"]["n"] == len(rows)
    assert tasks["spatial_yes_no"]["accuracy"] == 0.0
    right = sum((r["expected"]["answer"] == "yes") == (r["args"]["relation"] == "left of")
                for r in rows)  # fmt: skip
    assert tasks["spatial_yes_no_served"]["accuracy"] == pytest.approx(right / len(rows))
    assert "flip_consistency" in tasks["spatial_yes_no_served"]
    served = [r for r in records if r["id"].endswith("/served")]
    assert all("Which side" in r["prompt"] or " or " in r["prompt"] for r in served)
    saved = {r["id"]: r["text"] for r in records if not r["id"].endswith("/served")}
    older, _ = evaluate(rows, _always("left"), codec, evidence=False, answers=saved)
    assert "spatial_yes_no_served" not in older["benches"]["leftright"]["tasks"]


def test_the_table_says_how_answers_went_wrong() -> None:
    task = {"n": 3, "accuracy": 1 / 3, "parse_failures": 0.0, "by_aspect": {},
            "mistakes": {"partner": 2, "category": 1}}  # fmt: skip
    report = {"benches": {"region": {"tasks": {"region": task}}}}
    assert "- region region wrong answers by kind: partner 2, category 1" in markdown(report)


def test_grounding_rows_are_also_judged_from_the_listing_asked_once_an_image(bench: Path) -> None:
    """A checkpoint that grounds from its listing (`Sidecar.listing`): each grounding row
    is judged again from "List every object.", which is generated once for each image."""
    rows = [r for r in load_rows([bench]) if r["task"] == "locpred"]
    absent = [{**r, "id": f"{r['id']}/absent", "task": "negpred", "args": {"phrase": "black cat"},
               "expected": {"boxes": []}} for r in rows]  # fmt: skip
    rows += absent
    codec = get_codec("ivb")
    truth: dict[tuple[int, int], str] = {}  # image size -> its true listing (sizes differ)
    for row in rows:
        if row["task"] == "locpred":
            boxes = truth.setdefault(tuple(row["size"]), [])
            boxes += [f"{row['args']['phrase']} {codec.encode([as_box(b)], row['size'])}"
                      for b in row["expected"]["boxes"]]  # fmt: skip
    assert len(truth) == len({r["image"] for r in rows})
    asked: list[str] = []

    def lister(
        images: Sequence[Image.Image], prompts: Sequence[str], regexes: Sequence[str | None]
    ) -> list[str]:
        asked.extend(prompts)
        return ["; ".join(truth[im.size]) if p == "List every object." else "hmm"
                for im, p in zip(images, prompts, strict=True)]  # fmt: skip

    report, _ = evaluate(rows, lister, codec, evidence=False, listing=True)
    tasks = report["benches"]["grounding"]["tasks"]
    assert tasks["locpred"]["accuracy"] == 0.0  # "hmm" is no answer
    assert tasks["locpred_served"]["accuracy"] == 1.0  # the true listing grounds every phrase
    assert tasks["negpred_served"]["accuracy"] == 1.0  # and names no absent one
    assert tasks["negpred_served"]["n"] == len(absent)
    assert tasks["locpred_served"]["n"] == tasks["locpred"]["n"]
    assert asked.count("List every object.") == len(truth)  # once an image
    direct, _ = evaluate(rows, lister, codec, evidence=False)
    assert "locpred_served" not in direct["benches"]["grounding"]["tasks"]


def test_region_rows_are_also_judged_with_the_relation_from_the_listing(tmp_path: Path) -> None:
    """In context, as `/v1/describe` answers for a checkpoint read from its listing: the
    model's category, the relation from the listing; saved answers keep both texts."""
    image = tmp_path / "scene.png"
    Image.new("RGB", (64, 64)).save(image)
    expected = {"category": "red circle", "valid": [["left of", "blue square"]]}
    row = {"id": "region/0/0", "bench": "region", "task": "region", "image": str(image),
           "size": [64, 64], "args": {"box": [4, 20, 20, 36]}, "expected": expected}  # fmt: skip
    codec = get_codec("ivb", bins=32)

    def model(
        images: Sequence[Image.Image], prompts: Sequence[str], regexes: Sequence[str | None]
    ) -> list[str]:
        return ["red circle [2, 10, 10, 18]; blue square [20, 10, 28, 18]"
                if p == "List every object." else "the red circle above the red circle"
                for p in prompts]  # fmt: skip

    report, records = evaluate([row], model, codec, evidence=False, listing=True)
    tasks = report["benches"]["region"]["tasks"]
    assert (tasks["region"]["accuracy"], tasks["region_served"]["accuracy"]) == (0.0, 1.0)
    served = records[1]
    assert served["also"] == ["red circle [2, 10, 10, 18]; blue square [20, 10, 28, 18]"]
    saved = tmp_path / "run.answers.jsonl"
    saved.write_text("".join(json.dumps(r) + "\n" for r in records))
    bench = tmp_path / "bench.jsonl"
    bench.write_text(json.dumps(row) + "\n")
    again = runner.invoke(app, [  # the shipped checkpoint is read from its listing
        "eval", "--model", "default", "--bench", str(bench), "--answers", str(saved),
        "--out", str(tmp_path / "again.json")])  # fmt: skip
    assert again.exit_code == 0, again.output
    rejudged = json.loads((tmp_path / "again.json").read_text())["benches"]["region"]["tasks"]
    assert rejudged["region_served"]["accuracy"] == 1.0


def test_revloc_rows_are_also_judged_with_the_category_from_the_listing(tmp_path: Path) -> None:
    """As `/v1/describe` answers without context for a checkpoint read from its listing:
    the listed object's category at the region, else the model's own RevLoc answer."""
    image = tmp_path / "scene.png"
    Image.new("RGB", (64, 64)).save(image)
    rows = [{"id": f"revloc/0/{i}", "bench": "revloc", "task": "revloc", "image": str(image),
             "size": [64, 64], "args": {"box": box}, "expected": {"category": category}}
            for i, (box, category) in enumerate([
                ([4, 20, 20, 36], "red circle"),  # listed: the listing names it
                ([4, 40, 20, 56], "green star"),  # nothing listed there: the model's own
            ])]  # fmt: skip
    codec = get_codec("ivb", bins=32)

    def model(
        images: Sequence[Image.Image], prompts: Sequence[str], regexes: Sequence[str | None]
    ) -> list[str]:
        return ["red circle [2, 10, 10, 18]; blue square [20, 10, 28, 18]"
                if p == "List every object." else "green star" for p in prompts]  # fmt: skip

    report, records = evaluate(rows, model, codec, evidence=False, listing=True)
    tasks = report["benches"]["revloc"]["tasks"]
    assert (tasks["revloc"]["accuracy"], tasks["revloc_served"]["accuracy"]) == (0.5, 1.0)
    assert all(r["prompt"].startswith("What is at") for r in records)  # RevLoc's question
    alone, _ = evaluate(rows, model, codec, evidence=False)  # no listing: asked once, as is
    assert "revloc_served" not in alone["benches"]["revloc"]["tasks"]


def test_a_phrase_the_listing_missed_is_judged_with_the_api_s_second_look(tmp_path: Path) -> None:
    """As `/v1/ground` answers: a phrase the listing names none of is taken from the
    model's own answer where nothing is listed; saved answers from before keep working."""
    image = tmp_path / "scene.png"
    Image.new("RGB", (64, 64)).save(image)
    codec = get_codec("ivb", bins=32)
    rows = [{"id": f"grounding/0/{i}", "bench": "grounding", "task": task, "image": str(image),
             "size": [64, 64], "args": {"phrase": phrase}, "expected": {"boxes": boxes}}
            for i, (task, phrase, boxes) in enumerate([
                ("locpred", "red circle", [[2, 34, 18, 50]]),  # the listing misses it
                ("negpred", "green circle", []),  # the model's own answer boxes a listed object
            ])]  # fmt: skip
    asked: list[tuple[str, str | None]] = []

    def model(
        images: Sequence[Image.Image], prompts: Sequence[str], regexes: Sequence[str | None]
    ) -> list[str]:
        asked.extend(zip(prompts, regexes, strict=True))
        answers = {"List every object.": "blue square [16, 0, 24, 8]",
                   "Where is the red circle?": "[1, 17, 9, 25]",
                   "Where is the green circle?": "[16, 0, 24, 8]"}  # fmt: skip
        return [answers[p] for p in prompts]

    report, records = evaluate(rows, model, codec, evidence=False, listing=True)
    tasks = report["benches"]["grounding"]["tasks"]
    assert (tasks["locpred"]["accuracy"], tasks["locpred_served"]["accuracy"]) == (1.0, 1.0)
    assert (tasks["negpred"]["accuracy"], tasks["negpred_served"]["accuracy"]) == (0.0, 1.0)
    assert len(asked) == len(set(asked))  # each question generated once, per constraint
    before = {r["id"]: r["text"] for r in records}  # saved without the second look's text
    report, _ = evaluate(rows, model, codec, evidence=False, listing=True, answers=before)
    assert report["benches"]["grounding"]["tasks"]["locpred_served"]["accuracy"] == 0.0


def test_own_answers_checked_against_the_listing_are_judged_as_the_api_serves_them(
    tmp_path: Path,
) -> None:
    """`Sidecar.grounds_from` "answer": each phrase's own answer, checked against the
    listing (`detect.checked`): a mix-up with a listed object dropped, a missed instance
    added."""
    image = tmp_path / "scene.png"
    Image.new("RGB", (64, 64)).save(image)
    codec = get_codec("ivb", bins=32)
    two = [[0, 0, 16, 16], [0, 32, 16, 48]]
    rows = [{"id": f"grounding/0/{i}", "bench": "grounding", "task": task, "image": str(image),
             "size": [64, 64], "args": {"phrase": phrase}, "expected": {"boxes": boxes}}
            for i, (task, phrase, boxes) in enumerate([
                ("locpred", "red circle", two),  # the own answer finds one of two
                ("negpred", "green circle", []),  # the own answer boxes the listed square
            ])]  # fmt: skip

    def model(
        images: Sequence[Image.Image], prompts: Sequence[str], regexes: Sequence[str | None]
    ) -> list[str]:
        answers = {"List every object.": "blue square [16, 0, 24, 8]; red circle [0, 0, 8, 8]; "
                   "red circle [0, 16, 8, 24]", "Where is the red circle?": "[0, 0, 8, 8]",
                   "Where is the green circle?": "[16, 0, 24, 8]"}  # fmt: skip
        return [answers[p] for p in prompts]

    report, _ = evaluate(rows, model, codec, evidence=False, listing=True, grounds_from="answer")
    tasks = report["benches"]["grounding"]["tasks"]
    assert (tasks["locpred"]["accuracy"], tasks["locpred_served"]["accuracy"]) == (0.0, 1.0)
    assert (tasks["negpred"]["accuracy"], tasks["negpred_served"]["accuracy"]) == (0.0, 1.0)


def _tall(tmp_path: Path) -> Path:
    """A 64x128 image whose red is its row (a crop's top row tells where it starts)."""
    image = tmp_path / "tall.png"
    picture = Image.new("RGB", (64, 128))
    picture.putdata([(y, 0, 0) for y in range(128) for _ in range(64)])
    picture.save(image)
    return image


def _tiled_model(
    images: Sequence[Image.Image], prompts: Sequence[str], regexes: Sequence[str | None]
) -> list[str]:
    """The whole 64x128 image shows a circle; each crop lists what lies whole in it: crop
    1 a square that is not there, crop 2 the square, found again by its own question."""
    out = []
    for im, p in zip(images, prompts, strict=True):
        where = "whole" if im.size == (64, 128) else im.getpixel((0, 0))[0]
        answers = {("whole", "List every object."): "red circle [1, 1, 5, 5]",
                   ("whole", "Where is the red circle?"): "[1, 1, 5, 5]",
                   (0, "List every object."): "red circle [2, 2, 10, 10]",
                   (32, "List every object."): "blue square [2, 4, 10, 12]",  # a ghost
                   (64, "List every object."): "blue square [20, 10, 28, 18]",
                   (64, "Where is the blue square?"): "[20, 10, 28, 18]"}  # fmt: skip
        out.append(answers.get((where, p), "There is no such thing."))
    return out


_OBJECTS = [{"category": "red circle", "box": [4, 4, 20, 20]},
            {"category": "blue square", "box": [40, 84, 56, 100]}]  # fmt: skip


def test_a_tall_image_s_grounding_rows_are_judged_in_tiles_as_the_api_serves_them(
    tmp_path: Path,
) -> None:
    """`Sidecar.grounds_in_tiles`: a phrase's boxes are its category's among the objects
    `/v1/detect` finds in tiles (`tasks.tiles.listed`)."""
    image, codec = _tall(tmp_path), get_codec("ivb", bins=32)
    rows = [{"id": f"grounding/0/{i}", "bench": "grounding", "task": task, "image": str(image),
             "size": [64, 128], "args": {"phrase": phrase}, "expected": {"boxes": boxes}}
            for i, (task, phrase, boxes) in enumerate([
                ("locpred", "blue square", [_OBJECTS[1]["box"]]),  # crop 2 only sees it
                ("negpred", "green circle", []),
            ])]  # fmt: skip
    report, records = evaluate(rows, _tiled_model, codec, evidence=False, listing=True,
                               grounds_from="answer", vocabulary=["red circle", "blue square"],
                               tiles=True)  # fmt: skip
    tasks = report["benches"]["grounding"]["tasks"]
    assert tasks["locpred_served"]["accuracy"] == 1.0
    assert tasks["negpred_served"]["accuracy"] == 1.0
    assert tasks["locpred"]["accuracy"] == 0.0  # the whole image's own answer: nothing
    served = next(r for r in records if r["id"] == "grounding/0/0/served")
    assert len(served["also"]) == 2 + 3 + 3 * 2  # looks; crops' listings; crops' looks


def test_a_tall_image_s_detection_row_is_judged_in_tiles_as_the_api_serves_it(
    tmp_path: Path,
) -> None:
    """`Sidecar.detects_in_tiles`: each crop listed too, its objects kept where the whole
    image's answers or the crop's own answer about the category have them
    (`tasks.tiles.listed`); here crop 1 lists a square that is not there."""
    image, codec = _tall(tmp_path), get_codec("ivb", bins=32)
    row = {"id": "detection/0/0", "bench": "detection", "task": "detect", "image": str(image),
           "size": [64, 128], "args": {}, "expected": {"objects": _OBJECTS}}  # fmt: skip
    vocabulary = ["red circle", "blue square"]
    report, records = evaluate([row], _tiled_model, codec, evidence=False, listing=True,
                               vocabulary=vocabulary, detect_tiles=True)  # fmt: skip
    tasks = report["benches"]["detection"]["tasks"]
    assert tasks["detect"]["accuracy"] == 0.0  # the whole image's listing misses the square
    assert tasks["detect_served"]["accuracy"] == 1.0  # crop 2's square; crop 1's ghost gone
    served = next(r for r in records if r["id"] == "detection/0/0/served")
    assert len(served["also"]) == 2 + 3 + 3 * 2  # looks; crops' listings; crops' looks


def test_side_rows_are_judged_with_the_side_the_listing_gives(tmp_path: Path) -> None:
    """As `/v1/spatial` answers for a checkpoint read from its listing: the listing's side
    where it places both objects once, apart on the axis; else the model's own."""
    image = tmp_path / "scene.png"
    Image.new("RGB", (64, 64)).save(image)
    pair = {"subject": "red circle", "reference": "blue square"}
    rows = [{"id": f"leftright/0/{i}", "bench": "leftright", "task": task, "image": str(image),
             "size": [64, 64], "args": {**pair, **args}, "expected": {"answer": answer}}
            for i, (task, args, answer) in enumerate([
                ("spatial_side", {"axis": "horizontal"}, "right"),
                ("spatial_yes_no", {"relation": "left of"}, "no"),
                ("spatial_side", {"axis": "vertical"}, "above"),  # listed apart on x only
            ])]  # fmt: skip

    def model(
        images: Sequence[Image.Image], prompts: Sequence[str], regexes: Sequence[str | None]
    ) -> list[str]:
        listing = "blue square [0, 0, 8, 8]; red circle [20, 4, 30, 8]"
        return [listing if p == "List every object." else "left" if "side" in p else "yes"
                for p in prompts]  # fmt: skip

    codec = get_codec("ivb", bins=32)
    tasks = evaluate(rows, model, codec, evidence=False, listing=True)[0]["benches"]
    side = tasks["leftright"]["tasks"]
    assert (side["spatial_side"]["accuracy"], side["spatial_side_served"]["accuracy"]) == (0.0, 0.5)
    assert side["spatial_yes_no_served"]["accuracy"] == 1.0  # right of: not left of
    plain = evaluate(rows, model, codec, evidence=False)[0]["benches"]["leftright"]["tasks"]
    assert "spatial_side_served" not in plain  # asked as the API asks it: nothing differs
    assert plain["spatial_yes_no_served"]["accuracy"] == 0.0  # the side said: left


def test_detection_rows_are_also_judged_with_the_api_s_second_look(tmp_path: Path) -> None:
    """As `/v1/detect` answers: beside the listing, each category of the vocabulary is
    asked its own question in the same call; a box where nothing is listed is added."""
    image = tmp_path / "scene.png"
    Image.new("RGB", (64, 64)).save(image)
    codec = get_codec("ivb", bins=32)
    objects = [{"category": "blue square", "box": [32, 0, 48, 16]},
               {"category": "red circle", "box": [0, 32, 16, 48]}]  # fmt: skip
    row = {"id": "detection/0", "bench": "detection", "task": "detect", "image": str(image),
           "size": [64, 64], "args": {}, "expected": {"objects": objects}}  # fmt: skip

    def model(
        images: Sequence[Image.Image], prompts: Sequence[str], regexes: Sequence[str | None]
    ) -> list[str]:
        answers = {"List every object.": "blue square [16, 0, 24, 8]",
                   "Where is the red circle?": "[0, 16, 8, 24]",  # missed by the listing
                   "Where is the blue square?": "[16, 0, 24, 8]"}  # fmt: skip
        return [answers[p] for p in prompts]

    vocabulary = ["red circle", "blue square"]
    report, records = evaluate(
        [row], model, codec, evidence=False, listing=True, vocabulary=vocabulary
    )
    tasks = report["benches"]["detection"]["tasks"]
    assert (tasks["detect"]["detection"]["recall"], tasks["detect_served"]["detection"]) == (
        0.5,
        {"precision": 1.0, "recall": 1.0, "f1": 1.0, "objects": 2},
    )
    assert records[1]["also"] == ["[0, 16, 8, 24]", "[16, 0, 24, 8]"]
