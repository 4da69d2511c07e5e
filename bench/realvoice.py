"""The real-voice benchmark of issue #11: `python bench/realvoice.py --out bench/realvoice.json` (`make realvoice`).

Every figure is on speakers that no training set contains, read through esmr_core.service.Service exactly as
the app reads a clip (the service's decode/VAD/normalisation, its ASR, its speech tower, MATE and the catalogue):
  acted     real actors' lines from the Hedgewars voice packs British, Classic, Default, Pirate, Default_es,
            Default_pl, labelled by line (esmr_core.realvoice.LINE_LABELS); arousal/valence pair ordering within
            each pack, 7-class accuracy, voice only and with ASR; the untrained two-cue rule as a baseline row
  prosody   real prompts of the French (June) and Italian (Carlo) asterisk voices made calmer/livelier at 3
            levels each way with Praat PSOLA + tilt + gain; ordered pairs and triples of arousal (and dominance)
  channel   the same clips through telephone band, reverberation, noise, Opus/MP3, gain and clipping
  music     energetic share and energy of the top 5 tracks for low- against high-arousal inputs
  examples  the app's example voices, read as the app reads them
  synthetic the bootstrap corpus' test-split MRR (when data/bootstrap exists)
The data are Debian packages, fetched into data/ (apt-get download + dpkg -x, no root) when missing.
Writes the JSON (every number, the issue's thresholds, pass/fail each) and a markdown report.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SR = 16000
PARTS = ("acted", "prosody", "channel", "examples", "synthetic")
RELAXED_MIN_S = 0.3   # s: lines the app refuses are also read trimmed by energy (the singing path), if this long

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")


def _rel(path: Path) -> str:
    """A path as committed files show it: relative to the repository when inside it, else its name."""
    try:
        return str(Path(path).resolve().relative_to(REPO.resolve()))
    except ValueError:
        return Path(path).name


def _shown(path: Path) -> str:
    """A path for a message on this machine: relative to the repository when inside it, else absolute."""
    try:
        return str(Path(path).resolve().relative_to(REPO.resolve()))
    except ValueError:
        return str(Path(path).resolve())


def _r(x: Any, nd: int = 4) -> Any:
    return None if x is None or (isinstance(x, float) and not math.isfinite(x)) else round(float(x), nd)


# --------------------------------------------------------------------------------------------- data
def fetch_packages(data_dir: Path, debs: tuple[str, ...], allow: bool) -> dict[str, str]:
    """Make sure data/raw/<deb> holds each unpacked package: apt-get download into data/debs, dpkg -x.
    -> {deb: "present" | "fetched" | "missing: why"}."""
    raw, store = data_dir / "raw", data_dir / "debs"
    status = {}
    for deb in debs:
        if (raw / deb / "usr").is_dir():
            status[deb] = "present"
            continue
        if not allow:
            status[deb] = "missing: fetching disabled (--no-fetch)"
            continue
        store.mkdir(parents=True, exist_ok=True)
        raw.mkdir(parents=True, exist_ok=True)              # dpkg -x creates the last folder only
        try:
            subprocess.run(["apt-get", "download", deb], cwd=store, check=True, capture_output=True, timeout=600)
            got = sorted(store.glob(f"{deb}_*.deb"))
            if not got:
                raise RuntimeError("apt-get download wrote no .deb")
            subprocess.run(["dpkg", "-x", str(got[-1]), str(raw / deb)], check=True, capture_output=True)
            status[deb] = "fetched"
        except (OSError, subprocess.SubprocessError, RuntimeError) as exc:
            err = getattr(exc, "stderr", b"") or b""
            why = (err.decode(errors="replace").strip().splitlines() or [str(exc)])[-1]
            status[deb] = f"missing: apt-get could not fetch it ({why})"
            print(f"[realvoice] could not fetch Debian package {deb}: {why}; its part of the benchmark is "
                  "skipped (run on a Debian/Ubuntu machine with apt sources, or unpack it into "
                  f"{_shown(raw / deb)})", file=sys.stderr)
    return status


def deb_version(data_dir: Path, deb: str) -> str | None:
    """The package version from its .deb file name in data/debs (None when unknown)."""
    got = sorted((data_dir / "debs").glob(f"{deb}_*.deb"))
    return got[-1].name.split("_")[1] if got else None


def read_g722(path: Path) -> np.ndarray:
    """A raw G.722 file (16 kHz) -> (N,) float32 in [-1, 1]."""
    import av

    with av.open(str(path), format="g722") as box:
        stream = box.streams.audio[0]
        parts = [f.to_ndarray().reshape(-1) for f in box.decode(stream)]
    x = np.concatenate(parts)
    return (x.astype(np.float32) / 32768.0) if x.dtype == np.int16 else x.astype(np.float32)


def asterisk_clips(raw: Path, per_voice: int, min_s: float = 1.5, max_s: float = 6.0) -> list[dict[str, Any]]:
    """per_voice prompts of each allowed asterisk voice, min_s..max_s long, spread over the sorted file list."""
    from esmr_core import realvoice as rv

    out = []
    for lang in rv.ASTERISK_VOICES:
        folder = rv.asterisk_dir(raw, lang)
        if not folder.is_dir():
            continue
        # G.722 is 64 kbit/s: 8000 bytes per second of audio
        files = sorted(p for p in folder.glob("*.g722") if min_s * 8000 <= p.stat().st_size <= max_s * 8000)
        for p in rv.pick_evenly(files, per_voice):
            out.append({"id": f"{lang}/{p.stem}", "voice": lang, "path": p})
    return out


# --------------------------------------------------------------------------------------------- reading
def reading(r: dict[str, Any], energy: dict[str, float]) -> dict[str, Any]:
    """The numbers the benchmark keeps from one service result (arousal/valence on 0..1)."""
    from esmr_core.realvoice import mate_arousal01

    return {"tower_label": r["emotion"]["label"], "tower_arousal": r["vad"]["arousal"],
            "tower_valence": r["vad"]["valence"], "tower_dominance": r["vad"]["dominance"],
            "mate_label": r["mate"]["label"], "mate_arousal": round(mate_arousal01(r["mate"]["arousal"]), 4),
            "mate_valence": round(mate_arousal01(r["mate"]["valence"]), 4),
            "moods": [t["mood"] for t in r["tracks"]], "energy": round(float(np.mean(
                [energy[t["id"]] for t in r["tracks"]])), 4), "transcript": r["transcript"],
            # how much the words counted (services that weigh the transcript report it; None otherwise)
            "words_weight": r.get("words_weight")}


def track_energy(svc, catalog: Path) -> dict[str, float]:
    """Track id -> the catalogue's calibrated energy (0..1), from its manifest (or the service's rows)."""
    try:
        from esmr_core.data.manifest import load_collection

        rows = load_collection(catalog, kind="music").rows
    except Exception:  # noqa: BLE001 - a catalogue in another format: the service's own rows
        rows = [svc.tracks[i] for i in range(len(svc.tracks))]
    return {str(r["id"]): float(r["energy"]) for r in rows}


def run_acted(svc, raw: Path, energy: dict[str, float], min_voiced_s: float) -> dict[str, Any]:
    from esmr_core import realvoice as rv
    from esmr_core.audio import load_audio
    from esmr_core.errors import AudioError

    lines, refused, per_pack = [], [], {}
    for pack in rv.EVAL_PACKS:
        folder = rv.pack_dir(raw, pack)
        if not folder.is_dir():
            continue
        present = sorted(p for p in folder.glob("*.ogg") if p.stem in rv.LINE_LABELS)
        count = Counter()
        for path in present:
            lab = rv.LINE_LABELS[path.stem]
            read = "app"
            try:
                clip = load_audio(path, min_voiced_s=min_voiced_s)
            except AudioError as exc:
                reason = "under the minimum voiced length" if "of voice" in str(exc) else \
                    "no speech detected" if "no speech" in str(exc) else str(exc)
                refused.append({"pack": pack, "line": path.stem, "reason": reason, "message": str(exc)})
                count["refused"] += 1
                try:  # what the models would say if the front end let it through: trimmed by energy, not VAD
                    clip, read = load_audio(path, require_voice=False, min_voiced_s=RELAXED_MIN_S), "relaxed"
                except AudioError as exc2:
                    refused[-1]["relaxed"] = str(exc2)
                    continue
            item = {"pack": pack, "line": path.stem, "read": read, "emotion": lab.emotion, "arousal": lab.arousal,
                    "valence": lab.valence, "duration_s": round(clip.duration_s, 3),
                    "voiced_s": round(clip.voiced_s, 3),
                    "f0_median_hz": _r(rv.median_f0_hz(clip.samples, SR), 2),
                    "alpha_ratio_db": _r(rv.alpha_ratio_db(clip.samples, SR), 3)}
            for mode, asr in (("voice", False), ("asr", True)):
                item[mode] = reading(svc.analyze_speech(clip, asr=asr), energy)
            lines.append(item)
            count["analysed" if read == "app" else "relaxed"] += 1
        per_pack[pack] = {"language": rv.PACK_LANGUAGE[pack], "labelled_lines": len(present),
                          "analysed": count["analysed"], "refused": count["refused"],
                          "refused_read_relaxed": count["relaxed"],
                          "files_in_pack": len(list(folder.glob("*.ogg")))}
    return {"lines": lines, "refused": refused, "per_pack": per_pack}


def acted_summary(lines: list[dict[str, Any]]) -> dict[str, Any]:
    from esmr_core import realvoice as rv

    packs = [x["pack"] for x in lines]
    aro, val, emo = [x["arousal"] for x in lines], [x["valence"] for x in lines], [x["emotion"] for x in lines]

    def block(a_scores, v_scores, labels) -> dict[str, Any]:
        out: dict[str, Any] = {}
        out["arousal_pairs"], out["arousal_n_pairs"] = rv.pair_accuracy(a_scores, aro, packs, "high", "low")
        if v_scores is not None:
            out["valence_pairs"], out["valence_n_pairs"] = rv.pair_accuracy(v_scores, val, packs, "positive",
                                                                            "negative")
        if labels is not None:
            out["accuracy7"], out["accuracy7_n"] = rv.accuracy(labels, emo)
        per = {}
        for pack in dict.fromkeys(packs):
            m = [p == pack for p in packs]
            sel = lambda seq: [s for s, k in zip(seq, m) if k]  # noqa: E731
            d = {"arousal_pairs": _r(rv.pair_accuracy(sel(a_scores), sel(aro), sel(packs), "high", "low")[0])}
            if v_scores is not None:
                d["valence_pairs"] = _r(rv.pair_accuracy(sel(v_scores), sel(val), sel(packs), "positive",
                                                         "negative")[0])
            if labels is not None:
                d["accuracy7"] = _r(rv.accuracy(sel(labels), sel(emo))[0])
            per[pack] = d
        out = {k: (_r(v) if isinstance(v, float) else v) for k, v in out.items()}
        out["per_pack"] = per
        return out

    summary: dict[str, Any] = {}
    for model in ("tower", "mate"):
        summary[model] = {mode: block([x[mode][f"{model}_arousal"] for x in lines],
                                      [x[mode][f"{model}_valence"] for x in lines],
                                      [x[mode][f"{model}_label"] for x in lines]) for mode in ("voice", "asr")}
    f0 = [12 * math.log2(x["f0_median_hz"] / 100) if x["f0_median_hz"] else math.nan for x in lines]
    two = rv.two_cue_arousal(f0, [x["alpha_ratio_db"] if x["alpha_ratio_db"] is not None else math.nan
                                  for x in lines], packs)
    summary["two_cue"] = {"voice": block(list(two), None, None)}
    summary["labels_predicted"] = {m: dict(Counter(x["voice"][f"{m}_label"] for x in lines).most_common())
                                   for m in ("tower", "mate")}
    summary["labels_true"] = dict(Counter(x["emotion"] for x in lines if x["emotion"]).most_common())
    weights = [x["asr"]["words_weight"] for x in lines if x["asr"].get("words_weight") is not None]
    summary["asr_words_weight_mean"] = _r(float(np.mean(weights))) if weights else None
    summary["asr_transcripts_empty"] = sum(not x["asr"]["transcript"] for x in lines)
    return summary


def run_prosody(svc, clips: list[dict[str, Any]], energy: dict[str, float]) -> list[dict[str, Any]]:
    from esmr_core import realvoice as rv
    from esmr_core.errors import AudioError

    items = []
    for c in clips:
        x = read_g722(c["path"])
        c["samples"] = x
        c["levels"] = {}
        for level in rv.LEVELS:
            y = rv.transform_prosody(x, SR, rv.prosody_level(level))
            item = {"clip": c["id"], "voice": c["voice"], "level": level,
                    "f0_median_hz": _r(rv.median_f0_hz(y, SR), 2), "alpha_ratio_db": _r(rv.alpha_ratio_db(y, SR), 3),
                    "duration_s": round(len(y) / SR, 3)}
            try:
                item.update(reading(svc.analyze_speech((SR, y), asr=False), energy))
            except AudioError as exc:
                item["refused"] = str(exc)
            c["levels"][level] = y
            items.append(item)
    return items


def prosody_summary(items: list[dict[str, Any]]) -> dict[str, Any]:
    from esmr_core import realvoice as rv

    ok = [x for x in items if "refused" not in x]
    by_clip: dict[str, list[dict[str, Any]]] = {}
    for x in ok:
        by_clip.setdefault(x["clip"], []).append(x)

    def scores(key_of) -> dict[str, Any]:
        hits = n = 0.0
        triples: list[bool] = []
        for rows in by_clip.values():
            vals = [key_of(r, rows) for r in rows]
            acc, k = rv.ordered_pairs([r["level"] for r in rows], vals)
            if k:
                hits += acc * k
                n += k
            triples += rv.ordered_triples({r["level"]: v for r, v in zip(rows, vals)})
        return {"pairs": _r(hits / n if n else math.nan), "n_pairs": int(n),
                "triples": _r(float(np.mean(triples)) if triples else math.nan), "n_triples": len(triples)}

    def two_cue(r, rows):
        f0 = [12 * math.log2(q["f0_median_hz"] / 100) if q["f0_median_hz"] else math.nan for q in rows]
        z = rv.two_cue_arousal(f0, [q["alpha_ratio_db"] for q in rows], ["clip"] * len(rows))
        return float(z[rows.index(r)])

    out: dict[str, Any] = {"n_clips": len(by_clip), "n_items": len(items), "n_refused": len(items) - len(ok)}
    for model in ("tower", "mate"):
        a = scores(lambda r, rows, m=model: r[f"{m}_arousal"])
        out[model] = {"arousal_pairs": a["pairs"], "arousal_triples": a["triples"], "n_pairs": a["n_pairs"],
                      "n_triples": a["n_triples"],
                      "mean_arousal_by_level": {str(lv): _r(rv.mean_of(r[f"{model}_arousal"] for r in ok
                                                                          if r["level"] == lv)) for lv in rv.LEVELS},
                      "labels_by_level": {str(lv): dict(Counter(r[f"{model}_label"] for r in ok
                                                                if r["level"] == lv).most_common(3))
                                          for lv in rv.LEVELS}}
    d = scores(lambda r, rows: r["tower_dominance"])
    out["tower"]["dominance_pairs"], out["tower"]["dominance_triples"] = d["pairs"], d["triples"]
    b = scores(two_cue)
    out["two_cue"] = {"arousal_pairs": b["pairs"], "arousal_triples": b["triples"]}
    out["cues_by_level"] = {str(lv): {"f0_median_hz": _r(rv.mean_of(r["f0_median_hz"] for r in ok if r["level"] == lv
                                                                  and r["f0_median_hz"]), 1),
                                      "alpha_ratio_db": _r(rv.mean_of(r["alpha_ratio_db"] for r in ok
                                                                      if r["level"] == lv), 2),
                                      "duration_s": _r(rv.mean_of(r["duration_s"] for r in ok if r["level"] == lv), 3)}
                            for lv in rv.LEVELS}
    return out


def run_channel(svc, clips: list[dict[str, Any]], prosody_items: list[dict[str, Any]], levels: list[int],
                conditions: list[str]) -> dict[str, Any]:
    from esmr_core import realvoice as rv
    from esmr_core.errors import AudioError

    clean = {(x["clip"], x["level"]): x for x in prosody_items if "refused" not in x}
    per: dict[str, dict[str, list]] = {c: {"tower_agree": [], "mate_agree": [], "tower_shift": [],
                                           "mate_shift": [], "refused": []} for c in conditions}
    n_refs = 0
    for ci, c in enumerate(clips):
        for level in levels:
            ref = clean.get((c["id"], level))
            if ref is None:
                continue
            n_refs += 1
            y = c["levels"][level]
            for cond in conditions:
                out = rv.CHANNELS[cond](y, SR, 1000 * ci + level + 3)
                source = out if isinstance(out, bytes) else (out[1], out[0])
                try:
                    r = svc.analyze_speech(source, asr=False)
                except AudioError as exc:
                    per[cond]["refused"].append(f"{c['id']}@{level}: {exc}")
                    continue
                got = reading(r, {t["id"]: 0.0 for t in r["tracks"]})
                for m in ("tower", "mate"):
                    per[cond][f"{m}_agree"].append(got[f"{m}_label"] == ref[f"{m}_label"])
                    per[cond][f"{m}_shift"].append(abs(got[f"{m}_arousal"] - ref[f"{m}_arousal"]))
    refs = [clean[(c["id"], lv)] for c in clips for lv in levels if (c["id"], lv) in clean]
    res: dict[str, Any] = {"n_clean": n_refs, "levels": levels, "clips": [c["id"] for c in clips],
                           "clean_majority_share": {m: _r(Counter(r[f"{m}_label"] for r in refs).most_common(1)[0][1]
                                                          / len(refs)) if refs else None for m in ("tower", "mate")},
                           "conditions": {}}
    for cond, d in per.items():
        res["conditions"][cond] = {m: {"label_agreement": _r(rv.mean_of(d[f"{m}_agree"])),
                                       "arousal_shift": _r(rv.mean_of(d[f"{m}_shift"])), "n": len(d[f"{m}_agree"])}
                                   for m in ("tower", "mate")}
        res["conditions"][cond]["refused"] = len(d["refused"])
        if d["refused"]:
            res["conditions"][cond]["refused_examples"] = d["refused"][:3]
    return res


def music_summary(acted_lines: list[dict[str, Any]], prosody_items: list[dict[str, Any]]) -> dict[str, Any]:
    from esmr_core import realvoice as rv

    def stats(rows: list[dict[str, Any]]) -> dict[str, Any]:
        return {"energetic_share": _r(rv.energetic_share(r["moods"] for r in rows)),
                "mean_energy": _r(rv.mean_of(r["energy"] for r in rows)), "n": len(rows)}

    acted: dict[str, Any] = {"mode": "asr (the app's default: speech recognition on, nothing typed)"}
    for cls in ("high", "low"):
        acted[cls] = stats([x["asr"] for x in acted_lines if x["arousal"] == cls])
    acted["voice"] = {cls: stats([x["voice"] for x in acted_lines if x["arousal"] == cls]) for cls in ("high", "low")}
    ok = [x for x in prosody_items if "refused" not in x]
    pros: dict[str, Any] = {"by_level": {str(lv): stats([x for x in ok if x["level"] == lv]) for lv in rv.LEVELS},
                            "low": stats([x for x in ok if x["level"] < 0]),
                            "high": stats([x for x in ok if x["level"] > 0])}
    triples: list[bool] = []
    for clip in dict.fromkeys(x["clip"] for x in ok):
        triples += rv.ordered_triples({x["level"]: x["energy"] for x in ok if x["clip"] == clip})
    pros["energy_triples_rising"] = _r(float(np.mean(triples)) if triples else math.nan)
    pros["n_triples"] = len(triples)
    return {"acted": acted, "prosody": pros}


def run_examples(svc) -> dict[str, Any]:
    """The app's example voices, read as the app passes them (demo.app.speech_examples): "app" = the group with
    its words, typed as the app types them (the reading the issue's threshold is about); "voice_only" = the
    group of real voices without words; "voice" = the worded group with its words hidden; "asr" = the worded
    group with speech recognition instead of its words."""
    from demo.app import speech_examples
    from esmr_core.paths import assets_dir

    folder = assets_dir() / "examples" / "speech"
    rows = {}
    if (folder / "manifest.jsonl").is_file():
        for line in (folder / "manifest.jsonl").read_text(encoding="utf-8").splitlines():
            if line.strip():
                r = json.loads(line)
                rows[str((folder / r["path"]).resolve())] = r
    out: dict[str, Any] = {}
    for mode, group in (("app", "words"), ("voice_only", "voice-only"), ("voice", "words"), ("asr", "words")):
        items = []
        for path, _, words in speech_examples(folder, group):
            row = rows.get(str(Path(path).resolve()), {})
            text = words if mode in ("app", "voice_only") else None
            r = svc.analyze_speech(path, text=text or None, asr=(mode == "asr"))
            items.append({"clip": Path(path).name, "label": row.get("label"), "tower": r["emotion"]["label"],
                          "mate": r["mate"]["label"], "transcript": r["transcript"],
                          "transcript_source": r["transcript_source"]})
        out[mode] = {"n": len(items), "tower_correct": sum(i["tower"] == i["label"] for i in items),
                     "mate_correct": sum(i["mate"] == i["label"] for i in items), "items": items}
    return out


def run_synthetic(checkpoint: Path, catalog: Path, speech: Path, mode: str) -> dict[str, Any]:
    if mode == "skip":
        return {"run": False, "reason": "skipped (--synthetic skip)"}
    if not (speech / "collection.json").is_file():
        return {"run": False, "reason": f"not run: no bootstrap corpus at {_rel(speech)} (make corpus builds it)"}
    from esmr_core.retrieval.evaluate import evaluate_checkpoint

    res = evaluate_checkpoint(checkpoint, speech, catalog, "test", subset="synthetic", progress=False)
    # the threshold reads the ranking the app uses: the mood match's when the checkpoint has one
    res["service_mrr"] = res.get("mood_match_mrr", res["mrr"])
    return {"run": True, "speech": _rel(speech), **{k: (_r(v) if isinstance(v, float) else v)
                                                     for k, v in res.items() if k not in ("checkpoint",)}}


def _sha(path: Path) -> str | None:
    f = path / "model.safetensors"
    return hashlib.sha256(f.read_bytes()).hexdigest()[:16] if f.is_file() else None


def _git() -> dict[str, Any]:
    def git(*args: str) -> str:
        try:
            return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, timeout=20).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""
    return {"commit": git("rev-parse", "HEAD") or None,
            "modified_tracked_files": len([x for x in git("status", "--porcelain", "-uno").splitlines() if x])}


# --------------------------------------------------------------------------------------------- reporting
HEADLINE = (  # (label, key path) for the summary table
    ("acted: arousal pairs, voice only, speech tower", ("acted", "summary", "tower", "voice", "arousal_pairs")),
    ("acted: arousal pairs, voice only, MATE", ("acted", "summary", "mate", "voice", "arousal_pairs")),
    ("acted: arousal pairs, two-cue rule (no training)", ("acted", "summary", "two_cue", "voice", "arousal_pairs")),
    ("acted, refused lines read too: arousal pairs voice only, tower / MATE / two-cue",
     (("acted", "summary_with_refused", "tower", "voice", "arousal_pairs"),
      ("acted", "summary_with_refused", "mate", "voice", "arousal_pairs"),
      ("acted", "summary_with_refused", "two_cue", "voice", "arousal_pairs"))),
    ("acted: arousal pairs with ASR, speech tower", ("acted", "summary", "tower", "asr", "arousal_pairs")),
    ("acted: arousal pairs with ASR, MATE", ("acted", "summary", "mate", "asr", "arousal_pairs")),
    ("acted: valence pairs, voice only, speech tower", ("acted", "summary", "tower", "voice", "valence_pairs")),
    ("acted: valence pairs, voice only, MATE", ("acted", "summary", "mate", "voice", "valence_pairs")),
    ("acted: valence pairs with ASR, speech tower", ("acted", "summary", "tower", "asr", "valence_pairs")),
    ("acted: valence pairs with ASR, MATE", ("acted", "summary", "mate", "asr", "valence_pairs")),
    ("acted: 7-class accuracy, voice only, speech tower", ("acted", "summary", "tower", "voice", "accuracy7")),
    ("acted: 7-class accuracy, voice only, MATE", ("acted", "summary", "mate", "voice", "accuracy7")),
    ("acted: 7-class accuracy with ASR, speech tower", ("acted", "summary", "tower", "asr", "accuracy7")),
    ("acted: 7-class accuracy with ASR, MATE", ("acted", "summary", "mate", "asr", "accuracy7")),
    ("prosody: arousal ordered pairs, speech tower", ("prosody", "summary", "tower", "arousal_pairs")),
    ("prosody: arousal ordered pairs, MATE", ("prosody", "summary", "mate", "arousal_pairs")),
    ("prosody: arousal ordered pairs, two-cue rule", ("prosody", "summary", "two_cue", "arousal_pairs")),
    ("prosody: arousal ordered triples, speech tower", ("prosody", "summary", "tower", "arousal_triples")),
    ("prosody: arousal ordered triples, MATE", ("prosody", "summary", "mate", "arousal_triples")),
    ("prosody: dominance ordered pairs, speech tower (not targeted)", ("prosody", "summary", "tower",
                                                                         "dominance_pairs")),
    ("music: energetic share of top 5, high-arousal acted lines", ("music", "acted", "high", "energetic_share")),
    ("music: energetic share of top 5, low-arousal acted lines", ("music", "acted", "low", "energetic_share")),
    ("music: mean top-5 energy, high-arousal acted lines", ("music", "acted", "high", "mean_energy")),
    ("music: mean top-5 energy, low-arousal acted lines", ("music", "acted", "low", "mean_energy")),
    ("music: energetic share of top 5, livelier prosody (+1..+3)", ("music", "prosody", "high", "energetic_share")),
    ("music: energetic share of top 5, calmer prosody (-3..-1)", ("music", "prosody", "low", "energetic_share")),
    ("music: controlled triples whose mean top-5 energy rises", ("music", "prosody", "energy_triples_rising")),
    ("channel 20 dB SNR: label agreement, speech tower / MATE", (("channel", "conditions", "noise_20db", "tower",
                                                                  "label_agreement"),
                                                                 ("channel", "conditions", "noise_20db", "mate",
                                                                  "label_agreement"))),
    ("channel telephone: label agreement, speech tower / MATE", (("channel", "conditions", "telephone", "tower",
                                                                  "label_agreement"),
                                                                 ("channel", "conditions", "telephone", "mate",
                                                                  "label_agreement"))),
    ("channel Opus 24 kbps: label agreement, speech tower / MATE", (("channel", "conditions", "opus_24kbps",
                                                                     "tower", "label_agreement"),
                                                                    ("channel", "conditions", "opus_24kbps", "mate",
                                                                     "label_agreement"))),
    ("example voices read as labelled (of 7), speech tower / MATE", (("examples", "app", "tower_correct"),
                                                                     ("examples", "app", "mate_correct"))),
    ("voice-only example voices read as labelled (of 7), tower / MATE", (("examples", "voice_only", "tower_correct"),
                                                                         ("examples", "voice_only", "mate_correct"))),
    ("synthetic test split MRR (TTS voices)", ("synthetic", "mrr")),
    ("synthetic test split MRR, ranked as the service ranks (with the mood match)", ("synthetic", "mood_match_mrr")),
)


def _fmt(v: Any) -> str:
    if v is None:
        return "–"
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, int):
        return str(v)
    if isinstance(v, dict):                      # label counts
        return ", ".join(f"{k} {n}" for k, n in v.items())
    return f"{v:.1f}" if abs(v) >= 10 else f"{v:.2f}"


def headline_value(result: dict[str, Any] | None, path) -> str:
    from esmr_core.realvoice import lookup

    if result is None:
        return ""
    if isinstance(path[0], tuple):
        return " / ".join(_fmt(lookup(result, p)) for p in path)
    return _fmt(lookup(result, path))


def headline_table(result: dict[str, Any], before: dict[str, Any] | None = None) -> str:
    head = "| measure | before | now |\n|---|---|---|\n" if before else "| measure | value |\n|---|---|\n"
    rows = []
    for label, path in HEADLINE:
        cells = [headline_value(before, path)] if before else []
        rows.append(f"| {label} | " + " | ".join([*cells, headline_value(result, path)]) + " |")
    return head + "\n".join(rows) + "\n"


def acted_table(s: dict[str, Any], packs: list[str]) -> list[str]:
    """Markdown rows of one acted summary: each reading x mode, pooled and per pack."""
    out = ["| reading | arousal pairs (n) | valence pairs (n) | 7-class acc. (n) | " +
           " | ".join(f"arousal {p}" for p in packs) + " |", "|---|---|---|---|" + "---|" * len(packs)]
    for model, name in (("tower", "speech tower"), ("mate", "MATE"), ("two_cue", "two-cue rule")):
        for mode in ("voice", "asr"):
            if mode not in s[model]:
                continue
            b = s[model][mode]
            out.append(f"| {name}, {'voice only' if mode == 'voice' else 'with ASR'} | "
                       f"{_fmt(b.get('arousal_pairs'))} ({b.get('arousal_n_pairs')}) | "
                       + (f"{_fmt(b.get('valence_pairs'))} ({b.get('valence_n_pairs')}) | " if 'valence_pairs' in b
                          else "– | ")
                       + (f"{_fmt(b.get('accuracy7'))} ({b.get('accuracy7_n')}) | " if 'accuracy7' in b else "– | ")
                       + " | ".join(_fmt(b["per_pack"].get(p, {}).get("arousal_pairs")) for p in packs) + " |")
    return out


def markdown_report(result: dict[str, Any], before: dict[str, Any] | None = None) -> str:
    from esmr_core import realvoice as rv

    m = result["models"]
    lines = ["# Real voices: the benchmark of issue #11", "",
             "Generated by `make realvoice` (`bench/realvoice.py`) from `bench/realvoice.json`; do not edit by hand.",
             "", f"Models: `{m['checkpoint']}` (weights sha256 {m['checkpoint_sha256']}), `{m['mate_checkpoint']}` "
             f"(sha256 {m['mate_sha256']}); catalogue `{m['catalog']}` ({m['n_tracks']} tracks). Code at "
             f"{(result['code'].get('commit') or '?')[:10]}. Run time {result['runtime_s']['total']:.0f} s.", ""]
    if before:
        bm = before.get("models", {})
        lines += [f"*before* = `bench/realvoice-before.json` (weights {bm.get('checkpoint_sha256')} / "
                  f"{bm.get('mate_sha256')}, code {(before.get('code', {}).get('commit') or '?')[:10]}).", ""]
    lines += ["## Summary", "", headline_table(result, before), "## Thresholds (issue #11, *Done when*)", "",
              "| threshold | measured | target | pass |", "|---|---|---|---|"]
    for t in result["thresholds"]:
        lines.append(f"| {t['what']} | {_fmt(t['value'])} | {t['op']} {_fmt(t['target'])} | "
                     f"{'yes' if t['pass'] else 'no' if t['pass'] is False else 'not measured'} |")
    a = result.get("acted", {})
    lines += ["", "## (a) Acted emotion: Hedgewars voice packs", "",
              "Real actors' lines from Debian `hedgewars-data` (voice packs, GFDL-1.3 per the package's copyright "
              "file), used for evaluation only and never for training. Only the packs British, Classic, Default, "
              "Pirate (English), Default_es (Spanish) and Default_pl (Polish) are read; the other packs are held "
              "out for independent checks. Pairs are formed only WITHIN a pack (one actor), so a deep or a high "
              "voice cannot win by itself: arousal pairs = (high, low) lines, valence pairs = (positive, negative) "
              "lines; the share whose predicted value is ordered (a tie counts half; chance 0.50).", "",
              "Each clip is read exactly as the app reads an upload (decode, silero-vad trim, -23 LUFS). The app "
              f"refuses clips with under {result['settings']['min_voiced_s']} s of voice, and so does the benchmark: "
              "refused lines are counted below, not scored. *voice* = no transcript (asr=False); *ASR* = the "
              "app's default (PocketSphinx transcript). The two-cue rule: the mean of the median F0 (Praat pitch, "
              "semitones) and the alpha ratio (spectral tilt, dB), each z-scored within the pack; no training.", ""]
    if a.get("per_pack"):
        lines += ["| pack | language | labelled lines present | analysed | refused by the app | of those, read "
                  "anyway (below) |", "|---|---|---|---|---|---|"]
        for p, d in a["per_pack"].items():
            lines.append(f"| {p} | {d['language']} | {d['labelled_lines']} | {d['analysed']} | {d['refused']} | "
                         f"{d.get('refused_read_relaxed', 0)} |")
        why = Counter(x["reason"] for x in a.get("refused", []))
        lines += ["", "Refused: " + (", ".join(f"{n} {k}" for k, n in why.most_common()) or "none") + ".", ""]
        s = a["summary"]
        lines += acted_table(s, list(a["per_pack"]))
        if a.get("summary_with_refused"):
            lines += ["", f"The same with the {a.get('n_read_relaxed', 0)} refused lines that are at least "
                      f"{RELAXED_MIN_S} s long read anyway (trimmed by energy instead of the voice detector, as "
                      "the Sing tab trims), to show what the models do with the shouts the front end rejects:", ""]
            lines += acted_table(a["summary_with_refused"], list(a["per_pack"]))
        lines += ["", f"True emotions of the analysed lines: {_fmt(s['labels_true'])}. Predicted (voice only): "
                  f"speech tower {_fmt(s['labels_predicted']['tower'])}; MATE {_fmt(s['labels_predicted']['mate'])}. "
                  f"With ASR: {s.get('asr_transcripts_empty')} of {a['n_analysed']} transcripts empty; how much the "
                  "recognised words counted (the service's words_weight, mean): " + (
                      _fmt(s["asr_words_weight_mean"]) if s.get("asr_words_weight_mean") is not None
                      else "not reported by this service (recognised words always count fully)") + ".", ""]
    lines += ["### The line labels", "",
              "Labelled by the game's line name (the same event in every pack). Left out on purpose: pain grunts "
              "and effort sounds (Ooff, Ow, Ouch, Jump, Firepunch, Kamikaze, Poison*), weapon and game calls "
              "whose delivery varies by pack (Fire, Grenade, Melon, Reinforcements, Flyaway, Sameteam, Watchit, "
              "Watchthis, Thisoneismine, Firstblood, Enemydown, Missed), and insults or mild curses that can be "
              "played as anger, scorn or comedy (Coward, Stupid, Nutter, Bugger, Drat, Oops, Leavemealone).", "",
              "| line | emotion | arousal | valence | why |", "|---|---|---|---|---|"]
    for name, lab in rv.LINE_LABELS.items():
        lines.append(f"| {name} | {lab.emotion or '–'} | {lab.arousal or '–'} | {lab.valence or '–'} | "
                     f"{lab.why} |")
    p = result.get("prosody", {})
    if p.get("summary"):
        s = p["summary"]
        lines += ["", "## (b) Controlled prosody on real voices", "",
                  f"{s['n_clips']} real prompts of the French (June Wallack, fr_CA, female, CC-BY-SA-3.0) and "
                  "Italian (Carlo Flora, it_IT, male, CC-BY-3.0) asterisk voices (Debian `asterisk-core-sounds-fr-g722`"
                  " / `-it-g722`, 16 kHz G.722), spread evenly over each voice's prompts of 1.5-6 s. The Spanish "
                  "and Russian voices are training voices and the English one is held out: none of them is read "
                  "here. Each prompt is made calmer (-1..-3) and livelier (+1..+3) with Praat "
                  "(parselmouth: To Manipulation, pitch-tier formula for level and range, duration tier, "
                  "overlap-add resynthesis), then a spectral-tilt filter (vocal effort) and a gain (the app "
                  "normalises loudness, so the gain alone changes nothing). Read voice only (the words are the "
                  "same at every level). *Pairs*: all pairs of levels of one prompt, ordered like the levels; "
                  "*triples*: (-k, 0, +k) strictly increasing. The transform does not target dominance; its row "
                  "is for information.", "",
                  "| level | pitch (st) | range | duration | gain (dB) | tilt (dB/oct) | mean F0 (Hz) | alpha ratio "
                  "(dB) | length (s) | tower arousal | MATE arousal | tower labels | MATE labels |",
                  "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for lv in rv.LEVELS:
            c = rv.prosody_level(lv)
            q = s["cues_by_level"][str(lv)]
            lines.append(f"| {lv:+d} | {c.pitch_st:+.2f} | {c.pitch_range:.2f} | {c.duration:.2f} | "
                         f"{c.gain_db:+.0f} | {c.tilt_db_per_octave:+.0f} | {_fmt(q['f0_median_hz'])} | "
                         f"{_fmt(q['alpha_ratio_db'])} | {_fmt(q['duration_s'])} | "
                         f"{_fmt(s['tower']['mean_arousal_by_level'][str(lv)])} | "
                         f"{_fmt(s['mate']['mean_arousal_by_level'][str(lv)])} | "
                         f"{_fmt(s['tower']['labels_by_level'][str(lv)])} | "
                         f"{_fmt(s['mate']['labels_by_level'][str(lv)])} |")
        lines += ["", "| reading | arousal pairs | arousal triples | dominance pairs | dominance triples |",
                  "|---|---|---|---|---|",
                  f"| speech tower | {_fmt(s['tower']['arousal_pairs'])} ({s['tower']['n_pairs']}) | "
                  f"{_fmt(s['tower']['arousal_triples'])} ({s['tower']['n_triples']}) | "
                  f"{_fmt(s['tower']['dominance_pairs'])} | {_fmt(s['tower']['dominance_triples'])} |",
                  f"| MATE | {_fmt(s['mate']['arousal_pairs'])} | {_fmt(s['mate']['arousal_triples'])} | – | – |",
                  f"| two-cue rule | {_fmt(s['two_cue']['arousal_pairs'])} | {_fmt(s['two_cue']['arousal_triples'])}"
                  " | – | – |"]
    ch = result.get("channel", {})
    if ch.get("conditions"):
        lines += ["", "## (c) Channel", "",
                  f"{len(ch['clips'])} of the prompts above at levels {ch['levels']} ({ch['n_clean']} clean clips), "
                  "each through every condition; agreement = same predicted emotion as the clean clip; shift = mean "
                  "|arousal - clean arousal| on 0..1 (MATE's 1..5 as (a-1)/4). Voice only. Codecs go in as the "
                  "encoded file (the app's upload path), the rest as arrays (its microphone path). Share of the "
                  "most frequent label among the clean clips (what a constant answer would agree): speech tower "
                  f"{_fmt(ch['clean_majority_share']['tower'])}, MATE {_fmt(ch['clean_majority_share']['mate'])}.",
                  "", "| condition | tower agreement | tower shift | MATE agreement | MATE shift | refused |",
                  "|---|---|---|---|---|---|"]
        for cond, d in ch["conditions"].items():
            lines.append(f"| {cond} | {_fmt(d['tower']['label_agreement'])} | {_fmt(d['tower']['arousal_shift'])} | "
                         f"{_fmt(d['mate']['label_agreement'])} | {_fmt(d['mate']['arousal_shift'])} | "
                         f"{d['refused']} |")
        lines += ["", "Conditions: telephone = 300-3400 Hz band-pass and 8 kHz; reverb = synthetic room impulse "
                  "response (exponentially decaying noise, RT60 0.5 s, direct-to-reverberant 3 dB); noise = pink "
                  "noise at the SNR over the active speech; Opus 24 kbit/s (Ogg) and MP3 32 kbit/s through PyAV's "
                  "FFmpeg; gain +-12 dB; clipping = peak driven 6 dB over full scale and clipped."]
    mu = result.get("music", {})
    if mu:
        lines += ["", "## (d) Music response", "",
                  "Energetic moods: exciting, angry, scary, happy, funny. Energy: the catalogue's calibrated vibenet "
                  "energy (0..1) of each of the top 5 tracks.", "",
                  "| input | energetic share of top 5 | mean top-5 energy | n |", "|---|---|---|---|"]
        if "high" in mu.get("acted", {}):
            for cls in ("high", "low"):
                d = mu["acted"][cls]
                lines.append(f"| acted, {cls} arousal, with ASR (app default) | {_fmt(d['energetic_share'])} | "
                             f"{_fmt(d['mean_energy'])} | {d['n']} |")
            for cls in ("high", "low"):
                d = mu["acted"]["voice"][cls]
                lines.append(f"| acted, {cls} arousal, voice only | {_fmt(d['energetic_share'])} | "
                             f"{_fmt(d['mean_energy'])} | {d['n']} |")
        for lv, d in mu.get("prosody", {}).get("by_level", {}).items():
            lines.append(f"| prosody level {int(lv):+d} | {_fmt(d['energetic_share'])} | {_fmt(d['mean_energy'])} | "
                         f"{d['n']} |")
        if mu.get("prosody"):
            lines += ["", f"Controlled triples whose mean top-5 energy rises with the level: "
                      f"{_fmt(mu['prosody']['energy_triples_rising'])} of {mu['prosody']['n_triples']}."]
    ex = result.get("examples", {})
    if ex and "voice_only" in ex:
        lines += ["", "## (e) The app's example voices", "",
                  "The clips the app offers as examples (`demo.app.speech_examples`): the group with its words read "
                  "as the app runs it (words typed), the same clips with the words hidden and with speech "
                  "recognition instead; and the voice-only group (real voices made emotional by rule, no words).", "",
                  "| clip | label | app (words typed): tower / MATE | words hidden | ASR |", "|---|---|---|---|---|"]
        for i, it in enumerate(ex["app"]["items"]):
            v, a = ex["voice"]["items"][i], ex["asr"]["items"][i]
            lines.append(f"| {it['clip']} | {it['label']} | {it['tower']} / {it['mate']} | {v['tower']} / "
                         f"{v['mate']} | {a['tower']} / {a['mate']} |")
        lines.append("| **correct** | | " + " | ".join(" / ".join(f"{ex[m][k]}" for k in ("tower_correct", "mate_correct"))
                                                      + f" of {ex[m]['n']}" for m in ("app", "voice", "asr")) + " |")
        lines += ["", "| voice-only clip | label | tower | MATE |", "|---|---|---|---|"]
        lines += [f"| {it['clip']} | {it['label']} | {it['tower']} | {it['mate']} |" for it in ex["voice_only"]["items"]]
        lines.append(f"| **correct** | | {ex['voice_only']['tower_correct']} of {ex['voice_only']['n']} | "
                     f"{ex['voice_only']['mate_correct']} of {ex['voice_only']['n']} |")
    sy = result.get("synthetic", {})
    lines += ["", "## (f) Synthetic test split", "",
              (f"MRR {_fmt(sy.get('mrr'))}, P@5 {_fmt(sy.get('p@5'))}, NDCG@5 {_fmt(sy.get('ndcg@5'))}, emotion "
               f"accuracy {_fmt(sy.get('emotion_accuracy'))} on `{sy.get('speech')}` (split test, TTS voices only, "
               f"{sy.get('n_speech')} clips)." if sy.get("run") else sy.get("reason", "not run"))
              + (f" Ranked as the service ranks (cosine + the checkpoint's mood match, moodmatch.json): MRR "
                 f"{_fmt(sy.get('mood_match_mrr'))}, P@5 {_fmt(sy.get('mood_match_p@5'))}, NDCG@5 "
                 f"{_fmt(sy.get('mood_match_ndcg@5'))}." if sy.get("mood_match_mrr") is not None else ""), "",
              "## Run time", "", "Wall-clock seconds per part (on a shared machine they depend on its load; "
              "`cpu_this_process` is this process's CPU time): "
              + ", ".join(f"{k} {v:.0f} s" for k, v in result["runtime_s"].items()) + ".", ""]
    return "\n".join(lines)


def print_summary(result: dict[str, Any]) -> None:
    print("\nreal-voice benchmark")
    for label, path in HEADLINE:
        print(f"  {label:64s} {headline_value(result, path)}")
    print("\nthresholds (issue #11)")
    for t in result["thresholds"]:
        mark = "PASS" if t["pass"] else "FAIL" if t["pass"] is False else "n/a "
        print(f"  {mark}  {t['what']:78s} {_fmt(t['value']):>6s} {t['op']} {_fmt(t['target'])}")
    print(f"\nall pass: {result['all_pass']}   run time {result['runtime_s']['total']:.0f} s "
          f"({result['runtime_s'].get('cpu_this_process', math.nan):.0f} s of CPU)")


# --------------------------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", type=Path, default=None, help="joint checkpoint (default checkpoints/esmr-default)")
    ap.add_argument("--mate-checkpoint", type=Path, default=None,
                    help="MATE checkpoint (default checkpoints/mate-default)")
    ap.add_argument("--catalog", type=Path, default=None, help="music catalogue (default assets/music)")
    ap.add_argument("--data", type=Path, default=REPO / "data", help="where the Debian packages are unpacked (raw/)")
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "realvoice.json")
    ap.add_argument("--markdown", type=Path, default=REPO / "docs" / "realvoice.md")
    ap.add_argument("--before", type=Path, default=REPO / "bench" / "realvoice-before.json",
                    help="an earlier result to show beside this one in the markdown (skipped when missing)")
    ap.add_argument("--prosody-clips", type=int, default=10, help="prompts per asterisk voice for (b)")
    ap.add_argument("--channel-clips", type=int, default=5, help="of those, prompts per voice for (c)")
    ap.add_argument("--channel-levels", default="-3,0,3", help="prosody levels sent through the channels")
    ap.add_argument("--min-voiced-s", type=float, default=None,
                    help="voiced seconds a clip needs (default: the app's, 0.5)")
    ap.add_argument("--synthetic", choices=["auto", "skip"], default="auto",
                    help="auto: evaluate the bootstrap test split when data/bootstrap exists")
    ap.add_argument("--speech", type=Path, default=REPO / "data" / "bootstrap", help="bootstrap corpus for (f)")
    ap.add_argument("--parts", default=",".join(PARTS),
                    help="comma-separated parts to run (default all; prosody runs whenever channel does)")
    ap.add_argument("--no-fetch", action="store_true", help="never call apt-get; use what is unpacked")
    ap.add_argument("--report-only", type=Path, default=None, metavar="JSON",
                    help="run nothing: write the markdown (and summary) of an earlier result JSON")
    ap.add_argument("--commit", default=None, help="record this code commit (when run from an exported tree)")
    args = ap.parse_args(argv)
    if args.report_only:
        result = json.loads(args.report_only.read_text(encoding="utf-8"))
        write_report(result, args.report_only, args.markdown, args.before)
        return 0

    import torch

    from esmr_core import realvoice as rv
    from esmr_core.audio import MIN_VOICED_S
    from esmr_core.errors import ModelUnavailableError
    from esmr_core.service import Service, ServiceConfig

    torch.manual_seed(0)
    t_all = time.perf_counter()
    runtime: dict[str, float] = {}
    cfg = ServiceConfig(singing=False)
    for name in ("checkpoint", "mate_checkpoint", "catalog"):
        if getattr(args, name) is not None:
            setattr(cfg, name, getattr(args, name).resolve())
    min_voiced = MIN_VOICED_S if args.min_voiced_s is None else args.min_voiced_s
    levels = [int(v) for v in args.channel_levels.split(",") if v.strip()]
    parts = {p.strip() for p in args.parts.split(",") if p.strip()}
    if parts - set(PARTS):
        ap.error(f"unknown part(s) {sorted(parts - set(PARTS))}; choose from {', '.join(PARTS)}")
    needed = [d for d in rv.BENCH_DEBS
              if ("acted" in parts if d == rv.HEDGEWARS_DEB else bool({"prosody", "channel"} & parts))]
    fetched = fetch_packages(args.data, tuple(needed), allow=not args.no_fetch)
    raw = args.data / "raw"

    t = time.perf_counter()
    try:
        svc = Service(cfg)
    except ModelUnavailableError:
        if args.checkpoint is None:
            raise
        # another joint checkpoint (e.g. one you trained): its embedding map over the catalogue, built in a scratch
        # folder so the catalogue's own map (the shipped checkpoint's) stays as it is
        from esmr_core.service import build_map

        cfg.map_dir = Path(tempfile.mkdtemp(prefix="realvoice-map-"))
        print(f"[realvoice] building this checkpoint's embedding map in {cfg.map_dir}", file=sys.stderr, flush=True)
        build_map(cfg.checkpoint, cfg.catalog, cfg.reference, cfg.map_dir, progress=False)
        svc = Service(cfg)
    runtime["load"] = time.perf_counter() - t
    energy = track_energy(svc, cfg.catalog)
    result: dict[str, Any] = {
        "benchmark": "realvoice (issue #11)", "version": 1,
        "models": {"checkpoint": _rel(cfg.checkpoint), "checkpoint_sha256": _sha(cfg.checkpoint),
                   "mate_checkpoint": _rel(cfg.mate_checkpoint), "mate_sha256": _sha(cfg.mate_checkpoint),
                   "catalog": _rel(cfg.catalog), "n_tracks": len(energy)},
        "code": {"commit": args.commit, "exported_tree": True} if args.commit else _git(),
        "settings": {"parts": sorted(parts), "min_voiced_s": min_voiced,
                     "prosody_clips_per_voice": args.prosody_clips,
                     "channel_clips_per_voice": args.channel_clips, "channel_levels": levels,
                     "levels": {str(lv): vars(rv.prosody_level(lv)) for lv in rv.LEVELS}},
        "data": {"packages": {d: {"status": s, "version": deb_version(args.data, d)} for d, s in fetched.items()},
                 "hedgewars_packs": list(rv.EVAL_PACKS),
                 "asterisk_voices": {k: v[2] for k, v in rv.ASTERISK_VOICES.items()}},
    }

    t = time.perf_counter()
    if "acted" not in parts:
        result["acted"] = {"skipped": "not asked for (--parts)"}
    elif fetched.get(rv.HEDGEWARS_DEB, "").startswith("missing"):
        result["acted"] = {"skipped": fetched[rv.HEDGEWARS_DEB]}
    else:
        acted = run_acted(svc, raw, energy, min_voiced)
        app = [x for x in acted["lines"] if x["read"] == "app"]
        result["acted"] = {"summary": acted_summary(app) if app else None,
                           "summary_with_refused": acted_summary(acted["lines"]) if acted["lines"] else None,
                           "per_pack": acted["per_pack"], "n_analysed": len(app),
                           "n_read_relaxed": len(acted["lines"]) - len(app),
                           "n_refused": len(acted["refused"]), "refused": acted["refused"], "lines": acted["lines"]}
    runtime["acted"] = time.perf_counter() - t
    print(f"[realvoice] acted: {result['acted'].get('n_analysed', 0)} lines in {runtime['acted']:.0f} s", flush=True)

    t = time.perf_counter()
    clips = asterisk_clips(raw, args.prosody_clips) if {"prosody", "channel"} & parts else []
    pros_items: list[dict[str, Any]] = []
    if clips:
        pros_items = run_prosody(svc, clips, energy)
        result["prosody"] = {"summary": prosody_summary(pros_items), "clips": [c["id"] for c in clips],
                             "items": pros_items}
    else:
        result["prosody"] = {"skipped": "no French/Italian asterisk prompts unpacked" if {"prosody", "channel"}
                             & parts else "not asked for (--parts)"}
    runtime["prosody"] = time.perf_counter() - t
    print(f"[realvoice] prosody: {len(pros_items)} clips in {runtime['prosody']:.0f} s", flush=True)

    t = time.perf_counter()
    if clips and "channel" in parts:
        chosen = [c for v in rv.ASTERISK_VOICES for c in rv.pick_evenly([c for c in clips if c["voice"] == v],
                                                                         args.channel_clips)]
        result["channel"] = run_channel(svc, chosen, pros_items, levels, list(rv.CHANNELS))
    runtime["channel"] = time.perf_counter() - t
    print(f"[realvoice] channel in {runtime['channel']:.0f} s", flush=True)

    result["music"] = music_summary([x for x in result["acted"].get("lines", []) if x["read"] == "app"], pros_items)
    t = time.perf_counter()
    result["examples"] = run_examples(svc) if "examples" in parts else {}
    runtime["examples"] = time.perf_counter() - t
    t = time.perf_counter()
    result["synthetic"] = run_synthetic(cfg.checkpoint, cfg.catalog, args.speech,
                                        args.synthetic if "synthetic" in parts else "skip")
    runtime["synthetic"] = time.perf_counter() - t
    runtime["total"] = time.perf_counter() - t_all
    runtime["cpu_this_process"] = time.process_time()   # CPU seconds: compare with total on a shared machine
    result["runtime_s"] = {k: round(v, 1) for k, v in runtime.items()}
    result["thresholds"] = rv.check_thresholds(result)
    result["all_pass"] = all(t["pass"] for t in result["thresholds"])

    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    write_report(result, args.out, args.markdown, args.before)
    return 0


def write_report(result: dict[str, Any], out: Path, markdown: Path | None, before_path: Path | None) -> None:
    """The markdown report (with the earlier result beside it, when there is one) and the printed summary."""
    before = None
    if before_path and before_path.is_file() and before_path.resolve() != out.resolve():
        before = json.loads(before_path.read_text(encoding="utf-8"))
        if before.get("models") == result["models"] and before.get("code", {}).get("commit") == \
                result["code"].get("commit"):
            before = None                     # the same models at the same code: nothing to compare
    if markdown:
        markdown.parent.mkdir(parents=True, exist_ok=True)
        markdown.write_text(markdown_report(result, before), encoding="utf-8")
    print_summary(result)
    print(f"wrote {_rel(out)}" + (f" and {_rel(markdown)}" if markdown else ""))


if __name__ == "__main__":
    sys.exit(main())
