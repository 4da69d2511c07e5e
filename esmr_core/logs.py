"""The package's one logging convention: every module logs through `logging.getLogger(__name__)`; the
entry points (the `esmr` command, the app, the scripts) call `configure()` once. Messages go to stderr, so
`--json` output on stdout stays clean; progress bars (tqdm) also write to stderr."""
from __future__ import annotations

import logging
import os
import sys

ROOT = "esmr_core"


def configure(level: int | str | None = None) -> None:
    """Send the package's log records to stderr as plain lines; level from ESMR_LOG_LEVEL (default INFO)."""
    level = level or os.environ.get("ESMR_LOG_LEVEL", "INFO")
    logger = logging.getLogger(ROOT)
    logger.setLevel(level if isinstance(level, int) else str(level).upper())
    if not any(getattr(h, "_esmr", False) for h in logger.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        handler._esmr = True   # configure() twice adds no second handler
        logger.addHandler(handler)
    logger.propagate = False


def progress(items, desc: str, show: bool = True):
    """Iterate items with a tqdm bar on stderr when show (and tqdm is installed), else plainly."""
    if not show:
        return items
    try:
        from tqdm import tqdm
    except ImportError:   # tqdm is a training extra; the app runs without it
        return items
    return tqdm(items, desc=desc, leave=False, file=sys.stderr)
