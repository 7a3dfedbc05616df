"""`locvlm-client`: the API from a shell.

    locvlm-client ground scene.png "red circle" "blue square" --draw out.png
    locvlm-client describe scene.png --box 10,20,40,50
    locvlm-client ask scene.png "Is the red circle left of the blue square?"
    locvlm-client detect scene.png --json
    locvlm-client track clip.mp4 "red circle" "blue square"
    locvlm-client ask-video frames/ "Which way does the red circle move?"

IMAGE is a file path, an http(s) URL (the server fetches it) or `-` for stdin. CLIP is
a video file (animated GIF or WebP, MP4), its URL, `-` for stdin, or a folder of frame
images (taken in name order).
Exit codes, for scripts:
    0  done (for `ground`: every phrase was found; for `health`: ready)
    1  `ground`, `track`: some phrase is not in the image (in no frame of the clip)
    2  usage error: bad arguments, unreadable image file, bad --box
    3  the server rejected the request (4xx other than 429: bad image, auth, limits)
    4  the server could not answer (unreachable, timeout, 429 or 5xx after retries;
       `health`: not ready)
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from pydantic import BaseModel

from locvlm_client._box import Box
from locvlm_client._client import Client
from locvlm_client._errors import APIConnectionError, APIStatusError
from locvlm_client._types import (
    DescribeResponse,
    DetectResponse,
    GroundResponse,
    SpatialResponse,
)
from locvlm_client._video import Track, VideoAskResponse, VideoTrackResponse

__all__ = ["main"]

OK, NOT_FOUND, USAGE, REJECTED, UNAVAILABLE = 0, 1, 2, 3, 4


def _box(text: str) -> Box:
    try:
        values = [float(v) for v in text.split(",")]
        if len(values) != 4:
            raise ValueError
        return Box.from_xyxy(values)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(
            f"--box wants x1,y1,x2,y2 in pixels with x1<=x2 and y1<=y2, got {text!r}"
        ) from exc


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="locvlm-client",
        description="Ask a locvlm server where things are.",
        epilog="Exit codes: 0 done, 1 phrase not found (ground), 2 usage, 3 rejected "
        "by the server (4xx), 4 server unavailable (connection, timeout, 429, 5xx).",
    )
    parser.add_argument("--base-url", help="server URL (default $LOCVLM_BASE_URL or :8000)")
    parser.add_argument("--api-key", help="API key (default $LOCVLM_API_KEY)")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per request")
    parser.add_argument("--max-retries", type=int, default=2, help="retries on 429/5xx")
    sub = parser.add_subparsers(dest="command", required=True)

    def task(name: str, help_: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_)
        p.add_argument("image", help="image file, http(s) URL, or - for stdin")
        p.add_argument("--json", action="store_true", help="print the API's JSON answer")
        p.add_argument("--draw", metavar="OUT.png", help="save the image with the boxes")
        return p

    ground = task("ground", "boxes of each phrase")
    ground.add_argument("phrases", nargs="+", metavar="PHRASE")
    ground.add_argument("--coords", choices=["pixel", "normalized"], default="pixel")
    describe = task("describe", "what is in each region")
    describe.add_argument("--box", type=_box, action="append", required=True,
                          help="x1,y1,x2,y2 in pixels (repeatable)")  # fmt: skip
    describe.add_argument("--no-context", action="store_true", help="label only")
    ask = task("ask", "a spatial question, answered with its evidence boxes")
    ask.add_argument("question")
    detect = task("detect", "every object")
    detect.add_argument("--category", action="append", help="only these (repeatable)")
    detect.add_argument("--no-second-look", action="store_true",
                        help="the model's listing alone (faster, lower recall)")  # fmt: skip
    track = sub.add_parser("track", help="each phrase through a clip, as tracks")
    track.add_argument("clip", help="video file, http(s) URL, - for stdin, or a frames folder")
    track.add_argument("phrases", nargs="+", metavar="PHRASE")
    ask_video = sub.add_parser("ask-video", help="a motion question about a clip")
    ask_video.add_argument("clip", help="video file, http(s) URL, - for stdin, or a frames folder")
    ask_video.add_argument("question")
    for p in (track, ask_video):
        p.add_argument("--json", action="store_true", help="print the API's JSON answer")
    for name, help_ in (("models", "the served model"), ("health", "is the server ready")):
        sub.add_parser(name, help=help_).add_argument("--json", action="store_true")
    return parser


def _say(stream: TextIO, text: str) -> None:
    stream.write(text + "\n")


def _image(arg: str) -> bytes | str:
    if arg == "-":
        return sys.stdin.buffer.read()
    return arg


def _clip(arg: str) -> bytes | str | list[Path]:
    """A folder is the clip's frames, in name order; anything else one video file."""
    folder = Path(arg)
    if arg != "-" and folder.is_dir():
        frames = sorted(p for p in folder.iterdir() if p.is_file())
        if not frames:
            raise ValueError(f"no frame images in {folder}")
        return frames
    return _image(arg)


