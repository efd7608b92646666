# Plimsoll: every target installs what it needs first (idempotent; quick when all is there).
#   make demo      - the main job: local Anvil, deploy, vaults, price replay, keeper liquidations, report
#   make test      - everything CI runs: Slither triage, the forge suites (unit, fuzz, invariants), pytest on Anvil
#                    (installs Debian's chromium first, for the report's browser tests: root or sudo)
#   make test-fast - the edit-test loop: forge unit tests and pytest without processes (no demo, no keeper)
#   make coverage  - forge coverage of contracts/ (mocks excluded) -> .forge-cache/lcov.info
#   make slither   - Slither over contracts/, checked against toolchain/slither-triage.json
#   make bench     - gas benchmark -> benchmarks/results/gas.{json,md}
#   make bench-keeper - keeper at 10,000 vaults (index rebuild, block work) -> benchmarks/results/keeper.{json,md}
#   make bench-risk - cascade simulator, 100,000 vaults x 24 scenarios -> benchmarks/results/cascade.{json,md}
#   make dapp      - the reference dApp (dapp/): type-check, bundle into .build/dapp, serve it on 127.0.0.1
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
ANVIL_DIR := $(CURDIR)/node_modules/@foundry-rs/anvil-linux-amd64/bin
FORGE_DIR := $(CURDIR)/node_modules/@foundry-rs/forge-linux-amd64/bin
export SOLCX_BINARY_PATH := $(CURDIR)/.solcx
export FOUNDRY_SOLC := $(CURDIR)/.solcx/solc-v0.8.28
export PATH := $(BIN):$(ANVIL_DIR):$(FORGE_DIR):$(PATH)

SOURCES := $(shell find contracts interfaces -name '*.sol' -not -path '*/.cache/*')

.PHONY: setup browser compile demo dapp test test-fast forge-test pytest slither coverage bench bench-keeper bench-risk clean

setup: $(VENV)/.installed node_modules/.installed .solcx/solc-v0.8.28

$(VENV)/.installed: requirements.txt constraints.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt -c constraints.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $@

node_modules/.installed: package.json package-lock.json
	npm install --no-audit --no-fund --loglevel=error
	touch $@

# py-solc-x looks for an executable named solc-v<version> in $SOLCX_BINARY_PATH: our shim over npm's solc.
.solcx/solc-v0.8.28: toolchain/solc.js
	mkdir -p .solcx
	printf '#!/bin/sh\nexec node "%s/toolchain/solc.js" "$$@"\n' "$(CURDIR)" > $@
	chmod +x $@

.build/__local__.json: $(SOURCES) ape-config.yaml | setup
	$(BIN)/ape compile --force
	touch $@

compile: setup .build/__local__.json

# Debian's Chromium, for the tests that open the risk report in a real browser (tests/browser.py).
browser:
	bash toolchain/chromium.sh

demo: compile
	$(BIN)/plimsoll demo $(ARGS)

# The reference dApp (docs/integrating.md, "The reference dApp"): dapp/src type-checked and bundled into
# .build/dapp, with deployments/$(DAPP_NETWORK).json beside it as manifest.json when that file exists (else the
# page asks for a manifest file), served on http://127.0.0.1:$(DAPP_PORT)/ until Ctrl-C.
DAPP_NETWORK ?= local
DAPP_PORT ?= 8000
dapp: node_modules/.installed
	npm run --silent dapp:check
	npm run --silent dapp:build
	@if [ -f deployments/$(DAPP_NETWORK).json ]; then cp deployments/$(DAPP_NETWORK).json .build/dapp/manifest.json; \
	else rm -f .build/dapp/manifest.json; \
	     echo "no deployments/$(DAPP_NETWORK).json: the page will ask for a manifest file"; fi
	@echo "Plimsoll dApp: http://127.0.0.1:$(DAPP_PORT)/"
	$(PYTHON) -m http.server --bind 127.0.0.1 --directory .build/dapp $(DAPP_PORT)

test: compile browser
	bash toolchain/slither.sh
	forge test
	$(BIN)/ape test tests $(ARGS)

test-fast: compile browser
	forge test --no-match-contract Invariant
	$(BIN)/ape test tests -m "not integration" $(ARGS)

forge-test: setup
	forge test $(FORGE_ARGS)

slither: compile
	bash toolchain/slither.sh $(ARGS)

coverage: setup
	mkdir -p .forge-cache
	FOUNDRY_INVARIANT_RUNS=32 forge coverage --report summary --report lcov --report-file .forge-cache/lcov.info

bench: compile
	$(BIN)/python benchmarks/gas.py

bench-risk: setup
	$(BIN)/python benchmarks/cascade.py

bench-keeper: compile
	$(BIN)/python benchmarks/keeper.py --vaults 10000
	$(BIN)/python benchmarks/black_thursday.py --vaults 10000

clean:
	rm -rf .build contracts/.cache demo-output .pytest_cache .hypothesis .forge-out .forge-cache
