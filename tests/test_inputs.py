"""esmr_core.inputs: the checks of the typed transcript, flags, weights and top-k shared by the service, the CLI
and the app's API (issue #14), and the cut-short / too-short audio messages (esmr_core.audio)."""
from __future__ import annotations

import io

import numpy as np
import pytest
import soundfile as sf

from esmr_core import audio as A
from esmr_core import inputs
from esmr_core.errors import AudioError, EsmrError


def test_transcript_accepts_text_and_strips_it():
    assert inputs.transcript("  I am so happy today \n") == "I am so happy today"
    assert inputs.transcript(None) == "" and inputs.transcript("   ") == ""
    assert inputs.transcript("tabs\tand\nline breaks\r\nare fine") == "tabs\tand\nline breaks\r\nare fine"
    assert inputs.transcript("emoji 😀 and 한국어") == "emoji 😀 and 한국어"   # astral characters are one character


def test_transcript_length_is_refused_not_cut():
    assert inputs.transcript("a" * 2000) == "a" * 2000
    with pytest.raises(EsmrError, match=r"2,001 characters long, over the 2,000-character limit"):
        inputs.transcript("a" * 2001)
    with pytest.raises(EsmrError, match="over the 10-character limit"):
        inputs.transcript("eleven chars", max_chars=10)


def test_transcript_limit_from_the_environment(monkeypatch):
    monkeypatch.setenv("ESMR_MAX_TRANSCRIPT_CHARS", "12")
    assert inputs.max_transcript_chars() == 12
    with pytest.raises(EsmrError, match="12-character limit"):
        inputs.transcript("thirteen char")
    monkeypatch.setenv("ESMR_MAX_TRANSCRIPT_CHARS", "lots")
    with pytest.raises(EsmrError, match="ESMR_MAX_TRANSCRIPT_CHARS must be a whole number"):
        inputs.max_transcript_chars()


@pytest.mark.parametrize("value, kind", [(5, "the number 5"), (2.5, "the number 2.5"), (True, "true"),
                                         (["hi"], "a list"), ({"t": 1}, "a dict")])
def test_transcript_must_be_a_string(value, kind):
    with pytest.raises(EsmrError, match=f"must be text, got {kind}"):
        inputs.transcript(value)


@pytest.mark.parametrize("text, code, at", [("\ud800", "D800", 1), ("ok \udfff", "DFFF", 4)])
def test_unpaired_surrogates(text, code, at):
    with pytest.raises(EsmrError, match=f"unpaired surrogate \\(U\\+{code}\\) at character {at}"):
        inputs.transcript(text)


@pytest.mark.parametrize("ch", ["\x00", "\x07", "\x1b", "\x7f", "\x85"])
def test_control_characters(ch):
    with pytest.raises(EsmrError, match=f"control character U\\+{ord(ch):04X} at character 3"):
        inputs.transcript("hi" + ch + "there")


def test_flag_is_strictly_boolean():
    assert inputs.flag(True, "use_asr") is True and inputs.flag(np.bool_(False), "use_asr") is False
    for bad, shown in (("no", "'no'"), ("false", "'false'"), (0, "the number 0"), (1, "the number 1"),
                       (None, "null")):
        with pytest.raises(EsmrError, match=f"use_asr must be true or false, got {shown}"):
            inputs.flag(bad, "use_asr")


def test_weights():
    names = ("range", "timbre")
    assert inputs.weights({"range": 1, "timbre": 0.5}, names) == {"range": 1.0, "timbre": 0.5}
    assert inputs.weights(None, names) is None
    for bad, match in (({"range": None}, "got null"), ({"range": "1"}, "got '1'"), ({"range": True}, "got true"),
                       ({"range": 2.5}, "from 0 to 2, got 2.5"), ({"range": -0.1}, "got -0.1"),
                       ({"range": float("nan")}, "got nan"), ({"loudness": 1}, "unknown weight 'loudness'"),
                       ({"range": 0, "timbre": 0.0}, "all the weights are 0"), ([1, 2], "mapping")):
        with pytest.raises(EsmrError, match=match):
            inputs.weights(bad, names)


