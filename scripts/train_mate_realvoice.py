"""MATE before (shipped) vs retrained with the real voices, judged on the val split's real voices (voice only).

    .venv/bin/python scripts/train_mate_realvoice.py [EPOCHS]    # -> runs/mate-real (copy to checkpoints/mate-default)
"""
import json, sys, time
from dataclasses import replace
import numpy as np
sys.path.insert(0, "scripts")
from realvoice_ablation import pair_accuracy
from esmr_core.mate import train as M
from esmr_core.mate.model import MateModel
from esmr_core.data.manifest import load_collection
from esmr_core.paths import PACKAGE_DIR, checkpoints_dir

cfg, tcfg, _ = M.load_config(PACKAGE_DIR / "configs" / "mate.json")
epochs = int(sys.argv[1]) if len(sys.argv) > 1 else tcfg.epochs
t0 = time.time()
data = M.prepare_data("data/bootstrap", cfg, verbose=True)
print(f"prepared {len(data)} in {time.time()-t0:.0f} s", flush=True)
meta = {r["id"]: r for r in load_collection("data/bootstrap", "speech").rows}
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
model.save_pretrained("runs/mate-real", extra={"train": {**tcfg.__dict__, "epochs": epochs, "text_weight_aug": 0.3},
                                               "speech": "data/bootstrap", "n_train": int(len(tr)),
                                               "val_real_voices": out, "loss_history": [round(h, 5) for h in hist]})
json.dump(out, open("runs/mate-real/val_real.json", "w"), indent=1)
