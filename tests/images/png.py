"""Just enough PNG to write a colour test picture and to read back whatever ImageMagick answers.

The image tests must decode the grayscale example's output themselves (no
imaging library among the test dependencies): every colour type and bit depth
of the PNG specification is read, so the check does not depend on which
encoding ImageMagick picks for a gray picture.
"""

from __future__ import annotations

import struct
import zlib
from typing import List, Sequence, Tuple

SIGNATURE = b"\x89PNG\r\n\x1a\n"
_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}  # colour type -> samples per pixel

Pixel = Tuple[int, int, int]


def encode_rgb(width: int, height: int, pixels: Sequence[Pixel]) -> bytes:
    """An 8-bit RGB PNG (colour type 2) of `pixels`, row by row."""
    raw = b"".join(
        b"\x00" + bytes(c for px in pixels[y * width:(y + 1) * width] for c in px) for y in range(height)
    )
    return (
        SIGNATURE
        + _chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
        + _chunk(b"IDAT", zlib.compress(raw))
        + _chunk(b"IEND", b"")
    )


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


class Decoded:
    def __init__(self, width: int, height: int, color_type: int, pixels: List[Pixel]):
        self.width = width
        self.height = height
        self.color_type = color_type
        self.pixels = pixels  # as RGB, 8 bits per channel

    @property
    def is_grayscale(self) -> bool:
        return all(r == g == b for r, g, b in self.pixels)


def decode(data: bytes) -> Decoded:
    """Any non-interlaced PNG to RGB pixels; ValueError when it is not one."""
    if not data.startswith(SIGNATURE):
        raise ValueError("not a PNG (bad signature)")
    pos, chunks = len(SIGNATURE), {}
    idat = b""
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        if zlib.crc32(kind + body) != struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])[0]:
            raise ValueError(f"PNG chunk {kind!r}: bad CRC")
        if kind == b"IDAT":
            idat += body
        else:
            chunks.setdefault(kind, body)
        pos += 12 + length
        if kind == b"IEND":
            break
    width, height, depth, color_type, _c, _f, interlace = struct.unpack(">IIBBBBB", chunks[b"IHDR"])
    if interlace:
        raise ValueError("interlaced PNGs are not supported by this test helper")
    samples = _unfilter(zlib.decompress(idat), width, height, depth, _CHANNELS[color_type])
    palette = chunks.get(b"PLTE", b"")
    pixels = []
    for row in samples:
        for i in range(width):
            px = row[i * _CHANNELS[color_type]:(i + 1) * _CHANNELS[color_type]]
            pixels.append(_rgb(px, color_type, depth, palette))
    return Decoded(width, height, color_type, pixels)


def _unfilter(raw: bytes, width: int, height: int, depth: int, channels: int) -> List[List[int]]:
    """Undo the per-row filters, then unpack samples (1..16 bits) into integers."""
    bits_per_pixel = depth * channels
    stride = (width * bits_per_pixel + 7) // 8
    bpp = max(1, bits_per_pixel // 8)
    rows, previous, pos = [], bytearray(stride), 0
    for _ in range(height):
        kind, line = raw[pos], bytearray(raw[pos + 1:pos + 1 + stride])
        pos += 1 + stride
        for i in range(stride):
            left = line[i - bpp] if i >= bpp else 0
            up = previous[i]
            up_left = previous[i - bpp] if i >= bpp else 0
            if kind == 1:
                line[i] = (line[i] + left) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + up) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 0xFF
            elif kind == 4:
                line[i] = (line[i] + _paeth(left, up, up_left)) & 0xFF
            elif kind != 0:
                raise ValueError(f"bad PNG filter type {kind}")
        previous = line
        rows.append(_unpack(bytes(line), depth, width * channels))
    return rows


def _paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c


def _unpack(line: bytes, depth: int, count: int) -> List[int]:
    if depth == 8:
        return list(line[:count])
    if depth == 16:
        return [line[2 * i] << 8 | line[2 * i + 1] for i in range(count)]
    per_byte, mask = 8 // depth, (1 << depth) - 1
    return [(line[i // per_byte] >> (8 - depth * (i % per_byte + 1))) & mask for i in range(count)]


def _rgb(px: Sequence[int], color_type: int, depth: int, palette: bytes) -> Pixel:
    if color_type == 3:
        index = px[0]
        return tuple(palette[3 * index:3 * index + 3])  # type: ignore[return-value]
    scale = 255 / ((1 << depth) - 1)
    values = [round(v * scale) for v in px]
    if color_type in (0, 4):
        return (values[0],) * 3  # type: ignore[return-value]
    return tuple(values[:3])  # type: ignore[return-value]
