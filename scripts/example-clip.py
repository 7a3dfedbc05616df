"""Write the README's example clip: docs/examples/clip.gif and clip.mp4.

    .venv/bin/python scripts/example-clip.py

A 16-frame moving-shapes clip at 160x128 with just a red circle and a blue square (the
first such seed from 7), so the video examples of both READMEs run as written.
"""

from __future__ import annotations

from pathlib import Path

from locvlm.data.clips import render_clip
from locvlm.data.shapes import ShapesConfig
from locvlm.data.shapes_writer import write_video

OUT = Path(__file__).resolve().parents[1] / "docs" / "examples"
WANTED = {"red circle", "blue square"}


def main() -> None:
    """Find the first seed whose clip shows both wanted objects once, and write it."""
    config = ShapesConfig(size=(160, 128), min_objects=2, max_objects=2, repeat_prob=0.0)
    for seed in range(7, 10_000):
        frames, tracks = render_clip((seed, 0), 16, config)
        labels = [o.category for o in tracks[0]]
        if all(labels.count(w) == 1 for w in WANTED):
            break
    frames[0].save(OUT / "clip.gif", save_all=True, append_images=frames[1:], duration=125,
                   loop=0)  # fmt: skip
    write_video(OUT / "clip.mp4", frames)
    print(f"seed {seed}: {labels}")  # noqa: T201


if __name__ == "__main__":
    main()
