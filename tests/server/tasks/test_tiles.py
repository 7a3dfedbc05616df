"""`tasks.tiles`: square crops of a non-square image, their boxes merged and checked."""

from locvlm.tasks.base import Obj
from locvlm.tasks.tiles import checked, crops, merged
from locvlm_client import Box


def test_tiles_keep_whole_objects_once_in_image_pixels() -> None:
    assert crops((100, 110)) == ()  # square enough: asked whole
    tall = crops((100, 200))
    assert tall == ((0, 0, 100, 100), (0, 50, 100, 150), (0, 100, 100, 200))
    assert crops((200, 100)) == ((0, 0, 100, 100), (50, 0, 150, 100), (100, 0, 200, 100))
    answers = [  # crops at 0, 50 and 100 px down
        (tall[0], [Box(x1=10, y1=20, x2=40, y2=50), Box(x1=10, y1=60, x2=40, y2=90),
                   Box(x1=60, y1=70, x2=90, y2=99)]),  # the last at the crop's bottom cut
        (tall[1], [Box(x1=61, y1=20, x2=90, y2=49),  # that one whole
                   Box(x1=11, y1=10, x2=40, y2=40)]),  # the second one again
        (tall[2], [Box(x1=60, y1=0, x2=90, y2=1)]),  # at its top cut: dropped
    ]  # fmt: skip
    got = merged(answers, (100, 200), margin=0.02, dedup=0.5)
    assert got == [
        Box(x1=10, y1=20, x2=40, y2=50),
        Box(x1=10, y1=60, x2=40, y2=90),
        Box(x1=61, y1=70, x2=90, y2=99),
    ]


def test_a_tile_box_on_a_listed_neighbour_is_a_mix_up() -> None:
    listed = [Obj("yellow diamond", Box(x1=0, y1=0, x2=10, y2=10)),
              Obj("yellow circle", Box(x1=50, y1=50, x2=60, y2=60))]  # fmt: skip
    boxes = [Box(x1=0, y1=0, x2=10, y2=11), Box(x1=50, y1=50, x2=60, y2=60),
             Box(x1=80, y1=80, x2=90, y2=90)]  # fmt: skip
    # the diamond is not the circle; the listed circle and an unlisted box stand
    assert checked(boxes, listed, "Yellow circle") == boxes[1:]
    assert checked(boxes, listed, "yellow diamond") == [boxes[0], boxes[2]]
