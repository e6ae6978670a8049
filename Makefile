# The commands people and CI use. `make` alone lists them.
VENV ?= .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
export HUGBOX_DATA_DIR ?= $(CURDIR)/data
# Keep compiled modules and pytest's rewritten test modules between runs: where the machine sets
# PYTHONDONTWRITEBYTECODE every run compiles them again (about 15 s of `make test-fast`).
unexport PYTHONDONTWRITEBYTECODE

.DEFAULT_GOAL := help
.PHONY: help install demo scaled-demo serve test test-fast test-pg test-s3 lint format docs bench compat upstream

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# torch first, pinned: an unpinned torch pulls a multi-GB CUDA build.
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[ml,onnx,test]'
	touch $@

install: $(VENV)/.installed ## create .venv and install hugbox with everything the tests need

demo: install ## seed the demo hub (first run builds models: ~5 min) and serve it on :8000
	$(BIN)/hugbox demo
	$(BIN)/hugbox serve --host 127.0.0.1 --port 8000

scaled-demo: install ## the demo on 2 replicas behind nginx, on PostgreSQL, S3 (moto) and Redis; prints the URL
	$(PY) deploy/scaled_hub.py --seed

serve: install ## serve the hub on :8000 without seeding
	$(BIN)/hugbox serve --host 127.0.0.1 --port 8000

# The in-process tiers over every core (they share nothing but a template database, as in
# test-fast), then the live-server tiers one at a time (each module's hubs, browsers and sandboxes
# would fight over 2 cores).
test: install lint ## lint, type-check, then run the whole test suite
	$(BIN)/pytest -n auto tests/unit tests/functional
	$(BIN)/pytest --ignore=tests/unit --ignore=tests/functional

test-fast: install ## the unit and functional tiers without the slow-marked tests (no live server)
	$(BIN)/pytest -m "not slow" -p no:cacheprovider -n auto tests/unit tests/functional

S3_TESTS := tests/unit/storage/test_blob_contract.py tests/compat/test_s3.py tests/unit/storage/test_s3_parts.py
test-s3: install ## the blob store contract and the S3 hub against a real S3 server (S3_ENDPOINT; .ci/ceph-rgw.sh starts one)
	S3_ENDPOINT=$${S3_ENDPOINT:-http://127.0.0.1:7480} $(BIN)/pytest -p no:cacheprovider $(S3_TESTS)

# The tiers that touch the database, and the live-hub suites of the clients, git, races and the
# operator CLI, each test on a PostgreSQL database of its own (a server on 127.0.0.1:5432, or
# HUGBOX_TEST_POSTGRESQL=postgresql+psycopg://user@host:port).
PG_TESTS := tests/unit tests/functional tests/compat/test_hub_client.py \
	tests/compat/test_hub_access.py tests/compat/test_git.py tests/compat/test_races.py \
	tests/compat/test_operator_cli.py
test-pg: install ## the database-touching suites again, on PostgreSQL (needs a running server)
	HUGBOX_TEST_DATABASE=postgresql $(BIN)/pytest -p no:cacheprovider -n auto $(PG_TESTS)

lint: install ## ruff (lint + format check) and mypy
	$(BIN)/ruff check src tests bench compat deploy
	$(BIN)/ruff format --check src tests bench compat deploy
	$(BIN)/mypy

format: install ## apply ruff's fixes and formatting
	$(BIN)/ruff check --fix src tests bench compat
	$(BIN)/ruff format src tests bench compat deploy

docs: install ## regenerate docs/configuration.md and docs/cli.md from the code
	$(PY) -m hugbox.docgen docs

bench: install ## run the benchmarks in bench/ (prints ratios against baselines)
	$(PY) bench/run.py

upstream: install ## huggingface_hub's own tests against a live hub: pass rate per class (not in test)
	$(PY) tests/upstream/run.py

compat: install ## the client-version matrix: each client version in its own venv against a live hub; writes docs/compatibility.md
	$(PY) compat/matrix.py
