"""Corpus adapters on tiny directory trees shaped like the real releases (files named as released)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from esmr_core import emotion
from esmr_core.cli import dataset as dataset_cli
from esmr_core.data import adapters
from esmr_core.data.manifest import REQUIRED, load_collection
from esmr_core.errors import EsmrError


def wav(path: Path, seconds: float = 0.05) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, np.zeros(int(16000 * seconds), dtype=np.float32), 16000)
    return path


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode(encoding))
    return path


def by_id(result):
    return {r["id"]: r for r in result.rows}


def check_required(result):
    for row in result.rows:
        assert not [k for k in REQUIRED[result.kind] if k not in row], row
        if result.kind == "speech":
            assert row["label"] in emotion.EMOTIONS
            assert all(0.0 <= row[k] <= 1.0 for k in ("valence", "arousal", "dominance"))
            assert Path(row["path"]).is_absolute() and Path(row["path"]).is_file()
        else:
            assert row["mood"] in emotion.MUSIC_MOODS and 0 <= row["valence"] <= 1 and 0 <= row["energy"] <= 1


# ------------------------------------------------------------------------------------------------ IEMOCAP
EVAL_S1 = """% [START_TIME - END_TIME] TURN_NAME EMOTION [V, A, D]

[6.2901 - 8.2357]\tSes01F_impro01_F000\tneu\t[2.5000, 2.5000, 2.5000]
C-E2:\tNeutral state;\t()
C-E3:\tNeutral state;\t()
C-E4:\tNeutral state; Frustration;\t()
C-F1:\tNeutral state;\t(curious)
A-E3:\tval 3; act 2; dom  2;\t()

[10.0100 - 11.3925]\tSes01F_impro01_M001\texc\t[4.0000, 3.5000, 5.0000]
C-E2:\tExcited;\t()
C-E3:\tHappiness; Excited;\t()
C-E4:\tSurprise;\t()

[14.8872 - 18.0175]\tSes01F_impro01_F001\txxx\t[2.0000, 3.0000, 3.0000]
C-E2:\tAnger;\t()
C-E3:\tOther;\t()

[20.0000 - 22.5000]\tSes01F_impro01_F002\tfru\t[1.0000, 5.0000, 3.5000]
C-E2:\tFrustration;\t()
C-E3:\tAnger;\t()

