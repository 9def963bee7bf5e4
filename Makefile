# Pouch: `make run` serves the demo, `make test` runs the whole suite.
# uv is installed with pip when it is missing.

UV := $(shell command -v uv 2>/dev/null)
ifeq ($(UV),)
UV := python3 -m uv
endif
RUN := $(UV) run --frozen

# Some machines set PYTHONDONTWRITEBYTECODE: then every `pouch` process the tests
# start compiles the whole application and its libraries again (5 s instead of 2 s).
unexport PYTHONDONTWRITEBYTECODE

.PHONY: run test check bench docs screenshots clean

.venv/.synced: pyproject.toml uv.lock
	@$(UV) --version >/dev/null 2>&1 || python3 -m pip install --quiet uv
	$(UV) sync --frozen
	@touch $@

run: .venv/.synced ## the demo in var/, served on http://127.0.0.1:8000, cosigned by a witness of its own
	RUN="$(RUN)" bash scripts/run-demo

# axe-core for the browser tests' accessibility checks, pinned by its package-lock.json.
AXE := tests/e2e/axe/node_modules/.installed
$(AXE): tests/e2e/axe/package.json tests/e2e/axe/package-lock.json
	npm ci --prefix tests/e2e/axe --silent --no-audit --no-fund
	@touch $@

test: .venv/.synced $(AXE) ## the whole suite (PostgreSQL variants need a server; see README)
	@# Four workers on two cores: much of the time a test waits on a process it started.
	$(RUN) pytest -n 4 --dist worksteal --durations=30

check: .venv/.synced ## lint, format, type checks and the dependency rules (import-linter)
	$(RUN) ruff check src tests bench
	$(RUN) ruff format --check src tests bench
	$(RUN) mypy --strict src/pouch
	$(RUN) lint-imports

bench: .venv/.synced ## every benchmark; figures go to docs/benchmarks.md by hand
	@for b in bench/bench_*.py; do echo "== $$b"; $(RUN) python $$b || exit 1; done

docs: .venv/.synced ## regenerate docs/cli.md from the commands' help
	$(RUN) python -m pouch.docs

screenshots: .venv/.synced ## every page at laptop and phone width into docs/screenshots/ (needs /usr/bin/chromium)
	$(RUN) python -m tests.e2e.screenshots

clean:
	rm -rf .venv var .pytest_cache .mypy_cache .ruff_cache tests/e2e/axe/node_modules
