# data-subscriber — every target installs what it needs on first use.
SHELL := /bin/bash
TOOLS := .tools/node_modules/.bin
BUN := $(TOOLS)/bun
DENO := $(TOOLS)/deno
VENV := .venv
PY := $(VENV)/bin/python
export PATH := $(CURDIR)/$(TOOLS):$(PATH)
export DS_PYTHON := $(CURDIR)/$(PY)

.PHONY: all demo test test-bun test-deno bench bench-writer check build release clean deps

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

deps: node_modules/.installed $(VENV)/.installed $(DENO)

## Runs every test under Bun, then under Deno (servers are started by the tests).
test: deps
	$(BUN) test --timeout 600000 tests/ src/
	$(DENO) test -A --no-check tests/ src/

test-bun: deps
	$(BUN) test --timeout 600000 tests/ src/

test-deno: deps
	$(DENO) test -A --no-check tests/ src/

check: deps
	$(BUN) x tsc -p tsconfig.json

bench-writer: deps
	$(BUN) run tests/bench/bench_writer.ts

clean:
	rm -rf dist data .cache
