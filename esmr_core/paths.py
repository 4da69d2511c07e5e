"""Where things live: the repository's bundled assets and checkpoints, and the user's cache.

Every path can be overridden by an environment variable, so an installed package, a Space and a
checkout all work: ESMR_ASSETS, ESMR_CHECKPOINTS, ESMR_CACHE, ESMR_CATALOG (the music the app serves).
"""
from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
REPO_ROOT = PACKAGE_DIR.parent
RESOURCES_DIR = PACKAGE_DIR / "resources"


def assets_dir() -> Path:
    """Bundled data: music catalogue, song catalogue, example clips (repository `assets/`)."""
    return Path(os.environ.get("ESMR_ASSETS", REPO_ROOT / "assets"))


def checkpoints_dir() -> Path:
    """Trained default models, one folder each (repository `checkpoints/`)."""
    return Path(os.environ.get("ESMR_CHECKPOINTS", REPO_ROOT / "checkpoints"))


def cache_dir() -> Path:
    """Feature cache and other rebuildable files (default ~/.cache/esmr)."""
    default = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "esmr"
    path = Path(os.environ.get("ESMR_CACHE", default))
    return path


def default_catalog_dir() -> Path:
    """The music catalogue the app serves: ESMR_CATALOG, else the bundled assets/music."""
    return Path(os.environ.get("ESMR_CATALOG", assets_dir() / "music"))


def default_songs_dir() -> Path:
    return assets_dir() / "songs"
