"""Synthetic test split (TTS voices only) and real-voice test split figures of a joint and a MATE checkpoint.

    .venv/bin/python scripts/corpus_test_figures.py JOINT_CHECKPOINT MATE_CHECKPOINT OUT.json
"""
import json, sys
import numpy as np
sys.path.insert(0, "scripts")
from realvoice_ablation import pair_accuracy, real_voice_scores
from esmr_core.mate.config import load_config
from esmr_core.mate.data import prepare_data
from esmr_core.mate.evaluate import predict_data, score
from esmr_core.mate.model import MateModel
from esmr_core.retrieval.model import JointModel
from esmr_core.retrieval.evaluate import evaluate_arrays
from esmr_core.retrieval.data import load_data
from esmr_core.paths import PACKAGE_DIR, default_catalog_dir
from esmr_core.data.manifest import load_collection

out = {}
jm = JointModel.from_pretrained(sys.argv[1]).eval()
spec = jm.feature_spec
drop = [n for e in spec["speech"] for n in e.get("drop", [])]
data = load_data("data/bootstrap", default_catalog_dir(), spec["modality"], progress=False, drop_speech_features=drop)
real = data.speech_real.astype(bool)
syn_test = np.flatnonzero((data.split == "test") & ~real)
real_test = np.flatnonzero((data.split == "test") & real)
out["joint_synthetic_test"] = evaluate_arrays(jm, data, syn_test)
out["joint_real_test_voice_only"] = real_voice_scores(jm, data, real_test)
md = prepare_data("data/bootstrap", load_config(PACKAGE_DIR / "configs" / "mate.json").model)
meta = {r["id"]: r for r in load_collection("data/bootstrap", "speech").rows}
mreal = np.array([bool(meta[i].get("real_voice")) for i in md.ids])
voice = np.array([str(meta[i].get("voice", "")) for i in md.ids])
mm = MateModel.from_pretrained(sys.argv[2])
st = np.flatnonzero((md.splits == "test") & ~mreal)
rt = np.flatnonzero((md.splits == "test") & mreal)
out["mate_synthetic_test"] = score(predict_data(mm, md, st), md, st)
out["mate_synthetic_test_audio_only"] = score(predict_data(mm, md, st, use_text=False), md, st)
pr = predict_data(mm, md, rt, use_text=False)
out["mate_real_test_voice_only"] = {**score(pr, md, rt),
    "arousal_pairs": pair_accuracy(pr["arousal"], md.arousal[rt], voice[rt], 0.8),
    "valence_pairs": pair_accuracy(pr["valence"], md.valence[rt], voice[rt], 0.8)}
json.dump(out, open(sys.argv[3], "w"), indent=1, default=float)
print(json.dumps(out, indent=1, default=float))
