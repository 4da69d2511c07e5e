"""The README's screenshots of the app, from the browser tests' artefacts (tests/test_browser_page.py writes
test-artifacts/voice-desktop.png, voice-phone.png, sing-desktop.png, explore-desktop.png at 1280x900 / 390x844):

    python -m pytest -q tests/test_browser_page.py && python scripts/readme_screenshots.py

Each is written to docs/app-*.webp (lossy WebP, quality 80, desktop shots scaled to 960 px wide): 30-80 KB each.
"""
from __future__ import annotations

import sys
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
SHOTS = {"voice-desktop.png": ("app-voice-desktop.webp", 960), "voice-phone.png": ("app-voice-phone.webp", 390),
         "sing-desktop.png": ("app-sing.webp", 960), "explore-desktop.png": ("app-explore.webp", 960)}


def main() -> int:
    src, out = ROOT / "test-artifacts", ROOT / "docs"
    missing = [name for name in SHOTS if not (src / name).is_file()]
    if missing:
        print(f"missing in {src}: {missing}; run: python -m pytest -q tests/test_browser_page.py", file=sys.stderr)
        return 2
    for name, (target, width) in SHOTS.items():
        im = Image.open(src / name).convert("RGB")
        if im.width > width:
            im = im.resize((width, round(im.height * width / im.width)), Image.LANCZOS)
        im.save(out / target, "WEBP", quality=80, method=6)
        print(f"{out / target}: {im.width}x{im.height}, {(out / target).stat().st_size / 1024:.0f} KB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