def _track(track: Track) -> str:
    found = [(i, box) for i, box in enumerate(track.boxes) if box is not None]
    if not found:
        return f"{track.label} #{track.id}: not found"
    (first, start), (last, end) = found[0], found[-1]
    return (f"{track.label} #{track.id}: frames {first}-{last} ({len(found)} found), "
            f"{list(start.to_xyxy())} -> {list(end.to_xyxy())}")  # fmt: skip


def _text(answer: BaseModel) -> str:
    if isinstance(answer, GroundResponse):
        lines = []
        for r in answer.results:
            boxes = " ".join(f"[{b.x1:g}, {b.y1:g}, {b.x2:g}, {b.y2:g}]" for b in r.boxes)
            lines.append(f"{r.phrase}: {boxes if r.found else 'not found'}")
        return "\n".join(lines)
    if isinstance(answer, DescribeResponse):
        return "\n".join(f"{list(r.region.to_xyxy())}: {r.description}" for r in answer.results)
    if isinstance(answer, SpatialResponse):
        evidence = "; ".join(f"{d.label} {list(d.box.to_xyxy())}" for d in answer.evidence)
        return answer.answer + (f"\n  evidence: {evidence}" if evidence else "")
    if isinstance(answer, DetectResponse):
        return "\n".join(f"{d.label}: {list(d.box.to_xyxy())}" for d in answer.detections)
    if isinstance(answer, VideoTrackResponse):
        return "\n".join(_track(t) for t in answer.tracks) or "no tracks"
    if isinstance(answer, VideoAskResponse):
        return "\n".join([answer.answer, *(f"  evidence: {_track(t)}" for t in answer.tracks)])
    return answer.model_dump_json(indent=2)


def _run(client: Client, args: argparse.Namespace) -> tuple[BaseModel, int]:
    command = args.command
    if command == "models":
        return client.models(), OK
    if command == "health":
        ready = client.health()
        return ready, OK if ready.ready else UNAVAILABLE
    if command == "track":
        tracked = client.track(_clip(args.clip), args.phrases)
        found = {t.label for t in tracked.tracks if t.frames}
        return tracked, OK if all(p in found for p in args.phrases) else NOT_FOUND
    if command == "ask-video":
        return client.ask_video(_clip(args.clip), args.question), OK
    image = _image(args.image)
    answer: Any
    code = OK
    if command == "ground":
        answer = client.ground(image, args.phrases, coords=args.coords)
        code = OK if all(r.found for r in answer.results) else NOT_FOUND
    elif command == "describe":
        answer = client.describe(image, args.box, context=not args.no_context)
    elif command == "ask":
        answer = client.spatial(image, args.question)
    else:
        second_look = False if args.no_second_look else None  # None: the server's default
        answer = client.detect(image, args.category, second_look=second_look)
    if args.draw:
        if command == "ground" and args.coords == "normalized":
            raise ValueError("--draw needs pixel boxes: leave out --coords normalized")
        answer.draw(image).save(args.draw)
    return answer, code


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:  # --help, or a usage error argparse has already explained
        return int(exc.code) if isinstance(exc.code, int) else USAGE
    try:
        with Client(base_url=args.base_url, api_key=args.api_key, timeout=args.timeout,
                    max_retries=args.max_retries) as client:  # fmt: skip
            answer, code = _run(client, args)
    except APIStatusError as exc:
        _say(sys.stderr, f"locvlm-client: {exc}")
        return REJECTED if exc.status_code < 500 and exc.status_code != 429 else UNAVAILABLE
    except APIConnectionError as exc:
        _say(sys.stderr, f"locvlm-client: {exc}")
        return UNAVAILABLE
    except (OSError, ValueError, TypeError, ImportError) as exc:
        _say(sys.stderr, f"locvlm-client: {exc}")
        return USAGE
    _say(sys.stdout, answer.model_dump_json(indent=2) if args.json else _text(answer))
    return code


if __name__ == "__main__":
    sys.exit(main())
