"""Benchmark of the app as users meet it: `python bench/run.py --out bench/latest.json` (what `make bench` runs).

Spawns `python demo/app.py` on a free loopback port and measures, over gradio_client (HTTP on 127.0.0.1):
  cold start        process start -> first /analyze answer, s
  warm latency      /analyze p50/p95 for 5 s and 30 s clips with and without ASR, /sing for a 15 s clip, ms
  peak RSS          VmHWM of the server process, MB
  4 clients         throughput and errors with 4 concurrent clients
and, in this process after the server is gone, the peer comparison: one forward pass of wav2vec2-base
(transformers Wav2Vec2Model, default Wav2Vec2Config() = base architecture, random weights) on the same 5 s clip;
and the timeline of a 5-minute recording (svc.analyze_timeline in this process, with no words, with speech
recognition, with its script; `--only timeline` runs just that part).
Every loop is bounded; nothing leaves the machine.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import numpy as np
import soundfile as sf

REPO = Path(__file__).resolve().parents[1]
SR = 16000
TARGETS = {  # key: (comparison, limit)
    "analyze_5s_p50_ms": ("<=", 300.0),
    "analyze_5s_asr_p50_ms": ("<=", 1200.0),
    "cold_start_s": ("<=", 25.0),
    "peak_rss_mb": ("<=", 2500.0),
    "concurrent4_errors": ("<=", 0),
    "mate_5s_p50_ms": ("<=", 100.0),
    "mate_5s_text_p50_ms": ("<=", 100.0),
    "timeline_5min_s": ("<=", 60.0),
    "timeline_5min_asr_s": ("<=", 120.0),
}
SPEECH_LINES = ["The weather turned cold this morning and I forgot my coat at home.",
                "We finally finished the project and everyone was celebrating in the office.",
                "I waited for the bus for almost an hour, and then it just drove past me.",
                "Tell me again what happened at the meeting yesterday afternoon."]


# ---- test clips ---------------------------------------------------------------------------------------------
def _speech_material(tmp: Path) -> np.ndarray:
    """(N,) float32 speech at 16 kHz: the bundled example voices (piper first), else espeak-ng sentences."""
    import librosa

    folder = REPO / "assets" / "examples" / "speech"
    rows = []
    if (folder / "manifest.jsonl").is_file():
        text = (folder / "manifest.jsonl").read_text(encoding="utf-8")
        rows = [json.loads(x) for x in text.splitlines() if x.strip()]
        rows = sorted((r for r in rows if (folder / r["path"]).is_file()), key=lambda r: r.get("tts") != "piper")
    paths = [folder / r["path"] for r in rows[:40]]
    if not paths:
        for i, line in enumerate(SPEECH_LINES):
            p = tmp / f"espeak{i}.wav"
            subprocess.run(["espeak-ng", "-w", str(p), line], check=True, capture_output=True, timeout=60)
            paths.append(p)
    gap = np.zeros(int(0.3 * SR), np.float32)
    parts = []
    for p in paths:
        y, sr = sf.read(p, dtype="float32", always_2d=True)
        parts += [librosa.resample(y.mean(axis=1), orig_sr=sr, target_sr=SR), gap]
    return np.concatenate(parts)


def _fit(y: np.ndarray, seconds: float) -> np.ndarray:
    n = int(seconds * SR)
    return np.resize(y, n).astype(np.float32) if len(y) < n else y[:n]


def make_clips(tmp: Path) -> dict[str, Path]:
    """5 s and 30 s speech, 15 s singing (a bundled example, else the first guide vocal of the song catalogue)."""
    import librosa

    speech = _speech_material(tmp)
    clips = {}
    for name, sec in (("speech5", 5.0), ("speech30", 30.0)):
        clips[name] = tmp / f"{name}.wav"
        sf.write(clips[name], _fit(speech, sec), SR, subtype="PCM_16")
    sing_dir = REPO / "assets" / "examples" / "singing"
    cands = sorted(p for p in sing_dir.rglob("*") if p.suffix in (".wav", ".ogg", ".flac")) if sing_dir.is_dir() else []
    cands = cands or sorted((REPO / "assets" / "songs" / "audio").glob("*-high.ogg"))
    if not cands:
        raise SystemExit("no singing clip: add assets/examples/singing/ or build the song catalogue")
    y, sr = sf.read(cands[0], dtype="float32", always_2d=True)
    clips["sing15"] = tmp / "sing15.wav"
    sf.write(clips["sing15"], _fit(librosa.resample(y.mean(axis=1), orig_sr=sr, target_sr=SR), 15.0), SR,
             subtype="PCM_16")
    return clips


# ---- the server ---------------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def peak_rss_mb(pid: int) -> float:
    """Peak resident set size (VmHWM) of a live process, MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024.0
    return float("nan")


