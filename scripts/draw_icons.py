"""Draw the Teams app icons, appmanifest/color.png and appmanifest/outline.png, in pure Python.

    .venv/bin/python scripts/draw_icons.py [--out appmanifest]

The icons are committed; run this only to change them. The design is a shield (keeping someone safe) holding a
speech bubble with a heart in it (telling someone): the colour icon is a white shield on Safe Space teal with a
teal bubble and a coral heart, the outline icon is the shield's outline with the heart inside.

What Teams asks for (learn.microsoft.com, "Teams app package", App icons):

* colour: 192x192, the symbol within the middle 96x96 (48 px padding, as Teams crops to a rounded square or a
  hexagon), on a solid or fully transparent square background, corners not rounded;
* outline: 32x32, white (255, 255, 255) on a fully transparent background (alpha 0), no other colours and no
  padding around the symbol.

Shapes are polygons (curves are flattened), filled with the even-odd rule and anti-aliased by sampling each
pixel on an 8x8 grid. PNGs are written with zlib; no imaging library is needed.
"""

from __future__ import annotations

import argparse
import math
import struct
import zlib
from collections.abc import Iterable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

Point = tuple[float, float]
Polygon = list[Point]
Rgb = tuple[int, int, int]

TEAL: Rgb = (0x1F, 0x6F, 0x78)  # also the manifest's accentColor
WHITE: Rgb = (0xFF, 0xFF, 0xFF)
CORAL: Rgb = (0xF2, 0x6B, 0x5B)
SAMPLES = 8  # per pixel, in each direction


# Geometry -------------------------------------------------------------------------------------------------


def cubic(p0: Point, p1: Point, p2: Point, p3: Point, steps: int = 32) -> Polygon:
    """A cubic Bézier as `steps` points, excluding p0 (so consecutive segments join without repeats)."""
    points: Polygon = []
    for i in range(1, steps + 1):
        t = i / steps
        u = 1 - t
        points.append(
            (
                u**3 * p0[0] + 3 * u * u * t * p1[0] + 3 * u * t * t * p2[0] + t**3 * p3[0],
                u**3 * p0[1] + 3 * u * u * t * p1[1] + 3 * u * t * t * p2[1] + t**3 * p3[1],
            )
        )
    return points


def shield(x: float, y: float, width: float, height: float) -> Polygon:
    """A shield whose top rises to a point in the middle and whose sides curve into a point at the bottom."""

    def at(u: float, v: float) -> Point:
        return (x + u * width, y + v * height)

    right: Polygon = [at(0.5, 0.0)]
    right += cubic(at(0.5, 0.0), at(0.66, 0.09), at(0.84, 0.12), at(1.0, 0.12))
    right += cubic(at(1.0, 0.12), at(1.0, 0.25), at(1.0, 0.38), at(1.0, 0.50))
    right += cubic(at(1.0, 0.50), at(1.0, 0.76), at(0.76, 0.92), at(0.5, 1.0))
    # The left half is the mirror image, walked back up.
    left = [(2 * x + width - px, py) for px, py in reversed(right[1:-1])]
    return right + left


def rounded_rect(x: float, y: float, width: float, height: float, radius: float, steps: int = 12) -> Polygon:
    points: Polygon = []
    corners = [
        (x + width - radius, y + radius, -90.0),
        (x + width - radius, y + height - radius, 0.0),
        (x + radius, y + height - radius, 90.0),
        (x + radius, y + radius, 180.0),
    ]
    for cx, cy, start in corners:
        for i in range(steps + 1):
            angle = math.radians(start + 90.0 * i / steps)
            points.append((cx + radius * math.cos(angle), cy + radius * math.sin(angle)))
    return points


def heart(cx: float, cy: float, size: float, steps: int = 160) -> Polygon:
    """The classic heart curve, `size` wide, centred on (cx, cy)."""
    raw = []
    for i in range(steps):
        t = 2 * math.pi * i / steps
        raw.append(
            (
                16 * math.sin(t) ** 3,
                -(13 * math.cos(t) - 5 * math.cos(2 * t) - 2 * math.cos(3 * t) - math.cos(4 * t)),
            )
        )
    xs = [p[0] for p in raw]
    ys = [p[1] for p in raw]
    scale = size / (max(xs) - min(xs))
    mid_y = (max(ys) + min(ys)) / 2
    return [(cx + px * scale, cy + (py - mid_y) * scale) for px, py in raw]


def offset(polygon: Polygon, distance: float, miter_limit: float = 3.0) -> Polygon:
    """Move every vertex `distance` along its outward normal (negative: inward); mitred, with a limit."""
    area = sum(a[0] * b[1] - b[0] * a[1] for a, b in zip(polygon, polygon[1:] + polygon[:1], strict=True))
    sign = 1.0 if area > 0 else -1.0  # y grows downwards: positive area is clockwise on screen
    moved: Polygon = []
    count = len(polygon)
    for i, (px, py) in enumerate(polygon):
        ax, ay = polygon[i - 1]
        bx, by = polygon[(i + 1) % count]
        normals = []
        for (sx, sy), (ex, ey) in (((ax, ay), (px, py)), ((px, py), (bx, by))):
            dx, dy = ex - sx, ey - sy
            length = math.hypot(dx, dy) or 1.0
            normals.append((-dy / length * sign, dx / length * sign))
        nx, ny = normals[0][0] + normals[1][0], normals[0][1] + normals[1][1]
        length = math.hypot(nx, ny) or 1.0
        nx, ny = nx / length, ny / length
        cos_half = max(nx * normals[0][0] + ny * normals[0][1], 1.0 / miter_limit)
        moved.append((px - nx * distance / cos_half, py - ny * distance / cos_half))
    return moved


