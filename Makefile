# Two commands for a fresh machine: `make demo` and `make test`. Each installs what it needs.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SYSSTAMP := $(VENV)/.system-deps
APT_PACKAGES := espeak-ng sox chromium
# Twilio's OpenAPI spec (api v2010) for the REST fake and the simulator's conformance tests, taken
# from a pinned npm package that ships twilio-oai (`npm pack` downloads without naming a host).
OAI_PACKAGE := @twilio-alpha/mcp@0.7.0
OAI_TARBALL := twilio-alpha-mcp-0.7.0.tgz
OAI_MEMBER := package/twilio-oai/spec/json/twilio_api_v2010.json
OAI_SHA256 := 475b69553e34e797af05d34679cdad3bc3b8b4b8b92e6ac044fa6ebc255bf052
OAI_DIR := .cache/twilio-oai
OAI_SPEC := $(OAI_DIR)/twilio_api_v2010.json

.PHONY: demo test lint install system-deps twilio-spec clean

$(BIN)/python:
	$(PY) -m venv $(VENV)

$(STAMP): $(BIN)/python requirements.txt requirements-dev.txt
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements-dev.txt
	touch $@

# espeak-ng (offline speech), sox (audio checks) and Debian's chromium (page tests).
$(SYSSTAMP): $(BIN)/python
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi
	touch $@

# npm comes from Debian's packages when missing (like espeak-ng above); the file is checked
# against its pinned hash so every machine tests against the same spec.
$(OAI_SPEC):
	@command -v npm >/dev/null 2>&1 || { \
	  echo "installing: nodejs npm"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq nodejs npm >/dev/null; }
	rm -rf $(OAI_DIR)/pack && mkdir -p $(OAI_DIR)/pack
	cd $(OAI_DIR)/pack && npm pack --silent $(OAI_PACKAGE) >/dev/null
	tar -xzf $(OAI_DIR)/pack/$(OAI_TARBALL) -C $(OAI_DIR)/pack $(OAI_MEMBER)
	echo "$(OAI_SHA256)  $(OAI_DIR)/pack/$(OAI_MEMBER)" | sha256sum -c --quiet -
	mv $(OAI_DIR)/pack/$(OAI_MEMBER) $@
	rm -rf $(OAI_DIR)/pack

twilio-spec: $(OAI_SPEC)

install: $(STAMP) $(SYSSTAMP) $(OAI_SPEC)

# Layers (import-linter contracts in pyproject.toml) and types are checked before the tests.
test: install
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/mypy
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/mypy

demo: install
	$(BIN)/python scripts/demo.py $(DEMO_ARGS)

clean:
	rm -rf $(VENV) instance .pytest_cache .ruff_cache .cache
