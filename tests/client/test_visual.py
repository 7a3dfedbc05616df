import numpy as np
import pytest
import supervision as sv
from PIL import Image

from locvlm_client import Box, DetectResponse, GroundResponse, SpatialResponse

GROUND = GroundResponse.model_validate(
    {
        "image_size": {"width": 100, "height": 60},
        "results": [
            {"phrase": "red circle", "found": True, "boxes": [
                {"x1": 10, "y1": 10, "x2": 30, "y2": 30}, {"x1": 50, "y1": 5, "x2": 70, "y2": 25}]},
            {"phrase": "blue square", "found": True, "boxes": [
                {"x1": 40, "y1": 35, "x2": 60, "y2": 55}]},
            {"phrase": "green diamond", "found": False, "boxes": []},
        ],
    }
)  # fmt: skip


def test_ground_to_supervision() -> None:
    detections = GROUND.to_supervision()
    assert isinstance(detections, sv.Detections)
    assert len(detections) == 3
    np.testing.assert_allclose(detections.xyxy[2], [40, 35, 60, 55])
    assert detections.class_id.tolist() == [0, 0, 1]
    assert detections["class_name"].tolist() == ["red circle", "red circle", "blue square"]
    fixed = GROUND.to_supervision(classes=["blue square", "red circle"])
    assert fixed.class_id.tolist() == [1, 1, 0]
    with pytest.raises(ValueError, match="not in classes"):
        GROUND.to_supervision(classes=["blue square"])


def test_supervision_annotators_take_our_detections() -> None:
    scene = np.full((60, 100, 3), 255, dtype=np.uint8)
    drawn = sv.BoxAnnotator().annotate(scene.copy(), GROUND.to_supervision())
    assert (drawn != scene).any()


def test_detect_confidences_reach_supervision() -> None:
    box = {"x1": 1, "y1": 2, "x2": 30, "y2": 40}
    detect = DetectResponse.model_validate({
        "image_size": {"width": 100, "height": 60},
        "detections": [{"label": "red circle", "box": box, "confidence": 0.25},
                       {"label": "blue square", "box": box, "confidence": 0.9}],
    })  # fmt: skip
    detections = detect.to_supervision()
    np.testing.assert_allclose(detections.confidence, [0.25, 0.9])
    assert len(detections[detections.confidence > 0.5]) == 1  # supervision's own filtering
    unscored = detect.model_copy(update={"detections": [d.model_copy(update={"confidence": None})
                                                        for d in detect.detections]})  # fmt: skip
    assert unscored.to_supervision().confidence is None
    assert GROUND.to_supervision().confidence is None


def test_empty_answers_give_empty_detections() -> None:
    empty = DetectResponse(image_size={"width": 4, "height": 4}, detections=[])  # type: ignore[arg-type]
    assert len(empty.to_supervision()) == 0
    spatial = SpatialResponse(answer="yes", answer_type="yes_no", evidence=[])
    assert spatial.labelled() == []


def test_draw_outlines_each_box_in_the_label_colour() -> None:
    image = Image.new("RGB", (100, 60), (255, 255, 255))
    drawn = GROUND.draw(image)
    assert drawn.size == image.size
    assert image.getpixel((10, 20)) == (255, 255, 255)
    left_edge = drawn.getpixel((10, 20))
    assert left_edge != (255, 255, 255)
    assert drawn.getpixel((50, 20)) == left_edge  # same phrase, same colour
    assert drawn.getpixel((40, 45)) not in (left_edge, (255, 255, 255))
    assert drawn.getpixel((20, 20)) == (255, 255, 255)  # inside stays clear


def test_boxes_convert_between_forms() -> None:
    box = GROUND.results[0].boxes[0]
    assert box.to_xywh() == (10, 10, 20, 20)
    assert box.to_normalized(GROUND.image_size) == (0.1, 10 / 60, 0.3, 0.5)
    assert Box.from_xywh(box.to_xywh()) == box
