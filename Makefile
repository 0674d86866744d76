# data-subscriber. Every target installs what it needs on first use:
# Bun and Deno from the npm registry into .tools/, the packages from bun.lock,
# and (for the tests) a Python venv with moto, delta-rs, PySpark and DuckDB in .venv/;
# the interop tests fetch Trino 476 once with Maven (~/.m2) and unpack it into ~/.cache/data-subscriber.
SHELL := /bin/bash
TOOLS := .tools/node_modules/.bin
BUN := $(TOOLS)/bun
DENO := $(TOOLS)/deno
# Lints the GitHub Actions workflows (tests/deploy); built from the Go module proxy with Go.
ACTIONLINT_VERSION := v1.7.12
ACTIONLINT := .tools/bin/actionlint
VENV := .venv
PY := $(VENV)/bin/python
BIN := dist/data-subscriber
# What src/version.ts reports as COMMIT and BUILD_DATE in a compiled binary.
BUILD_COMMIT := $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
BUILD_DATE := $(shell date -u +%Y-%m-%dT%H:%M:%SZ)
DEFINES := --define 'DS_BUILD_COMMIT="$(BUILD_COMMIT)"' --define 'DS_BUILD_DATE="$(BUILD_DATE)"'
export DS_PYTHON := $(CURDIR)/$(PY)

SEEDS ?= 100
.PHONY: sim all demo demo-clickstream test test-bun test-deno check build release bench bench-writer bench-peer bench-maintenance bench-startup clean

all: test

$(BUN) $(DENO):
	mkdir -p .tools
	[ -f .tools/package.json ] || echo '{"private":true}' > .tools/package.json
	cd .tools && npm install --no-audit --no-fund --loglevel=error bun@1.4.5 deno@2.9.6

node_modules/.installed: package.json bun.lock | $(BUN)
	$(BUN) install --frozen-lockfile
	touch $@

$(VENV)/.installed: tests/interop/requirements.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r tests/interop/requirements.txt
	touch $@

# Without Go the deploy test skips actionlint (and says so) rather than failing.
$(ACTIONLINT):
	@if command -v go >/dev/null 2>&1; then \
	  echo "GOBIN=$(CURDIR)/.tools/bin go install github.com/rhysd/actionlint/cmd/actionlint@$(ACTIONLINT_VERSION)"; \
	  GOBIN=$(CURDIR)/.tools/bin go install github.com/rhysd/actionlint/cmd/actionlint@$(ACTIONLINT_VERSION); \
	else \
	  echo "go not found: tests/deploy will skip actionlint (install Go, or put actionlint on PATH)"; \
	fi

$(BIN): node_modules/.installed $(shell find src -name '*.ts' -not -name '*_test.ts') deploy/examples/clickstream.toml
	$(BUN) build --compile --minify $(DEFINES) src/bin.ts --outfile $(BIN)

## The single binary for this machine: dist/data-subscriber.
build: $(BIN)

## Binaries for linux-x64, linux-arm64 and darwin-arm64, with SHA256SUMS.
release: node_modules/.installed
	rm -rf dist/release && mkdir -p dist/release
	for t in linux-x64 linux-arm64 darwin-arm64; do \
	  $(BUN) build --compile --minify $(DEFINES) --target=bun-$$t src/bin.ts --outfile dist/release/data-subscriber-$$t || exit 1; \
	done
	cd dist/release && sha256sum data-subscriber-* > SHA256SUMS && cat SHA256SUMS

## The main job on the embedded local default: local Kinesis, tables under ./data.
demo: $(BIN)
	./$(BIN) demo

## The clickstream example: page views into the tables of deploy/examples/clickstream.toml.
demo-clickstream: $(BIN)
	./$(BIN) demo --example clickstream

## Every test, under Bun (against the compiled binary) and under Deno (from the sources).
test: node_modules/.installed $(VENV)/.installed $(DENO) $(BIN) | $(ACTIONLINT)
	DS_BIN=$(BIN) $(BUN) test --timeout 600000 tests/ src/
	$(DENO) test -A --no-check tests/ src/

test-bun: node_modules/.installed $(VENV)/.installed $(BIN)
	DS_BIN=$(BIN) $(BUN) test --timeout 600000 tests/ src/

test-deno: node_modules/.installed $(VENV)/.installed $(DENO)
	$(DENO) test -A --no-check tests/ src/

check: node_modules/.installed $(DENO)
	$(BUN) x tsc -p tsconfig.json
	$(DENO) check src/main.ts

## The deterministic simulation: SEEDS=n seeds from SIM_FIRST (default random), or SEED=n alone.
sim: node_modules/.installed
	SEED=$(SEED) SEEDS=$(SEEDS) SIM_FIRST=$(SIM_FIRST) SIM_COMPACTION=$(SIM_COMPACTION) $(BUN) tests/sim/run_sim.ts

## 200,000 orders (ORDERS=n) through the whole pipeline, beside JSON.parse alone; then latency.
bench: node_modules/.installed
	$(BUN) tests/bench/bench_pipeline.ts

## The same orders through this pipeline and a one-thread Polars + deltalake job, same core.
bench-peer: node_modules/.installed $(VENV)/.installed
	$(BUN) tests/bench/bench_peer.ts

## 1,000,000 rows through this Delta writer and through delta-rs.
bench-writer: node_modules/.installed $(VENV)/.installed
	$(BUN) tests/bench/bench_writer.ts

## Compacting 10,000 small files (1M rows): tables optimize beside delta-rs' optimize.compact().
bench-maintenance: node_modules/.installed $(VENV)/.installed $(BIN)
	DS_BIN=$(BIN) $(BUN) tests/bench/bench_maintenance.ts

## Binary size, cold start to the first poll, idle RSS.
bench-startup: $(BIN)
	$(BUN) tests/bench/bench_startup.ts

clean:
	rm -rf dist .cache
