# The two commands of the README: `make run` (local stack) and `make test` (every test).
SHELL := /bin/bash
VENV := .venv
STAMP := $(VENV)/.installed

.PHONY: run test venv lint unit template-check checkov build package package-tools bench openapi browser contract

# The function binaries, as template.yaml names them (`BuildProperties: { Binary: … }`).
FUNCTIONS := $(shell sed -n 's/.*BuildProperties: { Binary: \([a-z0-9-]*\) }.*/\1/p' template.yaml)
# The bench's baseline: a bare lambda_runtime function built with the same profile.
BASELINE := hello-world
PACKAGE_STAMP := $(VENV)/.package-tools
TARGET_DIR := $(or $(CARGO_TARGET_DIR),target)

$(STAMP): infra/requirements.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -r infra/requirements.txt
	touch $(STAMP)

venv: $(STAMP)

# The settings pages' browser tests: Debian's Chromium and ChromeDriver, and axe-core
# from npm (tests/browser/package-lock.json).
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
BROWSER_STAMP := tests/browser/node_modules/.installed
$(BROWSER_STAMP): tests/browser/package-lock.json
	command -v chromium >/dev/null && command -v chromedriver >/dev/null || { \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends chromium chromium-driver; }
	cd tests/browser && npm ci --no-audit --no-fund --quiet
	touch $@

browser: $(BROWSER_STAMP)

# The committed OpenAPI document under the tools its users run (tests/contract/package-lock.json):
# redocly's recommended rules and spectral's OAS rules find nothing to fix, and the types
# openapi-typescript generates compile under tsc --strict with a client that switches
# exhaustively over the enumerations and reads every webhook payload.
CONTRACT_STAMP := tests/contract/node_modules/.installed
$(CONTRACT_STAMP): tests/contract/package-lock.json
	cd tests/contract && npm ci --no-audit --no-fund --quiet
	touch $@

contract: $(CONTRACT_STAMP)
	cd tests/contract && npx --no-install redocly lint --format=stylish ../../functions/platform/openapi.json
	cd tests/contract && npx --no-install spectral lint --fail-severity=warn ../../functions/platform/openapi.json
	cd tests/contract && npx --no-install openapi-typescript ../../functions/platform/openapi.json --output generated/openapi.d.ts
	cd tests/contract && npx --no-install tsc -p tsconfig.json

# checkov in a venv of its own (its dependency pins clash with the emulator's).
CHECKOV_VENV := .venv-checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed
$(CHECKOV_STAMP): infra/requirements-checkov.txt
	python3 -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet --upgrade pip
	$(CHECKOV_VENV)/bin/pip install --quiet -r infra/requirements-checkov.txt
	touch $(CHECKOV_STAMP)

run: venv
	./infra/run-local.sh

lint:
	cargo fmt --all --check
	cargo clippy --workspace --all-targets --quiet -- -D warnings

template-check: venv
	cd infra && ../$(VENV)/bin/python -m unittest -v test_template test_emulator 2>&1

# The transformed template under checkov, with the documented skips of infra/checkov.yaml.
checkov: venv $(CHECKOV_STAMP)
	mkdir -p $(TARGET_DIR)
	$(VENV)/bin/python infra/validate_template.py --out $(TARGET_DIR)/template.transformed.json template.yaml
	BC_SKIP_MAPPING=TRUE $(CHECKOV_VENV)/bin/checkov --config-file infra/checkov.yaml -f $(TARGET_DIR)/template.transformed.json

build:
	cargo build --workspace --bins

# The OpenAPI document the platform function serves, generated from the handlers (a unit
# test fails while the committed one is stale).
openapi:
	cargo run --quiet -p openapi-document

# cargo-lambda and the Zig it links with come from PyPI; the arm64 target from rustup.
$(PACKAGE_STAMP): $(STAMP) infra/requirements-package.txt
	$(VENV)/bin/pip install --quiet -r infra/requirements-package.txt
	rustup target add aarch64-unknown-linux-gnu
	touch $(PACKAGE_STAMP)

package-tools: $(PACKAGE_STAMP)

# Every function of template.yaml (and the baseline) as an arm64 provided.al2023 zip,
# $(TARGET_DIR)/lambda/<binary>/bootstrap.zip, with the release profile of Cargo.toml.
package: package-tools
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" cargo lambda build --release --arm64 --output-format zip \
		$(addprefix -p ,$(FUNCTIONS) $(BASELINE))
	@for f in $(FUNCTIONS) $(BASELINE); do \
		printf '%-16s %10s bytes  $(TARGET_DIR)/lambda/%s/bootstrap.zip\n' $$f "$$(stat -c %s $(TARGET_DIR)/lambda/$$f/bootstrap.zip)" $$f; \
	done

# Cold start, zip size, warm memory, round trips and argon2 cost, against the baseline
# built in the same run: prints a table, writes target/bench/bench.{json,md}.
bench: package build
	cargo build --release $(addprefix -p ,$(FUNCTIONS) $(BASELINE) hello-dynamodb plexmcp-bench)
	$(TARGET_DIR)/release/plexmcp-bench

# Ends with one line that totals every cargo test binary (the last cargo prints is an
# empty doc-test summary).
test: venv browser lint template-check checkov contract build
	set -o pipefail; cargo test --workspace --no-fail-fast 2>&1 | tee target/test-output.log
	@awk '/^test result:/ { passed += $$4; failed += $$6 } END { printf "tests: %d passed, %d failed\n", passed, failed }' target/test-output.log
