"""A line plot written as a PNG in pure Python (zlib and struct only), for the benchmarks.

matplotlib is not a dependency of zentrale, and a soak's figure needs only one line over time
with labelled axes: `write_png(path, [(x, y), ...], title=...)` draws that on a white canvas
with grid lines and tick labels in a 3x5 pixel font (digits, a few capitals, '.', '-', ':').
Also a command: `python bench/plot.py rss.csv rss.png` plots a soak's `rss.csv` (seconds,
placed, rss_kib) as MiB over minutes.
"""

from __future__ import annotations

import csv
import itertools
import math
import struct
import sys
import zlib
from pathlib import Path

WIDTH, HEIGHT = 800, 420
LEFT, RIGHT, TOP, BOTTOM = 70, 20, 40, 50
SCALE = 2  # font pixels per glyph pixel

# 3x5 glyphs, one string of 15 bits per character (rows top to bottom).
GLYPHS = {
    "0": "111101101101111",
    "1": "010110010010111",
    "2": "111001111100111",
    "3": "111001111001111",
    "4": "101101111001001",
    "5": "111100111001111",
    "6": "111100111101111",
    "7": "111001010010010",
    "8": "111101111101111",
    "9": "111101111001111",
    ".": "000000000000010",
    "-": "000000111000000",
    ":": "000010000010000",
    "(": "010100100100010",
    ")": "010001001001010",
    "A": "010101111101101",
    "B": "110101110101110",
    "C": "111100100100111",
    "E": "111100110100111",
    "G": "111100101101111",
    "H": "101101111101101",
    "I": "111010010010111",
    "K": "101101110101101",
    "L": "100100100100111",
    "M": "101111111101101",
    "N": "110101101101101",
    "O": "111101101101111",
    "P": "111101111100100",
    "R": "110101110101101",
    "S": "111100111001111",
    "T": "111010010010010",
    "U": "101101101101111",
    "V": "101101101101010",
    "Z": "111001010100111",
    " ": "000000000000000",
}

Colour = tuple[int, int, int]
WHITE, BLACK, GREY, BLUE = (255, 255, 255), (0, 0, 0), (220, 220, 220), (31, 90, 180)


class Canvas:
    """An RGB pixel grid."""

    def __init__(self, width: int, height: int) -> None:
        self.width, self.height = width, height
        self.rows = [bytearray(WHITE * width) for _ in range(height)]

    def dot(self, x: int, y: int, colour: Colour) -> None:
        """Set one pixel (ignored outside the canvas)."""
        if 0 <= x < self.width and 0 <= y < self.height:
            self.rows[y][3 * x : 3 * x + 3] = bytes(colour)

    def line(self, x0: int, y0: int, x1: int, y1: int, colour: Colour, thick: int = 1) -> None:
        """Draw a straight line (Bresenham), THICK pixels wide."""
        dx, dy = abs(x1 - x0), -abs(y1 - y0)
        sx, sy = (1 if x0 < x1 else -1), (1 if y0 < y1 else -1)
        err = dx + dy
        while True:
            for ox in range(thick):
                for oy in range(thick):
                    self.dot(x0 + ox, y0 + oy, colour)
            if x0 == x1 and y0 == y1:
                return
            e2 = 2 * err
            if e2 >= dy:
                err, x0 = err + dy, x0 + sx
            if e2 <= dx:
                err, y0 = err + dx, y0 + sy

    def text(self, x: int, y: int, label: str, colour: Colour = BLACK) -> None:
        """Write LABEL with its top-left corner at (x, y)."""
        for index, char in enumerate(label.upper()):
            bits = GLYPHS.get(char, GLYPHS[" "])
            for bit, on in enumerate(bits):
                if on == "1":
                    gx, gy = x + (index * 4 + bit % 3) * SCALE, y + (bit // 3) * SCALE
                    for ox in range(SCALE):
                        for oy in range(SCALE):
                            self.dot(gx + ox, gy + oy, colour)

    def png(self) -> bytes:
        """Return the canvas as PNG bytes (8-bit RGB, no filter)."""
        raw = b"".join(b"\x00" + bytes(row) for row in self.rows)
        header = struct.pack(">IIBBBBB", self.width, self.height, 8, 2, 0, 0, 0)
        return (
            b"\x89PNG\r\n\x1a\n"
            + _chunk(b"IHDR", header)
            + _chunk(b"IDAT", zlib.compress(raw, 9))
            + _chunk(b"IEND", b"")
        )


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def text_width(label: str) -> int:
    """Return LABEL's width in pixels."""
    return len(label) * 4 * SCALE


def ticks(low: float, high: float, count: int = 6) -> list[float]:
    """Return round tick values covering LOW..HIGH."""
    span = (high - low) or 1.0
    raw = span / count
    step = 10 ** math.floor(math.log10(raw))
    step *= next(m for m in (1, 2, 5, 10) if step * m >= raw)
    first, last = math.floor(low / step), max(math.ceil(high / step), math.floor(low / step) + 1)
    return [i * step for i in range(first, last + 1)]


def fmt(value: float) -> str:
    """Return a short tick label."""
    return f"{value:.0f}" if abs(value - round(value)) < 1e-9 else f"{value:.1f}"


def write_png(path: Path, points: list[tuple[float, float]], title: str = "") -> None:
    """Plot POINTS (x, y) as one line with axes, grid and tick labels into PATH."""
    canvas = Canvas(WIDTH, HEIGHT)
    xs, ys = [p[0] for p in points] or [0.0, 1.0], [p[1] for p in points] or [0.0, 1.0]
    xt, yt = ticks(min(xs), max(xs)), ticks(min(ys), max(ys))
    x0, x1, y0, y1 = xt[0], xt[-1], yt[0], yt[-1]
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def px(x: float) -> int:
        return LEFT + round((x - x0) / ((x1 - x0) or 1) * plot_w)

    def py(y: float) -> int:
        return TOP + plot_h - round((y - y0) / ((y1 - y0) or 1) * plot_h)

    for x in xt:
        canvas.line(px(x), TOP, px(x), TOP + plot_h, GREY)
        canvas.text(px(x) - text_width(fmt(x)) // 2, TOP + plot_h + 8, fmt(x))
    for y in yt:
        canvas.line(LEFT, py(y), LEFT + plot_w, py(y), GREY)
        canvas.text(LEFT - 8 - text_width(fmt(y)), py(y) - 5, fmt(y))
    canvas.line(LEFT, TOP, LEFT, TOP + plot_h, BLACK)
    canvas.line(LEFT, TOP + plot_h, LEFT + plot_w, TOP + plot_h, BLACK)
    for (ax, ay), (bx, by) in itertools.pairwise(points):
        canvas.line(px(ax), py(ay), px(bx), py(by), BLUE, thick=2)
    canvas.text(LEFT, 12, title)
    path.write_bytes(canvas.png())


def main() -> None:
    """Plot a soak's rss.csv (seconds, placed, rss_kib) as MiB over minutes."""
    source, target = Path(sys.argv[1]), Path(sys.argv[2])
    with source.open() as handle:
        rows = list(csv.DictReader(handle))
    points = [(float(r["seconds"]) / 60, int(r["rss_kib"]) / 1024) for r in rows]
    write_png(target, points, title="zentrale run: RSS (MiB) over minutes")


if __name__ == "__main__":
    main()
