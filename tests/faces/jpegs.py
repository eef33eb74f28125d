"""Real (decodable) baseline JPEGs for the face tests, without an imaging library.

A greyscale picture whose 8x8 blocks each have one flat grey (only the DC coefficient is
coded, every AC coefficient is zero): a blocky oval "face" on a background, encoded with
the standard DC table and a one-symbol AC table (end of block). Any JPEG decoder reads
it; its size is whatever the test asks for, so the hub's header reader is checked against
a known answer. `padding` adds comment segments (still a valid JPEG, just larger).
"""

from __future__ import annotations

import struct

# ITU T.81 Annex K: the luminance DC table.
DC_BITS = [0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0]
DC_VALS = list(range(12))
AC_BITS = [1] + [0] * 15  # one code, "0": end of block
AC_VALS = [0x00]
Q_DC = 16


def _codes(bits: list[int], vals: list[int]) -> dict[int, tuple[int, int]]:
    """Canonical Huffman codes: symbol → (code, length)."""
    out, code, k = {}, 0, 0
    for length, count in enumerate(bits, start=1):
        for _ in range(count):
            out[vals[k]] = (code, length)
            code += 1
            k += 1
        code <<= 1
    return out


class _Bits:
    def __init__(self) -> None:
        self.out = bytearray()
        self.acc = 0
        self.n = 0

    def put(self, value: int, length: int) -> None:
        for i in range(length - 1, -1, -1):
            self.acc = (self.acc << 1) | ((value >> i) & 1)
            self.n += 1
            if self.n == 8:
                self.out.append(self.acc)
                if self.acc == 0xFF:
                    self.out.append(0x00)  # byte stuffing
                self.acc, self.n = 0, 0

    def flush(self) -> bytes:
        if self.n:
            self.put((1 << (8 - self.n)) - 1, 8 - self.n)  # pad with 1-bits
        return bytes(self.out)


def _segment(marker: int, body: bytes) -> bytes:
    return struct.pack(">BBH", 0xFF, marker, len(body) + 2) + body


def _grey(bx: int, by: int, cols: int, rows: int) -> int:
    """A face-ish picture: a light oval with two dark eyes on a mid-grey background."""
    x, y = (bx + 0.5) / cols - 0.5, (by + 0.5) / rows - 0.5
    if ((x / 0.35) ** 2 + (y / 0.45) ** 2) > 1:
        return 90
    if abs(y + 0.1) < 0.06 and 0.08 < abs(x) < 0.2:
        return 30
    return 200


def face_jpeg(width: int = 160, height: int = 200, *, padding: int = 0) -> bytes:
    cols, rows = -(-width // 8), -(-height // 8)
    dc_codes, ac_codes = _codes(DC_BITS, DC_VALS), _codes(AC_BITS, AC_VALS)
    bits, prev = _Bits(), 0
    for by in range(rows):
        for bx in range(cols):
            dc = round(8 * (_grey(bx, by, cols, rows) - 128) / Q_DC)
            diff, prev = dc - prev, dc
            size = abs(diff).bit_length()
            bits.put(*dc_codes[size])
            if size:
                bits.put(diff if diff > 0 else diff + (1 << size) - 1, size)
            bits.put(*ac_codes[0x00])
    quant = bytes([0]) + bytes([Q_DC] + [1] * 63)  # precision/table id, then 64 values
    parts = [
        b"\xff\xd8",
        _segment(0xE0, b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"),
        _segment(0xDB, quant),
        _segment(0xC0, struct.pack(">BHHB", 8, height, width, 1) + bytes([1, 0x11, 0])),
        _segment(0xC4, bytes([0x00]) + bytes(DC_BITS) + bytes(DC_VALS)),
        _segment(0xC4, bytes([0x10]) + bytes(AC_BITS) + bytes(AC_VALS)),
    ]
    while padding > 0:
        chunk = min(padding, 65000)
        parts.append(_segment(0xFE, b"p" * chunk))
        padding -= chunk
    parts += [
        _segment(0xDA, bytes([1, 1, 0x00, 0, 63, 0])),
        bits.flush(),
        b"\xff\xd9",
    ]
    return b"".join(parts)
