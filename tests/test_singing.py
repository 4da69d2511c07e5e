"""Singing -> singable songs: MoCo/InfoNCE/TJAE properties, the checkpoints, range and transposition, the grid
search of the weights, the recommender end to end, the `esmr sing` command."""
from __future__ import annotations

import json
import math
import shutil

import numpy as np
import pytest
import torch

from esmr_core.config import from_dict
from esmr_core.data.notes import name_to_midi
from esmr_core.data.render import render_melody
from esmr_core.errors import AudioError, EsmrError, ModelUnavailableError
from esmr_core.paths import checkpoints_dir, default_songs_dir
from esmr_core.singing import data as D
from esmr_core.singing import evaluate as E
from esmr_core.singing import pitch as P
from esmr_core.singing import recommend as R
from esmr_core.singing.config import SSCLConfig, TJAEConfig, TrainConfig
from esmr_core.singing.losses import info_nce
from esmr_core.singing.model import TJAE, MoCo
from esmr_core.singing.recommend import rank_songs, transpose_key
from esmr_core.singing.train import train_moco


# ---- MoCo, InfoNCE, TJAE ------------------------------------------------------------------------------------
def tiny_cfg(**kw):
    return SSCLConfig(channels=(4, 8, 8, 8), dim=16, queue_size=10, crop_frames=32, **kw)


def test_momentum_update_is_ema_of_query_weights():
    torch.manual_seed(0)
    model = MoCo(tiny_cfg(momentum=0.9))
    with torch.no_grad():
        for p in model.encoder_q.parameters():
            p.add_(torch.randn_like(p))
    before_k = [p.clone() for p in model.encoder_k.parameters()]
    q = [p.clone() for p in model.encoder_q.parameters()]
    model.momentum_update()
    for bk, pq, pk in zip(before_k, q, model.encoder_k.parameters()):
        assert torch.allclose(pk, 0.9 * bk + 0.1 * pq, atol=1e-6)
        assert not pk.requires_grad
    assert any(not torch.allclose(pk, pq) for pk, pq in zip(model.encoder_k.parameters(), q))


def test_queue_is_a_saved_buffer_and_wraps_around():
    model = MoCo(tiny_cfg())
    assert "queue" in model.state_dict() and "queue_ptr" in model.state_dict()
    keys = torch.nn.functional.normalize(torch.randn(7, 16), dim=1)
    model.enqueue(keys)
    assert int(model.queue_ptr) == 7 and torch.allclose(model.queue[:7], keys)
    more = torch.nn.functional.normalize(torch.randn(6, 16), dim=1)
    model.enqueue(more)                                   # 7 + 6 = 13 -> wraps to 3
    assert int(model.queue_ptr) == 3
    assert torch.allclose(model.queue[7:10], more[:3]) and torch.allclose(model.queue[:3], more[3:])
    assert torch.allclose(model.queue[3:7], keys[3:7])    # not yet overwritten


def test_info_nce_hand_example():
    q = torch.tensor([[1.0, 0.0]])
    pos = torch.tensor([[1.0, 0.0]])
    queue = torch.tensor([[0.0, 1.0], [-1.0, 0.0]])
    # logits [1, 0, -1] / T with T = 0.5 -> [2, 0, -2]; loss = -log(e^2 / (e^2 + 1 + e^-2))
    expected = -math.log(math.exp(2) / (math.exp(2) + 1 + math.exp(-2)))
    assert info_nce(q, pos, queue, 0.5).item() == pytest.approx(expected, abs=1e-6)
    # an extra per-sample negative equal to the positive adds e^2 to the denominator
    expected2 = -math.log(math.exp(2) / (2 * math.exp(2) + 1 + math.exp(-2)))
    assert info_nce(q, pos, queue, 0.5, extra_neg=pos).item() == pytest.approx(expected2, abs=1e-6)


