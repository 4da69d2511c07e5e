"""A small Standard MIDI File writer (format 1, one channel and program per track), enough for FluidSynth."""
from __future__ import annotations

import struct
from pathlib import Path
from typing import Sequence

from ..errors import EsmrError
from .notes import Note


def _varlen(n: int) -> bytes:
    out = [n & 0x7F]
    n >>= 7
    while n:
        out.append(0x80 | (n & 0x7F))
        n >>= 7
    return bytes(reversed(out))


def write_midi(path: str | Path, tracks: Sequence[tuple[int, Sequence[Note], int]], tempo_bpm: float,
               ppq: int = 480) -> None:
    """Write a format-1 Standard MIDI File. tracks: (program 0..127, notes, velocity 1..127), one channel each
    (channel 9, the drum channel, is skipped). Note times are in quarter-note beats."""
    if not 20 <= tempo_bpm <= 400:
        raise EsmrError(f"tempo {tempo_bpm} bpm is implausible; use 20..400")
    chunks = []
    tempo = struct.pack(">I", round(60_000_000 / tempo_bpm))[1:]
    chunks.append(b"\x00\xff\x51\x03" + tempo + b"\x00\xff\x2f\x00")
    for i, (program, notes, velocity) in enumerate(tracks):
        ch = i if i < 9 else i + 1
        events: list[tuple[int, int, bytes]] = []  # (tick, order: off before on, bytes)
        for midi, start, dur in notes:
            on, off = round(start * ppq), round((start + dur) * ppq)
            if off <= on or not 0 <= midi <= 127:
                continue
            events.append((on, 1, bytes([0x90 | ch, int(midi), int(velocity)])))
            events.append((off, 0, bytes([0x80 | ch, int(midi), 0])))
        events.sort(key=lambda e: (e[0], e[1]))
        data, last = bytearray(b"\x00" + bytes([0xC0 | ch, int(program)])), 0
        for tick, _, ev in events:
            data += _varlen(tick - last) + ev
            last = tick
        data += b"\x00\xff\x2f\x00"
        chunks.append(bytes(data))
    body = struct.pack(">4sIHHH", b"MThd", 6, 1, len(chunks), ppq)
    body += b"".join(struct.pack(">4sI", b"MTrk", len(c)) + c for c in chunks)
    Path(path).write_bytes(body)
