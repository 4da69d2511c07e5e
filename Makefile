# Two commands on a fresh machine: `make demo` (start the app) and `make test` (the whole suite).
# Each does its own set-up and is fast when already set up.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.esmr-installed
# The torch install spec: 2.13.0 is a CPU wheel on the project's build machines; elsewhere pass your own, e.g.
# make demo TORCH_SPEC="torch==2.13.0 --index-url <your CPU wheel index>"
TORCH_SPEC ?= torch==2.13.0
# Debian packages: the tests synthesise speech (espeak-ng), render songs (fluidsynth + General MIDI soundfont)
# and drive the app in a real browser (chromium). The app itself needs none of them.
TEST_DEBS    := espeak-ng fluidsynth fluid-soundfont-gm chromium
# The music catalogue's Debian packages (scripts/build_default_catalog.py says where each keeps its music).
CATALOG_DEBS := wesnoth-1.16-music warzone2100-music planetblupi-music-ogg singularity-music hyperrogue-music \
	drascula-music fretsonfire-songs-sectoid fretsonfire-songs-muldjord supertux-data supertuxkart-data \
	hedgewars-data extremetuxracer-data frozen-bubble-data neverball-common freedroidrpg-data lincity-ng-data naev-data
export GRADIO_ANALYTICS_ENABLED := False
export HF_HUB_OFFLINE ?= 1
export TRANSFORMERS_OFFLINE ?= 1
export PYTHONUNBUFFERED := 1

.PHONY: demo test test-fast bench bench-scale soak setup sysdeps-test catalog songs corpus ablation default-models mate-tables realvoice clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check -U pip "setuptools<81" wheel
	# The CPU wheel of torch first: any other spec pulls a multi-GB CUDA build.
	$(BIN)/python -m pip install -q --disable-pip-version-check $(TORCH_SPEC)
	$(BIN)/python -m pip install -q --disable-pip-version-check -e ".[train,test,scale]"
	@! $(BIN)/python -m pip show -q torchaudio 2>/dev/null || (echo "torchaudio got installed; it breaks transformers here: remove it" && exit 1)
	@touch $(STAMP)

# Install missing Debian packages when we are root; otherwise say what to install.
define need_debs
	@missing=""; for p in $(1); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then echo "installing Debian packages:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	  else echo "missing Debian packages:$$missing -- run: sudo apt-get install$$missing" ; exit 1; fi; fi
endef

sysdeps-test:
	$(call need_debs,$(TEST_DEBS))

demo: setup
	$(BIN)/python demo/app.py

test: setup sysdeps-test
	$(BIN)/python -m pytest -q

test-fast: setup
	$(BIN)/python -m pytest -q -m "not slow and not browser"

bench: setup
	$(BIN)/python bench/run.py --out bench/latest.json

# Scale (issue #16): search latency/recall at 1e4-1e6 tracks, the app on a 1e6-track catalogue, catalogue build
# throughput with the local engine and 1/2 local Ray workers -> bench/scale.json (~10 min; scratch in data/scale/)
bench-scale: setup
	$(BIN)/python bench/scale.py --out bench/scale.json $(SCALE_ARGS)

# 16 clients x 100 /analyze + a mixed phase with ASR and /sing + a burst beyond the queue, on loopback; stops by
# itself (a deadline bounds it well under 10 minutes). Writes bench/soak.json; exit 1 when a target is missed.
soak: setup
	$(BIN)/python bench/soak.py --out bench/soak.json

# Rebuild the bundled music catalogue from Debian's music packages (apt-get download + dpkg-deb, no root needed;
# the .deb files, ~2 GB, stay in data/catalog/debs), incrementally: unchanged tracks are not decoded again.
# Then the mood evidence (docs/catalog.md, docs/catalog.json).
catalog: setup
	$(BIN)/python scripts/build_default_catalog.py --out assets/music --debs data/catalog/debs --packages $(CATALOG_DEBS)
	$(BIN)/python scripts/mood_evidence.py --catalog assets/music

# Rebuild the singable-song catalogue from music21's public-domain corpus (needs fluidsynth + fluid-soundfont-gm).
songs: setup
	$(call need_debs,fluidsynth fluid-soundfont-gm)
	$(BIN)/esmr songs build --out assets/songs

# Build the bootstrap emotional-speech corpus into data/bootstrap (not committed): synthetic speech (espeak-ng +
# piper, ~15 min on 2 cores) and real human speech from Debian packages made emotional by rule (the packages are
# fetched into data/ with apt-get download + dpkg -x, no root; ~15 min idle, 45 min on a busy machine). One part:
# add --only real (or synthetic).
corpus: setup
	$(call need_debs,espeak-ng)
	$(BIN)/esmr corpus bootstrap --out data/bootstrap

# Regenerate the retrieval ablation table (docs/ablation.md) and checkpoints/esmr-default, then its map;
# and MATE's tables (docs/mate.md) + checkpoints/mate-default. Needs the corpus (make corpus).
ablation: setup
	$(BIN)/python scripts/ablation.py --no-default

# Retrain the shipped speech models on the whole corpus (TTS + real voices; make corpus first): the joint model
# from esmr_core/configs/default.json and MATE from configs/mate.json, then their map. Inputs were chosen on the
# val split's real speakers by scripts/realvoice_ablation.py (docs/inputs.md); the music ranking's weights
# (moodmatch.json next to the weights) on the val split by scripts/moodmatch_sweep.py (docs/moodmatch.md).
default-models: setup
	$(BIN)/esmr train --config esmr_core/configs/default.json --out runs/esmr-default
	$(BIN)/python scripts/moodmatch_sweep.py --checkpoint runs/esmr-default/checkpoint --out docs/moodmatch.json \
		--markdown docs/moodmatch.md
	cp runs/esmr-default/checkpoint/config.json runs/esmr-default/checkpoint/model.safetensors \
		runs/esmr-default/checkpoint/moodmatch.json checkpoints/esmr-default/
	$(BIN)/esmr mate train --config esmr_core/configs/mate.json --out runs/mate-default
	cp runs/mate-default/config.json runs/mate-default/model.safetensors checkpoints/mate-default/
	$(BIN)/esmr index build

mate-tables: setup
	$(BIN)/python scripts/mate_tables.py --epochs 5

# The real-voice benchmark (issue #11) of the shipped checkpoints: Hedgewars actors' lines and the French/Italian
# asterisk prompts (fetched into data/ with apt-get download + dpkg -x, no root), controlled prosody, channels,
# music response, example voices -> bench/realvoice.json + docs/realvoice.md (~5 min on 2 cores).
# Other models: make realvoice REALVOICE_ARGS="--checkpoint runs/x/checkpoint --mate-checkpoint runs/m \
#   --out runs/x/realvoice.json --markdown runs/x/realvoice.md" (a scratch map is built for another joint checkpoint)
realvoice: setup
	$(BIN)/python bench/realvoice.py --out bench/realvoice.json --markdown docs/realvoice.md $(REALVOICE_ARGS)

clean:
	rm -rf .pytest_cache .gradio build *.egg-info
