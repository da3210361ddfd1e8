# Two entry points (see README): `make demo` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
BASE := $(VENV)/.installed-base
FULL := $(VENV)/.installed-test

.PHONY: demo test test-slow bench clean

$(BASE): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -e .
	touch $(BASE)

$(FULL): $(BASE)
	bash scripts/install-torch.sh $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test,neural]'
	touch $(FULL)

demo: $(BASE)
	$(BIN)/songscope analyze examples/demo_song.ogg -o demo -v --viz-dir demo -s --sonif-dir demo --jams --audacity
	@echo "results: demo/demo_song.json, figure: demo/demo_song.pdf, click track: demo/demo_song.sonif.wav"

test: $(FULL)
	bash scripts/system-deps.sh
	$(BIN)/python -m pytest -q

test-slow: $(FULL)  # the long training and scale tests the default run leaves out
	bash scripts/system-deps.sh
	$(BIN)/python -m pytest -q -m slow

bench: $(FULL)
	$(BIN)/python benchmarks/beats_vs_librosa.py
	$(BIN)/python benchmarks/classic_synthetic.py
	$(BIN)/python benchmarks/speed.py
	$(BIN)/python benchmarks/key_eval.py
	$(BIN)/python benchmarks/run.py --peers
	$(BIN)/python benchmarks/synth_check.py
	$(BIN)/songscope synth data/separation --works 32 --versions 1 --seed 11 -q
	$(BIN)/python benchmarks/separation_eval.py
	$(BIN)/python benchmarks/separation_speed.py

clean:  # generated files only: the demo's outputs and the benchmarks' rendered audio
	rm -rf demo .bench-cache
