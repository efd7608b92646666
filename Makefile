# Plimsoll: every target installs what it needs first (idempotent; quick when all is there).
#   make demo   - the main job: local Anvil, deploy, vaults, price replay, keeper liquidations, report
#   make test   - the test suite on Anvil
#   make bench  - gas benchmark -> benchmarks/results/gas.{json,md}
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
ANVIL_DIR := $(CURDIR)/node_modules/@foundry-rs/anvil-linux-amd64/bin
export SOLCX_BINARY_PATH := $(CURDIR)/.solcx
export PATH := $(BIN):$(ANVIL_DIR):$(PATH)

SOURCES := $(shell find contracts interfaces -name '*.sol' -not -path '*/.cache/*')

.PHONY: setup compile demo test bench clean

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
	$(BIN)/ape compile
	touch $@

compile: setup .build/__local__.json

demo: compile
	$(BIN)/plimsoll demo $(ARGS)

test: compile
	$(BIN)/ape test tests $(ARGS)

bench: compile
	$(BIN)/python benchmarks/gas.py

clean:
	rm -rf .build contracts/.cache demo-output .pytest_cache .hypothesis
