# The two commands of the README: `make run` (local stack) and `make test` (every test).
SHELL := /bin/bash
VENV := .venv
STAMP := $(VENV)/.installed

.PHONY: run test venv lint unit template-check build

$(STAMP): infra/requirements.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -r infra/requirements.txt
	touch $(STAMP)

venv: $(STAMP)

run: venv
	./infra/run-local.sh

lint:
	cargo fmt --all --check
	cargo clippy --workspace --all-targets --quiet -- -D warnings

template-check: venv
	cd infra && ../$(VENV)/bin/python -m unittest -v test_template 2>&1

build:
	cargo build --workspace --bins

# Ends with one line that totals every cargo test binary (the last cargo prints is an
# empty doc-test summary).
test: venv lint template-check build
	set -o pipefail; cargo test --workspace --no-fail-fast 2>&1 | tee target/test-output.log
	@awk '/^test result:/ { passed += $$4; failed += $$6 } END { printf "tests: %d passed, %d failed\n", passed, failed }' target/test-output.log
