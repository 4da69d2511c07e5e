"""MATE before (shipped) vs retrained with the real voices, judged on the val split's real voices (voice only).

    .venv/bin/python scripts/train_mate_realvoice.py [EPOCHS] [--config C] [--speech DIR ...] [--out DIR]
    # -> runs/mate-real (copy to checkpoints/mate-default); speech: the config's "speech" (one folder or several)
"""
import argparse, json, sys, time
from dataclasses import replace
import numpy as np
sys.path.insert(0, "scripts")
from realvoice_ablation import pair_accuracy
from esmr_core import mate as M
from esmr_core.models.mate import MateModel
from esmr_core.data.manifest import load_collection
from esmr_core.paths import PACKAGE_DIR, checkpoints_dir

ap = argparse.ArgumentParser()
ap.add_argument("epochs", nargs="?", type=int, default=None)
ap.add_argument("--config", default=str(PACKAGE_DIR / "configs" / "mate.json"))
ap.add_argument("--speech", nargs="+", default=None)
ap.add_argument("--out", default="runs/mate-real")
args = ap.parse_args()
cfg, tcfg, raw = M.load_config(args.config)
epochs = args.epochs or tcfg.epochs
speech = args.speech or raw.get("speech") or "data/bootstrap"
speech = list(speech) if isinstance(speech, (list, tuple)) else [speech]
t0 = time.time()
data = M.prepare_data(speech if len(speech) > 1 else speech[0], cfg, verbose=True)
print(f"prepared {len(data)} in {time.time()-t0:.0f} s", flush=True)
meta = {r["id"]: r for d in speech for r in load_collection(d, "speech").rows}
real = np.array([bool(meta[i].get("real_voice")) for i in data.ids])
voice = np.array([str(meta[i].get("voice", "")) for i in data.ids])
val_real = np.flatnonzero((data.splits == "val") & real)
val_syn = np.flatnonzero((data.splits == "val") & ~real)

def judge(model):
    pr = M.predict_data(model, data, val_real, use_text=False)
    ps = M.predict_data(model, data, val_syn)
    sc = M.score(ps, data, val_syn)
    return {"real_arousal_pairs": pair_accuracy(pr["arousal"], data.arousal[val_real], voice[val_real], 0.8),
            "real_valence_pairs": pair_accuracy(pr["valence"], data.valence[val_real], voice[val_real], 0.8),
            "real_emotion_accuracy": float((pr["probs"].argmax(1) == data.labels[val_real]).mean()),
            "synthetic_val_f1": sc["f1_macro"], "synthetic_val_ccc_arousal": sc["ccc_arousal"]}

out = {"shipped": judge(MateModel.from_pretrained(checkpoints_dir() / "mate-default"))}
print("shipped", out["shipped"], flush=True)
tr = np.flatnonzero(data.splits == "train")
t0 = time.time()
model, hist = M.fit(data, tr, cfg, replace(tcfg, epochs=epochs, text_weight_aug=0.3), verbose=True)
out["retrained"] = judge(model)
out["retrained"]["seconds"] = time.time() - t0
print("retrained", out["retrained"], flush=True)
model.save_pretrained(args.out, extra={"train": {**tcfg.__dict__, "epochs": epochs, "text_weight_aug": 0.3},
                                               "speech": speech, "n_train": int(len(tr)),
                                               "val_real_voices": out, "loss_history": [round(h, 5) for h in hist]})
json.dump(out, open(f"{args.out}/val_real.json", "w"), indent=1)