def test_top_k():
    assert inputs.top_k(None, 5) == 5 and inputs.top_k(3, 5) == 3 and inputs.top_k(4.0, 5) == 4
    for bad in (0, -1, 1001):
        with pytest.raises(EsmrError, match="at least 1"):
            inputs.top_k(bad, 5)
    for bad in ("3", 2.5, True):
        with pytest.raises(EsmrError, match="whole number"):
            inputs.top_k(bad, 5)


def test_messages_never_echo_markup():
    with pytest.raises(EsmrError) as got:
        inputs.flag("<img src=x onerror=alert(1)>", "use_asr")
    assert "<" not in str(got.value) and ">" not in str(got.value)


# ---- audio: cut short and too short -------------------------------------------------------------------------
def _tone(seconds: float, sr: int = 16000) -> np.ndarray:
    return (0.3 * np.sin(2 * np.pi * 220 * np.arange(int(seconds * sr)) / sr)).astype(np.float32)


def _wav(x: np.ndarray, sr: int = 16000) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, x, sr, format="WAV", subtype="PCM_16")
    return buf.getvalue()


def test_wav_cut_short_gets_its_own_message(tmp_path):
    whole = _wav(_tone(5.5))
    path = tmp_path / "take.wav"
    path.write_bytes(whole[:1044])   # the header promises 5.5 s; 1000 bytes of samples follow (0.03 s)
    with pytest.raises(AudioError, match=r"'take.wav' is cut short: its header promises 5.5 s of audio but it "
                                         r"holds only 0.03 s.*upload the complete file"):
        A.load_audio(path)
    with pytest.raises(AudioError, match="is cut short"):
        A.load_audio(path, require_voice=False)   # singing goes through the same check


def test_cut_short_file_with_enough_audio_is_analysed_with_a_note(tmp_path):
    whole = _wav(_tone(6.0))
    path = tmp_path / "long.wav"
    path.write_bytes(whole[: 44 + 2 * 16000 * 3])   # 3 s of the 6 s promised
    clip = A.load_audio(path, require_voice=False)
    assert clip.duration_s == pytest.approx(3.0, abs=0.2)
    assert any("is cut short (its header promises 6.0 s" in w for w in clip.warnings)
    # a complete file has no such note
    (tmp_path / "whole.wav").write_bytes(whole)
    assert not any("cut short" in w for w in A.load_audio(tmp_path / "whole.wav", require_voice=False).warnings)


def test_too_short_clip_gets_its_own_message(tmp_path):
    path = tmp_path / "blip.wav"
    path.write_bytes(_wav(_tone(0.1)))
    with pytest.raises(AudioError, match=r"'blip.wav' is too short: 0.10 s long, and at least 0.5 s of voice is "
                                         "needed"):
        A.load_audio(path)
    with pytest.raises(AudioError, match="too short: 0.10 s"):
        A.from_array(_tone(0.1), 16000)
    with pytest.raises(AudioError, match="at least 0.2 s"):
        A.from_array(_tone(0.1), 16000, min_voiced_s=0.2)


# ---- the CLI uses the same checks, before any model loads ------------------------------------------------------
def test_cli_refuses_bad_text_and_weights_with_one_line(tmp_path, capsys):
    from esmr_core.cli import main

    path = tmp_path / "voice.wav"
    path.write_bytes(_wav(_tone(2.0)))
    assert main(["analyze", str(path), "--text", "a" * 2001]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["error: --text is 2,001 characters long, over the 2,000-character limit; shorten it (a sentence "
                   "or two is enough) and send it again"]
    assert main(["analyze", str(path), "--text", "bell\x07"]) == 2
    assert "control character U+0007" in capsys.readouterr().err
    assert main(["sing", "recommend", str(path), "--weights", "range=5"]) == 2
    assert capsys.readouterr().err.strip() == "error: the weight 'range' must be a number from 0 to 2, got 5.0"
    assert main(["sing", "recommend", str(path), "--weights", "loudness=1"]) == 2
    assert "unknown weight 'loudness'" in capsys.readouterr().err