[25.0000 - 26.0000]\tSes01F_impro01_F003\tsad\t[1.5000, 1.5000, 1.5000]
"""


@pytest.fixture()
def iemocap(tmp_path):
    root = tmp_path / "IEMOCAP_full_release"
    write(root / "Session1/dialog/EmoEvaluation/Ses01F_impro01.txt", EVAL_S1)
    write(root / "Session1/dialog/transcriptions/Ses01F_impro01.txt",
          "Ses01F_impro01_F000 [006.2901-008.2357]: Excuse me.\nSes01F_impro01_M001 [010.0100-011.3925]: Yeah.\n")
    for utt in ("F000", "M001", "F001", "F002"):  # F003's wav is missing
        wav(root / f"Session1/sentences/wav/Ses01F_impro01/Ses01F_impro01_{utt}.wav")
    for n, dialog, utts in ((4, "Ses04F_script01_1", ("F000", "M000")), (5, "Ses05M_impro02", ("M000",))):
        write(root / f"Session{n}/dialog/EmoEvaluation/{dialog}.txt", "".join(
            f"[1.0 - 2.0]\t{dialog}_{u}\tang\t[1.0000, 4.5000, 4.0000]\nC-E1:\tAnger;\t()\n\n" for u in utts))
        for u in utts:
            wav(root / f"Session{n}/sentences/wav/{dialog}/{dialog}_{u}.wav")
    write(root / "Session1/dialog/EmoEvaluation/Categorical/Ses01F_impro01_e2_cat.txt", "not a turn file")
    return root


def test_iemocap_labels_vad_votes_and_folds(iemocap):
    res = adapters.read_iemocap(iemocap)
    check_required(res)
    rows = by_id(res)
    assert sorted(rows) == ["iemocap-Ses01F_impro01_F000", "iemocap-Ses01F_impro01_F002",
                            "iemocap-Ses01F_impro01_M001", "iemocap-Ses04F_script01_1_F000",
                            "iemocap-Ses04F_script01_1_M000", "iemocap-Ses05M_impro02_M000"]
    neu, exc, fru = (rows[f"iemocap-Ses01F_impro01_{u}"] for u in ("F000", "M001", "F002"))
    assert (neu["label"], exc["label"], fru["label"]) == ("neutral", "happy", "angry")
    assert (exc["raw_label"], fru["raw_label"]) == ("exc", "fru")
    assert (exc["valence"], exc["arousal"], exc["dominance"]) == (0.75, 0.625, 1.0)  # (x - 1) / 4
    assert (fru["valence"], fru["arousal"]) == (0.0, 1.0) and neu["vad_source"] == "ratings"
    assert neu["text"] == "Excuse me." and exc["text"] == "Yeah." and fru["text"] == ""
    assert neu["label_votes"] == {"angry": 1, "neutral": 4}  # frustration -> angry
    assert exc["label_votes"] == {"happy": 2, "surprise": 1}
    assert (exc["speaker"], exc["gender"], neu["speaker"], neu["gender"]) == ("Ses01M", "M", "Ses01F", "F")
    assert neu["duration_s"] == pytest.approx(1.9456, abs=1e-3)
    assert {r["fold"] for r in res.rows} == {0, 3, 4}
    assert rows["iemocap-Ses05M_impro02_M000"]["split"] == "test"
    assert rows["iemocap-Ses04F_script01_1_F000"]["split"] == "val"
    assert rows["iemocap-Ses04F_script01_1_M000"]["split"] == "train" and neu["split"] == "train"
    assert res.skipped == {"label xxx not used": 1, "missing wav": 1}


def test_iemocap_wrong_root(tmp_path):
    (tmp_path / "Session1").mkdir()
    with pytest.raises(EsmrError, match=r"does not look like a IEMOCAP folder: expected Session1\.\.Session5"):
        adapters.read_iemocap(tmp_path)
    with pytest.raises(EsmrError, match="is not a folder"):
        adapters.read_iemocap(tmp_path / "nope")


# ------------------------------------------------------------------------------------------------ RAVDESS
def test_ravdess_filename_fields_and_actor_split(tmp_path):
    root = tmp_path / "RAVDESS"
    for name in ("Actor_01/03-01-05-01-01-01-01.wav", "Actor_02/03-01-02-02-02-01-02.wav",
                 "Actor_21/03-01-01-01-01-01-21.wav", "Actor_23/03-01-08-02-02-02-23.wav",
                 "Actor_24/03-01-06-01-01-01-24.wav", "Actor_01/03-02-03-01-01-01-01.wav"):  # last: song
        wav(root / name)
    wav(root / "Actor_01/notes.wav")
    wav(root / "Audio_Speech_Actors_01-24/Actor_01/03-01-05-01-01-01-01.wav")  # unpacked twice
    res = adapters.read_ravdess(root)
    check_required(res)
    rows = by_id(res)
    assert len(rows) == 5 and res.skipped == {"song (vocal channel 02)": 1, "duplicate (same clip found twice)": 1}
    ang, calm = rows["ravdess-03-01-05-01-01-01-01"], rows["ravdess-03-01-02-02-02-01-02"]
    assert (ang["label"], ang["raw_label"], ang["gender"], ang["text"]) == (
        "angry", "angry", "M", "Kids are talking by the door")
    assert (calm["label"], calm["raw_label"], calm["gender"], calm["intensity"]) == ("neutral", "calm", "F", "strong")
    assert calm["text"] == "Dogs are sitting by the door" and calm["modality"] == "audio-only"
    assert all(r["lexically_neutral"] for r in res.rows)
    assert (calm["valence"], calm["arousal"]) == pytest.approx(tuple(emotion.vad("calm")[:2]), abs=1e-4)
    sur = rows["ravdess-03-01-08-02-02-02-23"]
    assert (sur["label"], sur["split"], sur["fold"], sur["repetition"]) == ("surprise", "test", 5, 2)
    assert rows["ravdess-03-01-06-01-01-01-24"]["label"] == "fear"
    assert rows["ravdess-03-01-01-01-01-01-21"]["split"] == "val" and ang["split"] == "train"
    assert {r["speaker"] for r in res.rows} == {"Actor_01", "Actor_02", "Actor_21", "Actor_23", "Actor_24"}


def test_ravdess_wrong_root(tmp_path):
    wav(tmp_path / "clips/hello.wav")
    with pytest.raises(EsmrError, match=r"does not look like a RAVDESS folder: expected Actor_XX/.*\.wav"):
        adapters.read_ravdess(tmp_path)


# ------------------------------------------------------------------------------------------------ CREMA-D
def test_crema_d_sentences_demographics_and_empty_files(tmp_path):
    root = tmp_path / "CREMA-D"
    for name in ("1001_DFA_ANG_XX", "1002_IEO_HAP_HI", "1010_TSI_SAD_LO", "1009_ITS_NEU_XX", "1003_WSI_DIS_MD"):
        wav(root / "AudioWAV" / f"{name}.wav")
    (root / "AudioWAV/1076_MTI_SAD_XX.wav").write_bytes(b"")
    write(root / "VideoDemographics.csv", "ActorID,Age,Sex,Race,Ethnicity\n1001,51,Male,Caucasian,Not Hispanic\n"
          "1002,21,Female,Caucasian,Not Hispanic\n")
    res = adapters.read_crema_d(root)
    check_required(res)
    rows = by_id(res)
    assert len(rows) == 5 and res.skipped == {"empty file": 1}
    a, h = rows["crema-d-1001_DFA_ANG_XX"], rows["crema-d-1002_IEO_HAP_HI"]
    assert (a["label"], a["text"], a["gender"], a["age"], a["intensity"]) == (
        "angry", "Don't forget a jacket", "M", 51, "unspecified")
    assert (h["label"], h["text"], h["gender"], h["intensity"]) == ("happy", "It's eleven o'clock", "F", "high")
    assert rows["crema-d-1003_WSI_DIS_MD"]["gender"] is None
    assert rows["crema-d-1003_WSI_DIS_MD"]["text"] == "We'll stop in a couple of minutes"
    assert rows["crema-d-1010_TSI_SAD_LO"]["split"] == "test" and rows["crema-d-1009_ITS_NEU_XX"]["split"] == "val"
    assert a["split"] == "train" and a["fold"] == 0 and rows["crema-d-1003_WSI_DIS_MD"]["fold"] == 2
    assert (a["valence"], a["arousal"], a["dominance"]) == pytest.approx(tuple(emotion.vad("angry")), abs=1e-4)


# ------------------------------------------------------------------------------------------------ KEMDy
K20_HEAD = ("Numb,Wav,,Segment ID,Total Evaluation,,,Eval01F,,,Eval02M,,,Eval03M,,\n"
            ",Start,End,,Emotion,Valence,Arousal,Emotion,Valence,Arousal,Emotion,Valence,Arousal,"
            "Emotion,Valence,Arousal\n")


@pytest.fixture()
def kemdy20(tmp_path):
    root = tmp_path / "KEMDy20_v1_1"
    write(root / "annotation/Sess01_eval.csv", K20_HEAD +
          "1,0.0,2.5,Sess01_script01_User002M_001,neutral,3,3,neutral,3,3,neutral,3,3,sad,2,2\n"
          "2,2.5,5.0,Sess01_script01_User001F_001,surprise;happy,4.5,4,surprise,4,4,happy,5,4,happy,4,4\n"
          "3,5.0,7.0,Sess01_script01_User001F_002,disqust,2,3.5,disqust,2,3,angry,2,4,disqust,2,4\n"
          "4,7.0,9.0,Sess01_script01_User002M_002,angry,1,5,angry,1,5,angry,1,5,angry,1,5\n")
    write(root / "annotation/Sess32_eval.csv", K20_HEAD +
          "1,0,1,Sess32_script02_User063F_001,sad,2,2,sad,2,2,sad,2,2,sad,2,2\n")
    write(root / "annotation/Sess33_eval.csv", K20_HEAD +
          "1,0,1,Sess33_script03_User065M_001,fear,1.5,4,fear,1,4,fear,2,4,surprise,3,4\n")
    for seg, text in (("Sess01_script01_User002M_001", "l/ 아 친구들도?"),
                      ("Sess01_script01_User001F_001", "와 (1시)/(한 시)다 b/"),
                      ("Sess01_script01_User001F_002", "으 n/ 싫어"), ("Sess32_script02_User063F_001", "슬퍼"),
                      ("Sess33_script03_User065M_001", "무서워")):
        session = seg[4:6]
        wav(root / f"wav/Session{session}/{seg}.wav")
        write(root / f"wav/Session{session}/{seg}.txt", text + "\n", encoding="cp949")
    return root


def test_kemdy20_votes_multilabel_and_folds(kemdy20):
    res = adapters.read_kemdy20(kemdy20)
    check_required(res)
    rows = by_id(res)
    assert len(rows) == 5 and res.skipped == {"missing wav": 1}
    neu = rows["kemdy20-Sess01_script01_User002M_001"]
    assert (neu["label"], neu["valence"], neu["arousal"], neu["vad_source"]) == ("neutral", 0.5, 0.5, "ratings_va")
    assert neu["label_votes"] == {"neutral": 2, "sad": 1} and neu["dominance"] == 0.5
    assert (neu["speaker"], neu["gender"], neu["text"]) == ("User002M", "M", "아 친구들도?")
    multi = rows["kemdy20-Sess01_script01_User001F_001"]  # tie in the total -> the most-voted label
    assert (multi["label"], multi["raw_label"], multi["multi_label"]) == ("happy", "surprise;happy", True)
    assert multi["label_votes"] == {"happy": 2, "surprise": 1} and multi["text"] == "와 1시다"
    assert (multi["valence"], multi["arousal"]) == (0.875, 0.75)
    dis = rows["kemdy20-Sess01_script01_User001F_002"]
    assert dis["label"] == "disgust" and dis["label_votes"] == {"angry": 1, "disgust": 2}
    assert dis["text"] == "으 싫어"
    assert dis["dominance"] == pytest.approx(emotion.vad("disgust")[2], abs=1e-4)
    assert rows["kemdy20-Sess33_script03_User065M_001"]["split"] == "test"
    assert rows["kemdy20-Sess33_script03_User065M_001"]["fold"] == 4
    assert rows["kemdy20-Sess32_script02_User063F_001"]["split"] == "val"
    assert rows["kemdy20-Sess32_script02_User063F_001"]["fold"] == 3 and neu["split"] == "train"


def test_kemdy19_takes_each_segment_from_its_speakers_file(tmp_path):
    root = tmp_path / "KEMDy19"
    head = ("Numb,Wav,,ECG,,E4-EDA,,E4-TEMP,,Segment ID,Total Evaluation,,,Eval01,,,Eval02,,,Eval03,,\n"
            ",start,end,start,end,start,end,start,end,,Emotion,Valence,Arousal,Emotion,Valence,Arousal,"
            "Emotion,Valence,Arousal,Emotion,Valence,Arousal\n")
    bio = "0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8"
    write(root / "annotation/Session01_F_res.csv", head +
          f"1,{bio},Sess01_impro01_F001,happy,4,4,happy,4,4,happy,5,4,neutral,3,3\n"
          f"2,{bio},Sess01_impro01_M001,angry,1,5,angry,1,5,angry,1,5,angry,1,5\n")
    write(root / "annotation/Session01_M_res.csv", head +
          f"1,{bio},Sess01_impro01_F001,neutral,3,3,neutral,3,3,neutral,3,3,neutral,3,3\n"
          f"2,{bio},Sess01_impro01_M001,sad,2,2,sad,2,2,sad,2,2,neutral,3,3\n")
    for seg in ("Sess01_impro01_F001", "Sess01_impro01_M001"):
        wav(root / f"wav/Session01/Sess01_impro01/{seg}.wav")
        write(root / f"wav/Session01/Sess01_impro01/{seg}.txt", "안녕 c/\n")
    res = adapters.read_kemdy19(root)
    check_required(res)
    rows = by_id(res)
    f, m = rows["kemdy19-Sess01_impro01_F001"], rows["kemdy19-Sess01_impro01_M001"]
    assert (f["label"], f["speaker"], f["label_votes"]) == ("happy", "Sess01F", {"happy": 2, "neutral": 1})
    assert (m["label"], m["speaker"], m["gender"]) == ("sad", "Sess01M", "M") and m["text"] == "안녕"
    assert f["fold"] == 0 and f["split"] == "train" and len(rows) == 2


def test_kemdy_wrong_root(tmp_path):
    wav(tmp_path / "wav/x.wav")
    with pytest.raises(EsmrError, match=r"does not look like a KEMDy20 folder: expected annotation/Sess01_eval\.csv"):
        adapters.read_kemdy20(tmp_path)


# ------------------------------------------------------------------------------------------------ AudioSet
def test_audioset_mood_keeps_moods_and_counts_missing(tmp_path):
    root = tmp_path / "audioset"
    write(root / "class_labels_indices.csv", 'index,mid,display_name\n0,/m/09x0r,"Speech"\n'
          '137,/m/04rlf,"Music"\n276,/t/dd00031,"Happy music"\n277,/t/dd00033,"Sad music"\n'
          '278,/t/dd00034,"Tender music"\n279,/t/dd00035,"Exciting music"\n280,/t/dd00036,"Angry music"\n'
          '281,/t/dd00037,"Scary music"\n')
    write(root / "balanced_train_segments.csv",
          "# Segments csv created Sun Mar  5 10:54:31 2017\n# num_ytids=4, num_segs=4, num_unique_labels=5\n"
          "# YTID, start_seconds, end_seconds, positive_labels\n"
          '--PJHxphWEs, 30.000, 40.000, "/m/04rlf,/t/dd00031"\n'
          '-0RWZT-miFs, 420.000, 430.000, "/m/04rlf,/t/dd00037,/t/dd00033"\n'
          '-1nilez17Dg, 30.000, 40.000, "/m/09x0r"\n'
          'AbCdEfGhIjK, 0.000, 10.000, "/t/dd00034"\n')
    write(root / "eval_segments.csv", "# YTID, start_seconds, end_seconds, positive_labels\n"
          '0DzsPL-xElE, 20.000, 30.000, "/m/04rlf,/t/dd00036"\n')
    wav(root / "audio/--PJHxphWEs.wav")
    wav(root / "audio/Y-0RWZT-miFs.wav")  # the 'Y' prefix some downloaders add
    wav(root / "audio/eval/0DzsPL-xElE_20000_30000.wav")
    res = adapters.read_audioset_mood(root)
    check_required(res)
    rows = by_id(res)
    assert sorted(rows) == ["audioset---PJHxphWEs", "audioset--0RWZT-miFs", "audioset-0DzsPL-xElE"]
    happy, scary, angry = rows["audioset---PJHxphWEs"], rows["audioset--0RWZT-miFs"], rows["audioset-0DzsPL-xElE"]
    assert happy["mood"] == "happy" and happy["duration_s"] == 10.0 and happy["start_s"] == 30.0
    assert (scary["mood"], scary["moods"]) == ("scary", ["scary", "sad"])
    assert angry["split"] == "test" and happy["split"] in ("train", "val")
    assert (happy["valence"], happy["energy"]) == pytest.approx(tuple(emotion.vad("happy")[:2]), abs=1e-4)
    assert res.skipped == {"no mood label": 1, "not downloaded": 1}
    with pytest.raises(EsmrError, match="does not look like a AudioSet folder"):
        adapters.read_audioset_mood(root / "audio")


# ------------------------------------------------------------------------------------------------ Soundtracks360
def test_soundtracks360_targets_ratings_and_links(tmp_path):
    root = tmp_path / "soundtracks"
    write(root / "mean_ratings_set1.csv", "number,valence,energy,tension,anger,fear,happy,sad,tender,TARGET\n"
          "001,4.83,6.83,3.17,1.00,1.00,7.33,1.00,1.00,HAPPY\n"
          "091,1.17,4.50,6.50,5.17,7.50,1.00,1.00,1.00,FEAR\n"
          "151,3.83,5.17,4.50,1.17,2.00,2.83,1.00,1.00,SURPRISE\n"
          "271,5.80,1.20,1.40,1.00,1.00,1.00,6.00,4.17,LOW ENERGY\n"
          "300,5.00,5.00,5.00,1.00,1.00,1.00,1.00,1.00,HAPPY\n")
    write(root / "mean_ratings_set2.csv", "Number,Valence,Energy,Tension,Anger,Fear,Happy,Sad,Tender,Beauty,"
          "Liking,TARGET,soundtrack,link\n"
          "001,2.56,7.73,8.38,6.39,4.40,1.21,1.75,1.01,4.71,4.97,ANGER_HIGH,Lethal weapon 3,227\n"
          "021,8.00,7.77,4.02,1.00,1.09,6.63,1.12,2.19,5.79,5.92,HAPPY_HIGH,The Rainmaker,001\n")
    for name in ("Set1/001.mp3", "Set1/091.mp3", "Set1/151.mp3", "Set1/271.mp3", "Set2/001.mp3", "Set2/021.mp3"):
        write(root / name, "ID3 not decoded by the reader")
    res = adapters.read_soundtracks360(root)
    check_required(res)
    rows = by_id(res)
    assert len(rows) == 6 and res.skipped == {"missing audio": 1}
    h1, fear, sur, low = (rows[f"soundtracks360-set1-{n}"] for n in ("001", "091", "151", "271"))
    assert (h1["mood"], h1["mood_source"], fear["mood"]) == ("happy", "target", "scary")
    assert h1["valence"] == pytest.approx((4.83 - 1) / 8, abs=1e-4) and h1["energy"] == pytest.approx(0.7288, abs=1e-4)
    assert sur["mood_source"] == "ratings" and sur["mood"] == emotion.mood_from_va(sur["valence"], sur["energy"])
    assert low["mood"] == emotion.mood_from_va((5.8 - 1) / 8, (1.2 - 1) / 8) and low["target"] == "LOW ENERGY"
    a2, h2 = rows["soundtracks360-set2-001"], rows["soundtracks360-set2-021"]
    assert (a2["mood"], a2["link"], a2["title"]) == ("angry", 227, "Lethal weapon 3 (set 2 #001)")
    assert h2["split"] == h1["split"]  # the same excerpt (Set 2 #021 = Set 1 #001) never straddles splits
    assert a2["ratings_1_9"]["beauty"] == 4.71 and h1["duration_s"] == 15.0 and h1["duration_measured"] is False


def test_soundtracks360_wrong_root(tmp_path):
    write(tmp_path / "Set1/001.mp3", "x")
    with pytest.raises(EsmrError, match="does not look like a Soundtracks360 folder: expected mean_ratings_set1"):
        adapters.read_soundtracks360(tmp_path)
    write(tmp_path / "mean_ratings_set1.xls", "x")
    with pytest.raises(EsmrError, match="save it as CSV"):
        adapters.read_soundtracks360(tmp_path)


# ------------------------------------------------------------------------------------------------ import + CLI
def _cli(argv):
    import argparse

    parser = argparse.ArgumentParser(prog="esmr")
    dataset_cli.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    return args.func(args)


def test_import_writes_a_loadable_collection_and_refuses_to_overwrite(iemocap, tmp_path, capsys):
    out = tmp_path / "data" / "iemocap"
    assert _cli(["dataset", "import", "iemocap", str(iemocap), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "wrote 6 speech rows" in printed and "1 label xxx not used" in printed
    coll = load_collection(out, "speech")
    assert len(coll) == 6 and coll.meta["dataset"] == "iemocap" and coll.meta["skipped"]["missing wav"] == 1
    assert coll.path(coll.rows[0]).is_file() and len(coll.split("test")) == 1
    meta = json.loads((out / "collection.json").read_text())
    assert meta["kind"] == "speech" and "Busso" in meta["citation"]
    with pytest.raises(EsmrError, match="--force"):
        adapters.import_dataset("iemocap", iemocap, out)
    assert _cli(["dataset", "import", "IEMOCAP", str(iemocap), "--out", str(out), "--force"]) == 0


def test_import_errors_and_listing(tmp_path, capsys):
    with pytest.raises(EsmrError, match="no adapter for 'tess'; known corpora: iemocap, ravdess"):
        adapters.import_dataset("tess", tmp_path, tmp_path / "o")
    with pytest.raises(EsmrError, match=r"option\(s\) \['segments'\] do not apply to ravdess"):
        adapters.import_dataset("ravdess", tmp_path, tmp_path / "o", segments=["x.csv"])
    wav(tmp_path / "r/Actor_01/03-02-03-01-01-01-01.wav")  # only a song file: layout right, nothing usable
    with pytest.raises(EsmrError, match=r"no usable clip \(1 song"):
        adapters.import_dataset("ravdess", tmp_path / "r", tmp_path / "o")
    assert _cli(["dataset", "list"]) == 0
    listing = capsys.readouterr().out
    assert all(name in listing for name in adapters.ADAPTERS) and "Actor_XX" in listing
    assert adapters.get_adapter("CREMA_D").name == "crema-d" and adapters.get_adapter("audioset").kind == "music"


def test_every_label_map_key_lands_in_the_project_label_sets():
    """Codes the readers emit must be in emotion.py's tables (a table typo would silently drop clips)."""
    for code in adapters._RAVDESS_EMOTIONS:
        assert emotion.map_label("ravdess", code) in emotion.EMOTIONS
    for code in ("ANG", "DIS", "FEA", "HAP", "NEU", "SAD"):
        assert emotion.map_label("crema-d", code) in emotion.EMOTIONS
    for name in adapters._IEMOCAP_NAMES.values():
        assert emotion.map_label("iemocap", name) in (*emotion.EMOTIONS, None)
    for name in adapters.AUDIOSET_MOOD_MIDS.values():
        assert emotion.map_label("audioset-mood", name) in emotion.MUSIC_MOODS
