"""Box geometry and coordinate codecs: boxes in pixels <-> the text a model writes.

`get_codec("ivb", bins=100).decode(text, (width, height))` returns boxes in the
original image's pixels whatever representation the model used.
"""

from locvlm.coords.base import Codec, LabeledBox
from locvlm.coords.registry import CODECS, get_codec

__all__ = ["CODECS", "Codec", "LabeledBox", "get_codec"]