def wait_http(url: str, proc: subprocess.Popen, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the app exited with status {proc.returncode} before serving")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"the app did not answer on {url} within {timeout_s:.0f} s")


def timed(fn, n: int) -> list[float]:
    out = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1e3)
    return out


def pct(xs: list[float], q: float) -> float:
    return round(float(np.percentile(xs, q)), 1)


def concurrent(url: str, clip: Path, clients: int, per_client: int) -> dict[str, float]:
    from gradio_client import Client, handle_file

    errors, done = [], []
    lock = threading.Lock()

    def worker():
        c = Client(url, verbose=False)
        for _ in range(per_client):
            try:
                c.predict(handle_file(str(clip)), "", False, api_name="/analyze")
                with lock:
                    done.append(1)
            except Exception as exc:  # noqa: BLE001 - counted, reported
                with lock:
                    errors.append(repr(exc)[:200])

    t = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(clients)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=600)
    wall = time.perf_counter() - t
    return {"concurrent4_errors": len(errors), "concurrent4_requests": clients * per_client,
            "concurrent4_throughput_rps": round(len(done) / wall, 2), "concurrent4_wall_s": round(wall, 2),
            "concurrent4_error_samples": errors[:3]}


def serve_and_measure(clips: dict[str, Path], reps: int) -> dict:
    from gradio_client import Client, handle_file

    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, str(REPO / "demo" / "app.py"), "--host", "127.0.0.1", "--port", str(port)],
                            cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        wait_http(url, proc, 300)
        client = Client(url, verbose=False)
        first = client.predict(handle_file(str(clips["speech5"])), "", False, api_name="/analyze")
        res: dict = {"cold_start_s": round(time.perf_counter() - t0, 2)}

        def analyze(name, asr):
            return lambda: client.predict(handle_file(str(clips[name])), "", asr, api_name="/analyze")

        server_ms = []
        for _ in range(2):   # warm-up: first calls load lazy parts (ASR decoder, numba JIT)
            analyze("speech5", True)()
            client.predict(handle_file(str(clips["sing15"])), api_name="/sing")
        for key, name, asr, n in (("analyze_5s", "speech5", False, reps), ("analyze_5s_asr", "speech5", True, reps),
                                  ("analyze_30s", "speech30", False, max(3, reps // 2)),
                                  ("analyze_30s_asr", "speech30", True, max(3, reps // 2))):
            xs = timed(analyze(name, asr), n)
            res[f"{key}_p50_ms"], res[f"{key}_p95_ms"] = pct(xs, 50), pct(xs, 95)
        mate_ms, mate_text_ms = [], []
        for _ in range(reps):
            r = client.predict(handle_file(str(clips["speech5"])), "", False, api_name="/analyze")
            server_ms.append(float(r["timing_ms"]["total_ms"]))
            mate_ms.append(float(r["timing_ms"]["mate_ms"]))
            r = client.predict(handle_file(str(clips["speech5"])), SPEECH_LINES[0], False, api_name="/analyze")
            mate_text_ms.append(float(r["timing_ms"]["mate_ms"]))
        res["analyze_5s_server_p50_ms"] = pct(server_ms, 50)
        # MATE's own cost on top of the shared front end (server-side timing_ms.mate_ms): audio only, and with a
        # typed transcript (adds its MiniLM sentence embedding)
        res["mate_5s_p50_ms"], res["mate_5s_text_p50_ms"] = pct(mate_ms, 50), pct(mate_text_ms, 50)
        xs = timed(lambda: client.predict(handle_file(str(clips["sing15"])), api_name="/sing"), max(3, reps // 2))
        res["sing_15s_p50_ms"], res["sing_15s_p95_ms"] = pct(xs, 50), pct(xs, 95)
        res.update(concurrent(url, clips["speech5"], clients=4, per_client=max(2, reps // 3)))
        res["peak_rss_mb"] = round(peak_rss_mb(proc.pid), 1)
        res["first_result_label"] = first["emotion"]["label"]
        return res
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def wav2vec2_base_ms(clip: Path, reps: int = 3) -> float:
    """Median time of one wav2vec2-base forward pass (random weights) on the clip, ms."""
    import torch
    from transformers import Wav2Vec2Config, Wav2Vec2Model

    model = Wav2Vec2Model(Wav2Vec2Config()).eval()
    y, _ = sf.read(clip, dtype="float32")
    x = torch.from_numpy(y)[None]
    with torch.inference_mode():
        model(x)   # warm-up
        return round(statistics.median(timed(lambda: model(x), reps)), 1)


def timeline_recording(tmp: Path, minutes: float = 5.0) -> tuple[Path, str]:
    """A voice-over of `minutes`: the bundled example voices grouped by emotion into passages (0.4 s between
    sentences, 1 s between passages), repeated to length, as 16 kHz WAV; and its script (one sentence a line)."""
    import librosa

    folder = REPO / "assets" / "examples" / "speech"
    rows = [json.loads(x) for x in (folder / "manifest.jsonl").read_text(encoding="utf-8").splitlines() if x.strip()]
    rows = sorted((r for r in rows if (folder / r["path"]).is_file()), key=lambda r: (r["label"], r["id"]))
    if not rows:
        raise SystemExit("no example voices in assets/examples/speech for the timeline benchmark")
    voices = []
    for r in rows:
        y, sr = sf.read(folder / r["path"], dtype="float32", always_2d=True)
        voices.append((r, librosa.resample(y.mean(axis=1), orig_sr=sr, target_sr=SR)))
    parts, script, n, prev = [], [], 0, None
    while n < minutes * 60 * SR:
        for r, y in voices:
            gap = np.zeros(int((0.4 if r["label"] == prev else 1.0) * SR), np.float32)
            parts += [gap, y]
            script.append(r["text"])
            n += len(gap) + len(y)
            prev = r["label"]
            if n >= minutes * 60 * SR:
                break
    path = tmp / "timeline5min.wav"
    sf.write(path, np.concatenate(parts)[: int(minutes * 60 * SR)], SR, subtype="PCM_16")
    return path, "\n".join(script)


def timeline_figures(tmp: Path) -> dict:
    """Seconds the timeline of a 5-minute recording takes in one process on this machine (service loaded and
    warmed up on 30 s first): no words, speech recognition per utterance, the script aligned."""
    from esmr_core.service import Service, ServiceConfig

    path, script = timeline_recording(tmp)
    warm = tmp / "timeline30s.wav"
    sf.write(warm, sf.read(path, dtype="float32")[0][: 30 * SR], SR, subtype="PCM_16")
    svc = Service(ServiceConfig(singing=False))
    svc.analyze_timeline(str(warm), asr=True)      # loads the encoders, the recogniser and the VAD
    res: dict = {"timeline_load_average_before": round(os.getloadavg()[0], 2)}
    for key, options in (("timeline_5min_s", {}), ("timeline_5min_asr_s", {"asr": True}),
                         ("timeline_5min_script_s", {"script": script})):
        t = time.perf_counter()
        r = svc.analyze_timeline(str(path), **options)
        res[key] = round(time.perf_counter() - t, 2)
        res[key[:-2] + "_parts_ms"] = r["timing_ms"]
        res[key[:-2] + "_sections"] = len(r["sections"])
    res["timeline_5min_utterances"] = len(r["segments"])
    res["timeline_load_average_after"] = round(os.getloadavg()[0], 2)
    return res


def machine() -> dict:
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor()) if Path("/proc/cpuinfo").is_file() else ""
    return {"cores": os.cpu_count(), "cpu_model": model, "python": platform.python_version()}


def commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True,
                              timeout=10).stdout.strip()
    except OSError:
        return ""


def judge(res: dict) -> dict:
    out = {}
    for key, (op, limit) in TARGETS.items():
        if res.get("only") and not key.startswith(res["only"]):
            continue
        value = res.get(key)
        ok = value is not None and value <= limit
        out[key] = {"target": f"{op} {limit}", "value": value, "pass": bool(ok)}
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=REPO / "bench" / "latest.json")
    p.add_argument("--reps", type=int, default=10, help="timed requests per warm measurement (default 10)")
    p.add_argument("--only", choices=["timeline"], help="measure only this part (and judge only its targets)")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="esmr-bench-") as tmp:
        res = {"only": args.only} if args.only else {}
        if not args.only:
            clips = make_clips(Path(tmp))
            res = serve_and_measure(clips, max(3, args.reps))
            res["wav2vec2_base_5s_ms"] = wav2vec2_base_ms(clips["speech5"])
        res.update(timeline_figures(Path(tmp)))
    if not args.only:
        res["speedup_vs_wav2vec2"] = round(res["wav2vec2_base_5s_ms"] / res["analyze_5s_server_p50_ms"], 2)
        res["speedup_basis"] = ("wav2vec2-base forward on the 5 s clip / our whole speech path on it (server-side "
                                "timing_ms.total_ms of /analyze without ASR: decode, features, model, search, MATE)")
    res["machine"], res["commit"] = machine(), commit()
    res["targets"] = judge(res)
    res["all_pass"] = all(t["pass"] for t in res["targets"].values())
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(res, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(res, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
