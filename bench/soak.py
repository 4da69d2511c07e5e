"""Soak test of the app under many clients: `python bench/soak.py --out bench/soak.json` (what `make soak` runs).

Spawns `python demo/app.py` on a free loopback port (its own upload folder) and drives it over raw HTTP as API
clients do (POST /gradio_api/upload, POST /gradio_api/call/<api>, then the event stream):
  phase "analyze"  16 clients x 100 /analyze of a 5 s clip without speech recognition
  phase "mixed"    16 clients x 6 requests cycling /analyze with ASR, /sing of a 15 s clip, /analyze without ASR
  phase "burst"    queue size + 48 /analyze calls at once: those beyond the queue must be refused fast ("queue full")
and reports errors, latency p50/p95/max, throughput, the server's RSS (sampled every second: before, during,
after; first vs last minute of load) and its upload folder (files, bytes) before and after.
Bounded: a time budget (--max-s, default 360 s: 72 % for the first phase, the rest for the mixed one) stops new
requests; loopback only; the server is stopped at the end. The machine's load average is recorded with the figures.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np

import run as bench   # bench/run.py: the clips, the port, the machine description

REPO = Path(__file__).resolve().parents[1]
FILE = {"_type": "gradio.FileData"}
TARGETS = {  # key: (comparison, limit)
    "errors": ("<=", 0),
    "rss_growth_first_to_last_minute_mb": ("<=", 100.0),
    "upload_files_growth": ("<=", 0),
    "burst_unexplained_refusals": ("<=", 0),
    "burst_refusal_p95_ms": ("<=", 2000.0),   # vs ~10-20 s for the requests the queue took
}


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    return float("nan")


def folder_usage(folder: Path) -> tuple[int, int]:
    files = size = 0
    for p in folder.rglob("*"):
        if p.is_file():
            files += 1
            size += p.stat().st_size
    return files, size


class Sampler(threading.Thread):
    """RSS of the server every second: [(seconds since start, MB, phase)]."""

    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.pid, self.phase, self.samples, self.stop = pid, "idle", [], threading.Event()
        self.t0 = time.monotonic()

    def run(self):
        while not self.stop.wait(1.0):
            try:
                self.samples.append((round(time.monotonic() - self.t0, 1), round(rss_mb(self.pid), 1), self.phase))
            except OSError:
                return


def call(http: httpx.Client, base: str, api: str, data: list) -> tuple[str, str]:
    """-> ("complete", "") | ("error", message) | ("refused", detail)."""
    r = http.post(f"{base}/gradio_api/call/{api}", json={"data": data})
    if r.status_code != 200:
        return "refused", f"{r.status_code} {r.text[:200]}"
    text = http.get(f"{base}/gradio_api/call/{api}/{r.json()['event_id']}").text
    events = [line[7:] for line in text.splitlines() if line.startswith("event: ")]
    if events and events[-1] == "complete":
        return "complete", ""
    return "error", text[-300:]


def upload(http: httpx.Client, base: str, name: str, data: bytes) -> dict:
    r = http.post(f"{base}/gradio_api/upload", files=[("files", (name, data, "audio/wav"))])
    r.raise_for_status()
    return {"path": r.json()[0], "meta": FILE}


def request(http, base, kind: str, clips: dict[str, bytes]) -> tuple[str, str]:
    """One client request, upload included: 'plain' / 'asr' (/analyze) or 'sing'."""
    if kind == "sing":
        return call(http, base, "sing", [upload(http, base, "singing.wav", clips["sing15"]), 1.0, 0.5, 0.25, 0.0, 1.0])
    return call(http, base, "analyze", [upload(http, base, "voice.wav", clips["speech5"]), "", kind == "asr"])


def phase(base: str, clips, clients: int, plan: list[str], deadline: float) -> dict:
    """Each client runs `plan` in order (stopping at the deadline); latencies in ms, errors with samples."""
    lat, errors, lock = [], [], threading.Lock()

    def client():
        with httpx.Client(timeout=300) as http:
            for kind in plan:
                if time.monotonic() > deadline:
                    return
                t = time.perf_counter()
                try:
                    status, detail = request(http, base, kind, clips)
                except Exception as exc:  # noqa: BLE001 - counted and reported
                    status, detail = "error", repr(exc)[:200]
                with lock:
                    lat.append((time.perf_counter() - t) * 1e3)
                    if status != "complete":
                        errors.append(f"{kind}: {status}: {detail}")

    t0 = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(clients)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    wall = time.perf_counter() - t0
    return {"clients": clients, "planned": clients * len(plan), "requests": len(lat), "errors": len(errors),
            "error_samples": errors[:3], "wall_s": round(wall, 1), "throughput_rps": round(len(lat) / wall, 2),
            "p50_ms": bench.pct(lat, 50), "p95_ms": bench.pct(lat, 95), "max_ms": round(max(lat), 1)}


def burst(base: str, clips, n: int) -> dict:
    """n /analyze calls at once on one uploaded clip: accepted ones must finish, the rest be refused fast."""
    with httpx.Client(timeout=60) as http:
        ref = upload(http, base, "voice.wav", clips["speech5"])
    results, lock, go = [], threading.Lock(), threading.Event()

    def one():
        with httpx.Client(timeout=300) as http:
            go.wait()
            t = time.perf_counter()
            r = http.post(f"{base}/gradio_api/call/analyze", json={"data": [ref, "", False]})
            ms = (time.perf_counter() - t) * 1e3
            if r.status_code != 200:
                with lock:
                    results.append(("refused", ms, f"{r.status_code} {r.text[:200]}"))
                return
            text = http.get(f"{base}/gradio_api/call/analyze/{r.json()['event_id']}").text
            with lock:   # for the accepted ones: the whole wait, to compare with a refusal
                results.append(("complete" if "event: complete" in text else "error",
                                (time.perf_counter() - t) * 1e3, text[-200:]))

    threads = [threading.Thread(target=one) for _ in range(n)]
    for th in threads:
        th.start()
    time.sleep(0.5)
    go.set()
    for th in threads:
        th.join()
    refused = [r for r in results if r[0] == "refused"]
    full = [r for r in refused if "Queue is full" in r[2]]
    return {"sent": n, "completed": sum(r[0] == "complete" for r in results),
            "errors": sum(r[0] == "error" for r in results), "refused": len(refused),
            "refused_queue_full": len(full), "unexplained_refusals": len(refused) - len(full),
            "refusal_p50_ms": bench.pct([r[1] for r in refused], 50) if refused else None,
            "refusal_p95_ms": bench.pct([r[1] for r in refused], 95) if refused else None,
            "refusal_sample": refused[0][2] if refused else "",
            "accepted_p50_ms": bench.pct([r[1] for r in results if r[0] == "complete"], 50)}


def rss_summary(samples: list, load_phases=("analyze", "mixed")) -> dict:
    load = [(t, mb) for t, mb, ph in samples if ph in load_phases]
    out = {"samples": len(samples)}
    idle_before = [mb for _, mb, ph in samples if ph == "before"]
    idle_after = [mb for _, mb, ph in samples if ph == "after"]
    out["before_mb"] = round(float(np.median(idle_before)), 1) if idle_before else None
    out["after_mb"] = round(float(np.median(idle_after)), 1) if idle_after else None
    if load:
        t_first, t_last = load[0][0], load[-1][0]
        first = [mb for t, mb in load if t <= t_first + 60]
        last = [mb for t, mb in load if t >= t_last - 60]
        out.update(during_p50_mb=round(float(np.median([mb for _, mb in load])), 1),
                   during_max_mb=round(max(mb for _, mb in load), 1),
                   first_minute_mb=round(float(np.mean(first)), 1), last_minute_mb=round(float(np.mean(last)), 1),
                   load_s=round(t_last - t_first, 1))
        out["growth_first_to_last_minute_mb"] = round(out["last_minute_mb"] - out["first_minute_mb"], 1)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=REPO / "bench" / "soak.json")
    p.add_argument("--clients", type=int, default=16)
    p.add_argument("--requests", type=int, default=100, help="/analyze requests per client in the first phase")
    p.add_argument("--mixed", type=int, default=6, help="requests per client in the mixed phase")
    p.add_argument("--max-s", type=float, default=360.0, help="no new request after this many seconds of load")
    args = p.parse_args(argv)
    started = time.monotonic()
    queue_size = 32
    with tempfile.TemporaryDirectory(prefix="esmr-soak-") as tmp:
        tmp = Path(tmp)
        clips = {k: v.read_bytes() for k, v in bench.make_clips(tmp).items()}
        uploads = tmp / "gradio"
        port = bench.free_port()
        base = f"http://127.0.0.1:{port}"
        env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
               "GRADIO_TEMP_DIR": str(uploads), "ESMR_QUEUE_SIZE": str(queue_size)}
        log = (tmp / "server.log").open("w")
        proc = subprocess.Popen([sys.executable, str(REPO / "demo" / "app.py"), "--host", "127.0.0.1", "--port",
                                 str(port)], cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, text=True)
        res: dict = {"clients": args.clients, "queue_size": queue_size, "time_budget_s": args.max_s}
        try:
            bench.wait_http(base + "/", proc, 300)
            # warm-up: the lazy parts load (ASR decoder, numba) and two of each kind at once reach the allocator's
            # high-water mark, so that the measured growth is what sustained load adds
            warm = phase(base, clips, 2, ["asr", "sing", "plain"] * 2, time.monotonic() + 300)
            assert warm["errors"] == 0, f"warm-up failed: {warm['error_samples']}"
            sampler = Sampler(proc.pid)
            sampler.phase = "before"
            sampler.start()
            time.sleep(5)
            res["upload_folder_before"] = dict(zip(("files", "bytes"), folder_usage(uploads)))
            res["load_average_at_start"] = [round(x, 2) for x in os.getloadavg()]   # other work on the machine
            sampler.phase = "analyze"   # 72 % of the time budget, the rest for the mixed phase
            res["analyze"] = phase(base, clips, args.clients, ["plain"] * args.requests,
                                   time.monotonic() + 0.72 * args.max_s)
            sampler.phase = "mixed"
            res["mixed"] = phase(base, clips, args.clients, (["asr", "sing", "plain"] * args.mixed)[:args.mixed],
                                 time.monotonic() + 0.28 * args.max_s)
            sampler.phase = "burst"
            res["burst"] = burst(base, clips, queue_size + 48)
            sampler.phase = "after"
            time.sleep(8)
            res["upload_folder_after"] = dict(zip(("files", "bytes"), folder_usage(uploads)))
            res["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
            sampler.stop.set()
            res["rss"] = rss_summary(sampler.samples)
            res["rss_trace"] = [(t, mb) for t, mb, _ in sampler.samples[::5]]
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
            log.close()
        server_log = (tmp / "server.log").read_text(errors="replace")
        res["server_tracebacks"] = server_log.count("Traceback (most recent call last)")
        res["upload_folder_after_stop"] = dict(zip(("files", "bytes"), folder_usage(uploads)))
    res["errors"] = res["analyze"]["errors"] + res["mixed"]["errors"] + res["burst"]["errors"] + res["server_tracebacks"]
    res["rss_growth_first_to_last_minute_mb"] = res["rss"].get("growth_first_to_last_minute_mb")
    res["upload_files_growth"] = res["upload_folder_after"]["files"] - res["upload_folder_before"]["files"]
    res["burst_unexplained_refusals"] = res["burst"]["unexplained_refusals"]
    res["burst_refusal_p95_ms"] = res["burst"]["refusal_p95_ms"]
    res["machine"], res["commit"] = bench.machine(), bench.commit()
    res["wall_s"] = round(time.monotonic() - started, 1)   # the whole soak: clips, start, warm-up, phases, stop
    res["targets"] = {k: {"target": f"{op} {lim}", "value": res.get(k),
                          "pass": res.get(k) is not None and res[k] <= lim} for k, (op, lim) in TARGETS.items()}
    res["targets"]["burst_refused_some"] = {"target": "> 0", "value": res["burst"]["refused_queue_full"],
                                            "pass": res["burst"]["refused_queue_full"] > 0}
    res["all_pass"] = all(t["pass"] for t in res["targets"].values())
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(res, indent=2) + "\n", encoding="utf-8")
    print(json.dumps({k: v for k, v in res.items() if k != "rss_trace"}, indent=2))
    return 0 if res["all_pass"] else 1


if __name__ == "__main__":
    sys.exit(main())