# Raster ---------------------------------------------------------------------------------------------------


def coverage(polygons: Sequence[Polygon], width: int, height: int) -> list[float]:
    """Fraction (0 to 1) of each pixel inside the polygons, even-odd, from SAMPLES x SAMPLES samples per pixel."""
    sub_width = width * SAMPLES
    counts = [0] * (width * height)
    edges = [
        (a, b) for polygon in polygons for a, b in zip(polygon, polygon[1:] + polygon[:1], strict=True) if a[1] != b[1]
    ]
    for sub_row in range(height * SAMPLES):
        y = (sub_row + 0.5) / SAMPLES
        crossings = sorted(
            a[0] + (y - a[1]) * (b[0] - a[0]) / (b[1] - a[1])
            for a, b in edges
            if (a[1] <= y < b[1]) or (b[1] <= y < a[1])
        )
        diff = [0] * (sub_width + 1)
        for start, end in zip(crossings[::2], crossings[1::2], strict=True):
            first = max(0, math.ceil(start * SAMPLES - 0.5))
            last = min(sub_width - 1, math.floor(end * SAMPLES - 0.5))
            if first <= last:
                diff[first] += 1
                diff[last + 1] -= 1
        row = (sub_row // SAMPLES) * width
        running = 0
        for sub_col in range(sub_width):
            running += diff[sub_col]
            if running:
                counts[row + sub_col // SAMPLES] += 1
    total = SAMPLES * SAMPLES
    return [count / total for count in counts]


class Canvas:
    """Straight (not premultiplied) RGBA in floats, painted with source-over compositing."""

    def __init__(self, width: int, height: int, background: Rgb | None = None) -> None:
        self.width = width
        self.height = height
        r, g, b = background or (0, 0, 0)
        alpha = 1.0 if background else 0.0
        self.pixels = [[r / 255, g / 255, b / 255, alpha] for _ in range(width * height)]

    def fill(self, polygons: Sequence[Polygon], colour: Rgb) -> None:
        source = [channel / 255 for channel in colour]
        for pixel, cover in zip(self.pixels, coverage(polygons, self.width, self.height), strict=True):
            if cover <= 0:
                continue
            alpha = cover + pixel[3] * (1 - cover)
            for i in range(3):
                pixel[i] = (source[i] * cover + pixel[i] * pixel[3] * (1 - cover)) / alpha
            pixel[3] = alpha

    def rgba_rows(self) -> Iterable[bytes]:
        for y in range(self.height):
            row = bytearray()
            for r, g, b, a in self.pixels[y * self.width : (y + 1) * self.width]:
                row += bytes(round(channel * 255) for channel in (r, g, b, a))
            yield bytes(row)


def png(width: int, height: int, rows: Iterable[bytes], *, alpha: bool) -> bytes:
    """An 8-bit RGBA (colour type 6) or RGB (type 2) PNG, each row unfiltered."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    raw = bytearray()
    for row in rows:
        raw += b"\x00" + (row if alpha else b"".join(row[i : i + 3] for i in range(0, len(row), 4)))
    header = struct.pack(">IIBBBBB", width, height, 8, 6 if alpha else 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(bytes(raw), 9))
        + chunk(b"IEND", b"")
    )


# The two icons --------------------------------------------------------------------------------------------


def colour_icon() -> bytes:
    """192x192: a white shield on teal, holding a teal speech bubble with a coral heart; symbol in the middle 96."""
    canvas = Canvas(192, 192, background=TEAL)
    canvas.fill([shield(52, 48, 88, 96)], WHITE)
    bubble = rounded_rect(69, 72, 54, 38, 10)
    tail = [(80, 106), (92, 106), (76, 119)]
    canvas.fill([bubble], TEAL)
    canvas.fill([tail], TEAL)
    canvas.fill([heart(96, 91, 29)], CORAL)
    return png(192, 192, canvas.rgba_rows(), alpha=False)


def outline_icon() -> bytes:
    """32x32: the shield's outline and a filled heart, white on transparent, touching the edges (no padding)."""
    canvas = Canvas(32, 32)
    outer = shield(3.0, 0.25, 26.0, 31.5)
    inner = offset(outer, 2.4)
    canvas.fill([outer, inner], WHITE)
    canvas.fill([heart(16.0, 14.6, 12.0)], WHITE)
    # Teams wants exactly white wherever anything is drawn and alpha 0 elsewhere: keep the RGB white everywhere.
    for pixel in canvas.pixels:
        pixel[0] = pixel[1] = pixel[2] = 1.0
    return png(32, 32, canvas.rgba_rows(), alpha=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=ROOT / "appmanifest", help="folder to write the PNGs to")
    args = parser.parse_args(argv)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    (out / "color.png").write_bytes(colour_icon())
    (out / "outline.png").write_bytes(outline_icon())
    print(f"wrote {out / 'color.png'} and {out / 'outline.png'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
