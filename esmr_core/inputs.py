"""Checks of the non-audio inputs that the service, the CLI and the app's API take: the typed transcript, on/off
flags, the singing weights and top-k. Each returns the clean value or raises EsmrError with a message that says
what is wrong and what to send instead (the same style as the audio errors of esmr_core.audio).

Strict on purpose: a number is not taken as a transcript, "no" is not a boolean, a transcript over the limit is
refused rather than cut, so a client learns about its mistake instead of getting a quietly different answer.
"""
from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .errors import EsmrError

MAX_TRANSCRIPT_CHARS = 2000      # default limit of a typed transcript, in characters (ESMR_MAX_TRANSCRIPT_CHARS)
WEIGHT_RANGE = (0.0, 2.0)        # each singing-score weight (the app's sliders span the same range)
MAX_TOP_K = 1000
# Unpaired UTF-16 surrogates (a JSON "\ud800" decodes to one) and C0/C1 control characters other than tab and
# line breaks: neither is text a person typed, and the tokenizer fails on the first.
_BAD_CHAR = re.compile("[\ud800-\udfff\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def describe(value: Any) -> str:
    """A value as a client would recognise it in a message: JSON-ish, short."""
    if value is None:
        return "null"
    if isinstance(value, (bool, np.bool_)):
        return "true" if value else "false"
    if isinstance(value, str):  # short, and without markup: the page shows messages as HTML
        text = value if len(value) <= 24 else value[:21] + "..."
        return repr(text.translate({ord("<"): "?", ord(">"): "?", ord("&"): "?"}))
    if isinstance(value, (int, float, np.integer, np.floating)):
        return f"the number {value!r}"
    return f"a {type(value).__name__}"


def max_transcript_chars() -> int:
    """The transcript limit: ESMR_MAX_TRANSCRIPT_CHARS when set (a whole number >= 1), else 2,000."""
    raw = os.environ.get("ESMR_MAX_TRANSCRIPT_CHARS", "").strip()
    if not raw:
        return MAX_TRANSCRIPT_CHARS
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        raise EsmrError(f"ESMR_MAX_TRANSCRIPT_CHARS must be a whole number of characters >= 1, got {raw!r}; "
                        "fix or unset it")
    return value


def transcript(value: Any, max_chars: int | None = None, name: str = "the transcript") -> str:
    """A typed transcript -> the text stripped of surrounding blanks ("" for None or blanks: no words).

    Refused: anything but a string, more than max_chars characters (default max_transcript_chars()), unpaired
    surrogates, control characters other than tab / line breaks."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise EsmrError(f"{name} must be text, got {describe(value)}; send a string, or \"\" for no transcript")
    limit = max_transcript_chars() if max_chars is None else int(max_chars)
    if len(value) > limit:
        raise EsmrError(f"{name} is {len(value):,} characters long, over the {limit:,}-character limit; shorten it "
                        "(a sentence or two is enough) and send it again")
    bad = _BAD_CHAR.search(value)
    if bad:
        code, at = ord(bad.group()), bad.start() + 1
        if 0xD800 <= code <= 0xDFFF:
            raise EsmrError(f"{name} is not valid Unicode text: an unpaired surrogate (U+{code:04X}) at character "
                            f"{at}; send it as plain UTF-8 text")
        raise EsmrError(f"{name} contains the control character U+{code:04X} at character {at}; remove it "
                        "(tabs and line breaks are fine)")
    return value.strip()


def flag(value: Any, name: str) -> bool:
    """A strict boolean: True/False only (not "no", 0, 1 or null)."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    raise EsmrError(f"{name} must be true or false, got {describe(value)}; send a JSON boolean")


def number(value: Any, name: str, lo: float, hi: float) -> float:
    """A finite int/float (not a bool, not text) within [lo, hi] -> float."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise EsmrError(f"{name} must be a number from {lo:g} to {hi:g}, got {describe(value)}")
    x = float(value)
    if not math.isfinite(x) or not lo <= x <= hi:
        raise EsmrError(f"{name} must be a number from {lo:g} to {hi:g}, got {value!r}")
    return x


def weights(values: Mapping[str, Any] | None, names: Sequence[str] | None = None,
            lo: float = WEIGHT_RANGE[0], hi: float = WEIGHT_RANGE[1]) -> dict[str, float] | None:
    """Singing-score weights {factor: number in [lo, hi]} -> floats; None -> None (the defaults).
    names: the allowed factors (None: any). At least one weight must be above 0."""
    if values is None:
        return None
    if not isinstance(values, Mapping):
        raise EsmrError(f"the weights must be a mapping of factor names to numbers, got {describe(values)}")
    out = {}
    for key, value in values.items():
        if names is not None and key not in names:
            raise EsmrError(f"unknown weight {key!r}; the factors are {', '.join(names)}")
        out[str(key)] = number(value, f"the weight {key!r}", lo, hi)
    if out and not any(v > 0 for v in out.values()):
        raise EsmrError("all the weights are 0; give at least one factor a weight above 0")
    return out


def top_k(value: Any, default: int) -> int:
    """Number of results: None -> default; else a whole number from 1 to MAX_TOP_K."""
    if value is None:
        return int(default)
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) and not (
            isinstance(value, (float, np.floating)) and float(value).is_integer()):
        raise EsmrError(f"top_k must be a whole number from 1 to {MAX_TOP_K}, got {describe(value)}")
    k = int(value)
    if not 1 <= k <= MAX_TOP_K:
        raise EsmrError(f"top_k must be at least 1 and at most {MAX_TOP_K}, got {k}")
    return k