def toy_views(n: int = 16, frames: int = 48, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """n "clips" (bases (n, 64, frames)): each a random spectral envelope held over time plus a little noise;
    their "pitch-shifted" copies (n, 2, 64, frames) move the envelope by 3 or 6 bands."""
    g = torch.Generator().manual_seed(seed)
    env = torch.rand(n, 64, 1, generator=g)
    bases = env + 0.05 * torch.rand(n, 64, frames, generator=g)
    shifted = torch.stack([torch.roll(bases, s, dims=1) for s in (3, 6)], dim=1)
    return bases.half(), shifted.half()


def heldout_loss(model: MoCo, q, k, n) -> float:
    """In-batch InfoNCE of the query encoder on fixed views: each query against its own key (the positive), the
    other queries' keys and its own policy negative."""
    enc = model.encoder_q.eval()
    with torch.no_grad():
        zq, zk, zn = enc(q), enc(k), enc(n)
        logits = torch.cat([zq @ zk.t(), (zq * zn).sum(1, keepdim=True)], dim=1) / 0.1
        return float(torch.nn.functional.cross_entropy(logits, torch.arange(len(q))))


def test_moco_training_step_lowers_loss_and_policies_differ():
    bases, shifted = toy_views()
    # the policies build different views from the same crops: timbre's positive is the (time-stretched) crop itself
    # and its negative a pitch-shifted copy; expression swaps them; plain has no extra negative
    marked = shifted.clone().fill_(5.0)                   # pitch-shifted copies recognisable by their value
    views = {p: D.batch_views(bases[:4], marked[:4], p, 32, np.random.default_rng(0)) for p in ("timbre",
                                                                                               "expression", "plain")}
    q, k, n = views["timbre"]
    assert q.shape == k.shape == n.shape == (4, 64, 32)
    assert k.max() < 2 and torch.all(n == 5.0)
    q, k, n = views["expression"]
    assert torch.all(k == 5.0) and n.max() < 2
    assert views["plain"][1].max() < 2 and views["plain"][2] is None

    # a few steps lower the held-out contrastive loss, and the two policies learn different encoders
    fixed = D.batch_views(bases, shifted, "timbre", 32, np.random.default_rng(1))
    torch.manual_seed(0)
    loss_before = heldout_loss(MoCo(tiny_cfg(policy="timbre")), *fixed)  # train_moco's initial weights (seed 0)
    timbre = train_moco(tiny_cfg(policy="timbre"), bases, shifted, steps=40, batch=8, lr=3e-3, seed=0)
    assert heldout_loss(timbre, *fixed) < loss_before - 0.1
    expression = train_moco(tiny_cfg(policy="expression"), bases, shifted, steps=40, batch=8, lr=3e-3, seed=0)
    assert any(not torch.allclose(a, b) for a, b in zip(timbre.encoder_q.parameters(),
                                                        expression.encoder_q.parameters()))
    out = timbre.encoder_q(fixed[0][:4])
    assert out.shape == (4, 16) and torch.allclose(out.norm(dim=1), torch.ones(4), atol=1e-5)


# ---- configs and checkpoints ------------------------------------------------------------------------------------
def test_configs_are_strict_and_take_lists():
    cfg = from_dict(SSCLConfig, {"channels": [4, 8, 8, 8], "policy": "expression"})
    assert cfg.channels == (4, 8, 8, 8) and cfg.policy == "expression"
    assert from_dict(TJAEConfig, {"dilations": [1, 2]}).dilations == (1, 2)
    with pytest.raises(EsmrError, match="unknown .*'chanels'"):
        from_dict(SSCLConfig, {"chanels": [4, 8]})
    with pytest.raises(EsmrError, match="policy"):
        from_dict(SSCLConfig, {"policy": "loudness"})
    with pytest.raises(EsmrError, match="only"):
        from_dict(TrainConfig, {"only": ["sscl", "mate"]})


def test_save_pretrained_round_trip(tmp_path):
    torch.manual_seed(0)
    moco = MoCo(tiny_cfg(policy="expression"))
    moco.save_pretrained(tmp_path / "sscl", meta={"steps": 3}, card="# tiny\n")
    back = MoCo.from_pretrained(tmp_path / "sscl")
    assert back.cfg == moco.cfg and not back.training
    for (ka, a), (kb, b) in zip(moco.state_dict().items(), back.state_dict().items()):
        assert ka == kb and torch.equal(a, b)
    payload = json.loads((tmp_path / "sscl" / "config.json").read_text())
    assert payload["format"] == 2 and payload["model_type"] == "sscl" and payload["meta"] == {"steps": 3}
    tj = TJAE(TJAEConfig(hidden=8, latent=2, skip=2))
    tj.save_pretrained(tmp_path / "tjae")
    assert TJAE.from_pretrained(tmp_path / "tjae").cfg == tj.cfg
    with pytest.raises(ModelUnavailableError, match="'sscl' model, not 'tjae'"):
        TJAE.from_pretrained(tmp_path / "sscl")


@pytest.mark.parametrize("name,cls", [("sscl-timbre", MoCo), ("sscl-expression", MoCo), ("tjae", TJAE)])
def test_shipped_singing_checkpoints_load_in_format_2(name, cls, tmp_path):
    folder = checkpoints_dir() / name
    payload = json.loads((folder / "config.json").read_text())
    assert payload["format"] == 2 and payload["model_type"] == cls.MODEL_TYPE
    model = cls.from_pretrained(folder)                   # strict: every state-dict key present, none extra
    if cls is MoCo:
        assert model.cfg.policy == name.split("-")[1]
    # the layout before format 2 (flat config fields and training facts, a "model" key) is refused with a message
    # naming the converter
    old = tmp_path / name
    shutil.copytree(folder, old)
    flat = {"model": "sscl-moco" if cls is MoCo else "tjae", **payload["config"], **payload["meta"]}
    (old / "config.json").write_text(json.dumps(flat))
    with pytest.raises(ModelUnavailableError, match="scripts/convert_checkpoints.py"):
        cls.from_pretrained(old)


def test_train_run_writes_loadable_checkpoints_with_cards(tmp_path, monkeypatch):
    from esmr_core.singing import train as T

    rng = np.random.default_rng(0)
    waves = [(0.3 * np.sin(2 * np.pi * f * np.arange(40000) / 16000) + 0.01 * rng.standard_normal(40000))
             .astype(np.float32) for f in (220.0, 330.0, 440.0, 550.0)]
    monkeypatch.setattr(T, "training_waveforms", lambda *a, **k: waves)   # 4 crops of 2.5 s instead of the corpus
    cfg = TrainConfig(sscl_steps=2, tjae_steps=2, batch=4, work=str(tmp_path / "work"))
    out = T.run(cfg, tmp_path / "ckpt", default_songs_dir())
    assert set(out["seconds"]) == {"sscl-timbre", "sscl-expression", "sscl-plain", "tjae"}
    for name, cls in (("sscl-timbre", MoCo), ("sscl-expression", MoCo), ("tjae", TJAE)):
        model = cls.from_pretrained(tmp_path / "ckpt" / name)
        card = (tmp_path / "ckpt" / name / "README.md").read_text()
        assert card.startswith(f"# {name}") and "docs/methods.md section 3" in card and "4 crops" in card
        assert json.loads((tmp_path / "ckpt" / name / "config.json").read_text())["meta"]["steps"] == 2
        if cls is MoCo:
            assert model.cfg.policy == name.split("-")[1]
    assert MoCo.from_pretrained(tmp_path / "work" / "sscl-plain").cfg.policy == "plain"
    assert list((tmp_path / "work" / "cache").glob("views-*.pt"))


# ---- guide embeddings ------------------------------------------------------------------------------------------
def test_bundled_guide_embeddings_match_the_shipped_models_and_catalogue():
    songs = default_songs_dir()
    emb = R.Embedders(checkpoints_dir())
    data = R.read_guides(songs / R.GUIDES_FILE, R.guides_fingerprint(songs, emb))
    assert data is not None, "assets/songs/guides.npz is stale: run `esmr sing index`"
    rows = D.song_rows(songs)
    assert [str(k) for k in data["keys"]] == [f"{r['id']}|{g['voice']}" for r in rows for g in r["guides"]]
    assert data["timbre"].shape == (len(data["keys"]), 128) and data["mood"].shape == (len(data["keys"]), 32)


class FakeEmbedders:
    """Stands in for the encoders: other weights (so the bundled guides.npz does not apply), constant vectors."""

    weights_sha256 = {"sscl-timbre": "x", "sscl-expression": "y", "tjae": "z"}
    calls = 0

    def embed(self, samples16k):
        FakeEmbedders.calls += 1
        return {k: np.full(4, 0.5, np.float32) for k in R.EMBEDDERS}


def test_guides_made_by_other_encoders_are_recomputed_once_into_the_cache(tmp_path):
    songs = default_songs_dir()
    rows = D.song_rows(songs)[:1]
    cache = tmp_path / "guides.npz"
    FakeEmbedders.calls = 0
    first = R.guide_embeddings(FakeEmbedders(), songs, rows, cache)
    assert FakeEmbedders.calls == len(rows[0]["guides"]) and cache.is_file()
    again = R.guide_embeddings(FakeEmbedders(), songs, rows, cache)
    assert FakeEmbedders.calls == len(rows[0]["guides"])   # read from the cache this time
    assert list(again["keys"]) == list(first["keys"]) and np.array_equal(again["mood"], first["mood"])


def test_tjae_shapes_and_causality():
    torch.manual_seed(0)
    model = TJAE(TJAEConfig(hidden=16, latent=4, skip=2)).eval()
    x = torch.rand(2, 64, 50)
    recon, z = model(x)
    assert recon.shape == (2, 64, 50) and z.shape == (2, 4, 50)
    t = 20
    y = x.clone()
    y[:, :, t + 1:] = torch.rand(2, 64, 50 - t - 1)      # change only the future
    recon2, z2 = model(y)
    assert torch.allclose(recon[:, :, :t + 1], recon2[:, :, :t + 1], atol=1e-6)
    assert torch.allclose(z[:, :, :t + 1], z2[:, :, :t + 1], atol=1e-6)
    assert not torch.allclose(recon[:, :, t + 1:], recon2[:, :, t + 1:])
    e = model.embed(x[0])
    assert e.shape == (8,) and abs(np.linalg.norm(e) - 1) < 1e-5


# ---- pitch range and transposition --------------------------------------------------------------------------
def scale_melody(low: int, high: int, beats: float = 1.0) -> list[list[float]]:
    """Up and down a major-ish scale between low and high (MIDI), each note `beats` long, ~12 s at 90 bpm."""
    up = list(range(low, high + 1, 2)) + [high]
    seq = (up + up[::-1]) * 2
    return [[m, i * beats, beats] for i, m in enumerate(seq)]


def render(notes, shift=0, program=53):
    return render_melody(notes, program, shift, 16000, tempo_bpm=90.0)


def test_range_of_a_rendered_melody():
    notes = scale_melody(57, 69)                            # A3..A4
    y = render(notes)
    f0, v = P.pitch_track(y)
    r = P.estimate_range(f0, v, len(y) / 16000)
    assert 57 <= r.low_midi <= 60 and 66 <= r.high_midi <= 69
    assert r.sustained_ratio > 0.9
    assert r.low_hz == pytest.approx(440 * 2 ** ((r.low_midi - 69) / 12), rel=1e-6)
    d = r.as_dict()
    assert d["low"][0] in "ABCDEFG" and d["high"].endswith("4")


def test_best_transposition_and_tie_break():
    pitches, durs = P.melody_arrays([[60, 0, 1], [64, 1, 1], [67, 2, 2]])
    # singer range 57..64: shift -3 puts 60..67 at 57..64, fully inside
    assert P.best_transposition(pitches, durs, 57, 64) == (-3, 0, 1.0)
    # wide range: 0 is already perfect, so no transposition
    assert P.best_transposition(pitches, durs, 50, 80) == (0, 0, 1.0)
    # a bass range 15 semitones lower: one octave down, then -3
    assert P.best_transposition(pitches, durs, 45, 52) == (-3, -1, 1.0)
    # duration weighting in 60..64: shift 0 keeps the two short notes (0.5); -3 and -4 keep a short and the long
    # note (0.75); the smaller shift wins the tie
    assert P.range_fit(pitches, durs, 60, 64, 0) == pytest.approx(0.5)
    assert P.range_fit(pitches, durs, 60, 64, -4) == pytest.approx(0.75)
    assert P.best_transposition(pitches, durs, 60, 64) == (-3, 0, 0.75)


def test_transpose_key():
    assert transpose_key("C major", 2) == "D major"
    assert transpose_key("A minor", -3) == "F# minor"
    assert transpose_key("Bb major", 1) == "B major"
    assert transpose_key("weird", 3) == "weird"


def test_short_and_silent_input_rejected():
    y = render(scale_melody(57, 69)[:6])                    # ~4 s
    f0, v = P.pitch_track(y)
    with pytest.raises(AudioError, match="at least 10 s"):
        P.estimate_range(f0, v, len(y) / 16000)
    with pytest.raises(AudioError, match="pitched voice"):
        P.estimate_range(np.zeros(800), np.zeros(800, bool), 12.8)


def test_speech_is_rejected():
    import librosa

    from esmr_core.data.tts import synth_piper

    text = ("The weather today is quite pleasant, and I think we should go for a walk in the park before dinner. "
            "Please remember to bring your documents to the office tomorrow morning at nine o'clock.")
    y, sr = synth_piper(text, length_scale=1.3, noise_scale=0.667, noise_w_scale=0.8)
    y = librosa.resample(y, orig_sr=sr, target_sr=16000)
    assert len(y) / 16000 >= 10
    f0, v = P.pitch_track(y)
    with pytest.raises(AudioError, match="speech, not singing"):
        P.estimate_range(f0, v, len(y) / 16000)


# ---- the recommender end to end (trained checkpoints + song catalogue) ----------------------------------------
@pytest.fixture(scope="module")
def recommender():
    return R.SingingRecommender.load(checkpoints_dir(), default_songs_dir())


@pytest.fixture(scope="module")
def low_high(recommender):
    notes = scale_melody(60, 69)
    bass = render(notes, -17)                               # G2..E3 region (23 semitones lower)
    soprano = render(notes, 6, program=52)                  # F#4..D#5 region
    return recommender.analyze(bass), recommender.analyze(soprano)


def test_bass_and_soprano_get_different_keys_within_their_ranges(recommender, low_high):
    bass, soprano = low_high
    assert bass.range.high_midi < soprano.range.low_midi
    top_b, top_s = rank_songs(bass, None, 5), rank_songs(soprano, None, 5)
    assert [(s["id"], s["key"], s["octave"]) for s in top_b] != [(s["id"], s["key"], s["octave"]) for s in top_s]
    for analysis, top in ((bass, top_b), (soprano, top_s)):
        for s in top:
            lo, hi = (name_to_midi(n) for n in s["melody_range"])
            assert s["range_fit"] >= 0.8
            # the transposed melody sits around the singer's range (+-3 semitones of the estimate)
            assert lo >= analysis.range.low_midi - 3 and hi <= analysis.range.high_midi + 3
            assert s["reasons"] and s["key"].split()[1] in ("major", "minor")


def test_rerank_needs_no_audio(low_high, monkeypatch):
    bass, _ = low_high

    def no_audio(*a, **k):
        raise AssertionError("re-ranking must not touch audio")

    monkeypatch.setattr(P, "pitch_track", no_audio)
    a = rank_songs(bass, {"range": 1.0}, 72)
    b = rank_songs(bass, {"range": 0.0, "timbre": 1.0}, 72)
    assert {s["id"] for s in a} == {s["id"] for s in b}
    assert [s["id"] for s in a] != [s["id"] for s in b]
    assert all(x["score"] >= y["score"] for x, y in zip(b, b[1:]))
    with pytest.raises(EsmrError):
        rank_songs(bass, {"loudness": 1.0})


def test_cli_json(tmp_path, capsys):
    import soundfile as sf

    from esmr_core.cli import main

    path = tmp_path / "me.wav"
    sf.write(path, render(scale_melody(55, 64)), 16000)
    assert main(["sing", "recommend", "--json", "--top-k", "3", str(path)]) == 0   # options before the path
    out = json.loads(capsys.readouterr().out)
    assert set(out["range"]) >= {"low", "high", "low_hz", "high_hz"}
    assert len(out["songs"]) == 3
    for s in out["songs"]:
        assert set(s) >= {"id", "title", "key", "transpose_semitones", "melody_range", "range_fit", "score",
                          "reasons"}
        assert -6 <= s["transpose_semitones"] <= 6 and len(s["melody_range"]) == 2
    assert main(["sing", "recommend", str(tmp_path / "missing.wav"), "--json"]) == 2


def test_cli_subcommands_show_their_options_and_take_any_file_name(capsys):
    from esmr_core.cli import build_parser

    parser = build_parser()
    args = parser.parse_args(["sing", "recommend", "train", "--top-k", "2"])   # a recording named "train"
    assert args.path == "train" and args.top_k == 2 and args.func.__name__ == "_recommend"
    assert parser.parse_args(["sing", "train", "--only", "tjae"]).func.__name__ == "_train"
    for argv, shown in ((["sing", "--help"], ("recommend", "train", "evaluate", "index")),
                        (["sing", "recommend", "--help"], ("--json", "--top-k", "--weights", "PATH")),
                        (["sing", "train", "--help"], ("--sscl-steps", "--only", "--config")),
                        (["sing", "index", "--help"], ("--out", "--songs"))):
        with pytest.raises(SystemExit) as exit_:
            parser.parse_args(argv)
        assert exit_.value.code == 0
        text = capsys.readouterr().out
        assert all(s in text for s in shown), (argv, text)


# ---- the grid search that sets the shipped weights -------------------------------------------------------------
def _song(sid: str, timbre: float, mood: float) -> dict:
    return {"id": sid, "title": sid, "key": "C major", "transpose_semitones": 0, "octave": 0,
            "melody_range": ["C4", "G4"], "factors": {"range": 1.0, "timbre": timbre, "expression": 0.5,
                                                      "voice": 0.5, "mood": mood},
            "closest_guide": {k: "high-voice-oohs" for k in R.EMBEDDERS}, "guides": {"high-voice-oohs": "Voice Oohs"}}


def test_grid_search_finds_the_weights_that_rank_singable_songs_of_the_singers_voice_first():
    from esmr_core.singing.synth import Singer

    singer = Singer(53, "tenor")                          # range 48..67, guide patch 53
    # five songs the singer can sing, with a guide on the singer's patch and a close timbre; five out of range,
    # on another patch, with a close "mood"; every range factor is equal, so only the similarity weights decide
    good = {f"b-good{i}": _song(f"b-good{i}", 0.9, 0.1) for i in range(5)}
    bad = {f"a-bad{i}": _song(f"a-bad{i}", 0.1, 0.9) for i in range(5)}
    rows = {**{sid: {"id": sid, "melody": [[55, 0, 1], [60, 1, 1]], "guides": [{"program": 53}]} for sid in good},
            **{sid: {"id": sid, "melody": [[75, 0, 1], [80, 1, 1]], "guides": [{"program": 40}]} for sid in bad}}
    vr = P.VoiceRange(48, 67, 130.8, 392.0, 57.0, 10.0, 1.0)
    analyses = [R.SingingAnalysis(vr, {}, [*bad.values(), *good.values()])]
    clips = [{"singer": singer}]
    grid = E.grid_search(analyses, clips, rows)
    assert len(grid) == len(E.GRID) ** len(R.EMBEDDERS)
    assert all(g["objective"] == pytest.approx(g["p_at_5"] + g["voice_match_at_5"]) for g in grid)
    assert [g["objective"] for g in grid] == sorted((g["objective"] for g in grid), reverse=True)
    # best: P@5 = voice match = 1, reached with the least similarity weight (ties -> smaller total)
    assert grid[0]["weights"] == {"range": 1.0, "timbre": 0.25, "expression": 0.0, "voice": 0.0, "mood": 0.0}
    assert grid[0]["p_at_5"] == 1.0 and grid[0]["voice_match_at_5"] == 1.0
    by_w = {tuple(g["weights"].values()): g for g in grid}
    assert by_w[(1.0, 0.0, 0.0, 0.0, 0.0)]["objective"] == 0.0   # range alone: ties -> ids -> the bad songs
    assert by_w[(1.0, 0.0, 0.0, 0.0, 1.0)]["objective"] == 0.0   # mood alone prefers the bad songs
    # the shipped defaults are a point of this grid
    assert R.DEFAULT_WEIGHTS["range"] == 1.0 and all(R.DEFAULT_WEIGHTS[k] in E.GRID for k in R.EMBEDDERS)


def test_excursion_penalty():
    pitches = np.array([55.0, 60.0, 64.0])
    assert P.excursion_penalty(pitches, 55, 64) == 1.0        # all inside
    assert P.excursion_penalty(pitches, 56, 64) == 1.0        # one semitone below: still singable
    assert P.excursion_penalty(pitches, 57, 64) == pytest.approx(2 / 3)
    assert P.excursion_penalty(pitches, 59, 64) == 0.0        # four below: not singable
    assert P.excursion_penalty(pitches, 55, 60, shift=-2) == pytest.approx(2 / 3)  # 62 is two above 60
