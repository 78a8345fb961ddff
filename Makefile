# Two commands on a fresh machine: `make demo` and `make test`. Both create .venv from scratch.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip --disable-pip-version-check -q
OUT    ?= out

.PHONY: demo test lint typecheck venv clean bench

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml constraints.txt
	$(PIP) install -c constraints.txt -e .
	touch $@

# The test environment has the pypsa extra too, so tests/test_pypsa_bridge.py runs in CI
# (about 700 MB and 20 s from a warm pip cache; docs/pypsa.md).
$(VENV)/.installed-test: $(VENV)/.installed
	$(PIP) install -c constraints.txt -e '.[test,pypsa]'
	touch $@

venv: $(VENV)/.installed

demo: $(VENV)/.installed
	$(BIN)/pebdsl compare designs/trondheim.peb --out $(OUT)/trondheim
	@echo "Open $(OUT)/trondheim/compare.html in a browser; each variant has its own report.html under $(OUT)/trondheim/trondheim/<variant>/"

lint: $(VENV)/.installed-test
	$(BIN)/ruff check pebdsl tests benchmarks
	$(BIN)/ruff format --check pebdsl tests benchmarks

typecheck: $(VENV)/.installed-test
	$(BIN)/mypy

test: $(VENV)/.installed-test lint typecheck
	$(BIN)/pytest -n 2 --dist loadfile

# Every figure is printed beside a baseline measured in the same run (a ratio); a missed target
# is printed and does not stop the other benchmarks (the leading `-`).
bench: $(VENV)/.installed-test
	-$(BIN)/python benchmarks/check_speed.py
	-$(BIN)/python benchmarks/model_speed.py
	-$(BIN)/python benchmarks/report_speed.py
	-$(BIN)/python benchmarks/scale.py
	-$(BIN)/python benchmarks/trondheim_year.py --compare
	-$(BIN)/python benchmarks/lsp_latency.py

clean:
	rm -rf $(VENV) $(OUT) .pytest_cache .mypy_cache .ruff_cache .hypothesis
