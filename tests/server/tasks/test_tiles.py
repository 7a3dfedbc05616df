"""`tasks.tiles`: square crops of a non-square image, their listings as one."""

from locvlm.tasks.base import Obj
from locvlm.tasks.tiles import crops, listed, placed, supported, to_confirm
from locvlm_client import Box


def test_a_non_square_image_has_three_square_crops_along_its_long_side() -> None:
    assert crops((100, 110)) == ()  # square enough: asked whole
    assert crops((100, 200)) == ((0, 0, 100, 100), (0, 50, 100, 150), (0, 100, 100, 200))
    assert crops((200, 100)) == ((0, 0, 100, 100), (50, 0, 150, 100), (100, 0, 200, 100))


def test_crops_listings_become_one_listing_of_the_objects_the_image_s_answers_support() -> None:
    size = (100, 200)
    tall = crops(size)  # at 0, 50 and 100 px down
    circle = Obj("red circle", Box(x1=10, y1=20, x2=40, y2=50))
    listings = [
        (tall[0], [circle, Obj("blue square", Box(x1=60, y1=50, x2=90, y2=80)),  # a ghost
                   Obj("red circle", Box(x1=10, y1=90, x2=40, y2=100))]),  # at the cut
        (tall[1], [Obj("red circle", Box(x1=10, y1=-30, x2=40, y2=0)),  # circle, cut: dropped
                   Obj("green diamond", Box(x1=10, y1=40, x2=30, y2=60))]),  # unsupported
        (tall[2], [Obj("green diamond", Box(x1=11, y1=-10, x2=31, y2=10)),  # at the cut
                   Obj("red circle", Box(x1=10, y1=60, x2=40, y2=90))]),  # a second circle
    ]  # fmt: skip
    whole = [Obj("red circle", Box(x1=10, y1=22, x2=40, y2=52))]  # the listing: one circle
    looks = {"red circle": [Box(x1=10, y1=160, x2=40, y2=190)], "green diamond": []}
    assert [p[:2] for p in placed(listings, size)] == [(0, 0), (0, 1), (1, 1), (2, 1)]
    need = to_confirm(listings, whole, looks, size)
    assert need == [(0, "blue square"), (1, "green diamond")]  # the circles are supported
    crop_looks = {(0, "blue square"): [], (1, "green diamond"): [Box(x1=10, y1=41, x2=30, y2=61)]}
    got = [(k, i, o.category, o.box.to_xyxy()) for k, i, o in
           listed(listings, whole, looks, crop_looks, size)]  # fmt: skip
    assert got == [
        (0, 0, "red circle", (10, 20, 40, 50)),
        (1, 1, "green diamond", (10, 90, 30, 110)),  # its crop's own answer finds it
        (2, 1, "red circle", (10, 160, 40, 190)),  # the second look has it
    ]
    assert supported(circle, whole, {})
    assert not supported(circle, [], {})
