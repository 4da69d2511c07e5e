"""Record what the command line answers on every bundled example clip, to check that a change of code keeps
behaviour (tests/test_behaviour.py compares a fresh run against tests/golden/examples.json).

    .venv/bin/python scripts/record_examples.py            # rewrite tests/golden/examples.json
Re-record only when a change of the answers is intended (retrained checkpoints, a new catalogue): say so in
the commit. `esmr analyze --json` runs once with speech recognition and once without, over all speech
examples; `esmr sing recommend --json` once per singing example. Timings are left out; absolute paths become
paths relative to the repository.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = ROOT / "tests" / "golden" / "examples.json"
CLI = "import sys; from esmr_core.cli import main; sys.exit(main(sys.argv[1:]))"


def _norm(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _norm(v) for k, v in obj.items() if k != "timing_ms"}
    if isinstance(obj, list):
        return [_norm(v) for v in obj]
    if isinstance(obj, str) and obj.startswith(str(ROOT) + "/"):
        return obj[len(str(ROOT)) + 1:]
    return obj


def _esmr(*args: str) -> str:
    p = subprocess.run([sys.executable, "-c", CLI, *args], capture_output=True, text=True, cwd=ROOT, timeout=600)
    if p.returncode != 0:
        raise RuntimeError(f"esmr {' '.join(args)} failed ({p.returncode}): {p.stderr[-2000:]}")
    return p.stdout


def record() -> dict[str, Any]:
    speech = sorted((ROOT / "assets" / "examples" / "speech" / "clips").glob("*.ogg"))
    singing = sorted((ROOT / "assets" / "examples" / "singing" / "clips").glob("*.ogg"))
    out: dict[str, Any] = {}
    for key, extra in (("analyze", []), ("analyze_no_asr", ["--no-asr"])):
        lines = _esmr("analyze", "--json", *extra, *map(str, speech)).splitlines()
        out[key] = {}
        for line in lines:
            r = _norm(json.loads(line))
            out[key][Path(r.pop("path")).name] = r
    out["sing"] = {c.name: _norm(json.loads(_esmr("sing", "recommend", str(c), "--json"))) for c in singing}
    return out


def differences(a: Any, b: Any, where: str = "", tol: float = 1e-4) -> list[str]:
    """Where two recordings differ (numbers within tol are equal)."""
    if isinstance(a, dict) and isinstance(b, dict):
        out = [f"{where}.{k}: only in one" for k in sorted(set(a) ^ set(b))]
        for k in sorted(set(a) & set(b)):
            out += differences(a[k], b[k], f"{where}.{k}", tol)
        return out
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return [f"{where}: {len(a)} vs {len(b)} items"]
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in differences(x, y, f"{where}[{i}]", tol)]
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        return [] if abs(a - b) <= tol else [f"{where}: {a} vs {b}"]
    return [] if a == b else [f"{where}: {a!r} vs {b!r}"]


def main() -> int:
    data = record()
    old = json.loads(GOLDEN.read_text(encoding="utf-8")) if GOLDEN.is_file() else {}
    data["recorded_at"] = sys.argv[1] if len(sys.argv) > 1 else old.get("recorded_at", "")
    GOLDEN.write_text(json.dumps(data, indent=1, ensure_ascii=False, sort_keys=True) + "\n", encoding="utf-8")
    print(f"{GOLDEN.relative_to(ROOT)}: {len(data['analyze'])} speech, {len(data['sing'])} singing examples")
    return 0


if __name__ == "__main__":
    sys.exit(main())
