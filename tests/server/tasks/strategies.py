"""Hypothesis strategies of model text: anything at all, and near-misses of our formats."""

from hypothesis import strategies as st

# Characters of boxes, labels and task words, so that examples often come close to parsing.
_NEAR = "[]{}<>()0123456789.,;:+- AaBbdeghilnorstuwy\n"

MODEL_TEXT = st.one_of(st.text(), st.text(alphabet=_NEAR, max_size=80))
"""Arbitrary text and text made of our formats' characters."""
