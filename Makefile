# partnerapp — the two commands: `make up` (run everything with demo data) and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# Use the machine's CPython 3.11; never download an interpreter.
export UV_PYTHON_DOWNLOADS := never
# uv, pinned: tools/bootstrap.sh installs it into .cache/tools on first use (UV=... picks another one).
ifndef UV
UV := $(shell tools/bootstrap.sh uv)
endif
ifeq ($(UV),)
$(error tools/bootstrap.sh could not provide uv (see its message above))
endif
RUN := $(UV) run --frozen
STACK := $(RUN) python -m partnerapp_stack
PACKAGES := contracts servicekit instances support reports activity gateway partnerapp_stack

.PHONY: help bootstrap-up bootstrap-test sync web k8s bench soak test-faults up down status keys demo test lint format types imports pytest test-unit test-integration \
        schemas web-api-types infra-up infra-down infra-status

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-18s %s\n", $$1, $$2}'

bootstrap-up: ## install what `make up` needs and the machine lacks (Java, Maven, fonts, PostgreSQL unless PARTNERAPP_STORE_BACKEND=sqlite; checks Go, Node.js, CPython)
	tools/bootstrap.sh up >/dev/null

bootstrap-test: ## the same for `make test` (adds Debian's chromium for the browser tests)
	tools/bootstrap.sh test >/dev/null

sync: ## install the workspace (locked versions) into .venv
	$(UV) sync --frozen

web: ## build the web app (npm ci, type check, vite build) into web/dist, which the gateway serves; ESLint
	cd web && npm ci --no-audit --no-fund && npm run build && npm run lint

k8s: sync ## render the Kubernetes overlays (kustomize) and validate them offline into .cache/k8s
	$(RUN) python deploy/k8s/generate.py --check
	cd tools/k8s-validate && go vet ./... && go build -buildvcs=false -o ../../.cache/bin/k8s-validate .
	.cache/bin/k8s-validate -o .cache/k8s deploy/k8s/overlays/dev deploy/k8s/overlays/prod

up: bootstrap-up sync web ## start Kafka, FerretDB and the five services locally, load demo data, print the URLs
	$(STACK) up all
	$(RUN) python -m partnerapp_stack.demo

down: ## stop the services and the infrastructure started by `make up`
	$(STACK) down all

keys: ## create the development token keys (git-ignored), e.g. before `docker compose up`
	$(STACK) keys

status: ## what is running
	$(STACK) status all

demo: ## load the demo data again into a running platform
	$(RUN) python -m partnerapp_stack.demo

test: bootstrap-test lint types imports web k8s asyncapi infra-up pytest ## everything: lint, types, import rules, web build, k8s manifests, AsyncAPI, all tests (starts the infra)

.PHONY: asyncapi
asyncapi: ## validate contracts/schemas/asyncapi.json with the official AsyncAPI parser (fails on errors and warnings)
	cd tools/asyncapi-validate && npm ci --no-audit --no-fund --ignore-scripts && node validate.mjs --strict ../../contracts/schemas/asyncapi.json

lint: sync ## ruff format check and lint
	$(RUN) ruff format --check .
	$(RUN) ruff check .

format: sync ## apply ruff formatting and safe fixes
	$(RUN) ruff format .
	$(RUN) ruff check --fix .

types: sync ## mypy (strict)
	$(RUN) mypy $(addprefix -p ,$(PACKAGES))
	MYPYPATH=bench $(RUN) mypy deploy/k8s/generate.py bench
	$(RUN) mypy web/scripts/api_types.py

imports: sync ## import-linter: services independent, domain layers pure
	$(RUN) lint-imports

pytest: sync ## all tests (needs the infra: `make infra-up`)
	$(RUN) pytest

test-unit: sync k8s ## unit tests only (no infrastructure)
	$(RUN) pytest -m unit

test-faults: infra-up ## the fault suite with the issue's full counts; writes tests/faults/results.md (`make test` runs a short version)
	FAULTS_FULL=1 $(RUN) pytest -m faults tests/faults

bench: sync ## the benchmarks on their own Kafka and FerretDB, into bench/results/ (sizes: BENCH_ARGS="--help")
	$(RUN) python bench/run.py $(BENCH_ARGS)

soak: sync ## the soak (issue #22): 30 minutes of steady load on its own Kafka and FerretDB, judged for leaks (shorter: SOAK_ARGS="--minutes 3 --warmup-minutes 1 --sample-seconds 20")
	$(RUN) python bench/soak.py $(SOAK_ARGS)

test-integration: infra-up ## integration tests only
	$(RUN) pytest -m integration

schemas: sync ## regenerate the committed JSON Schemas of the events
	$(RUN) python -m contracts.schemagen

web-api-types: sync ## regenerate the web app's API types (web/src/api/schema.d.ts) from the gateway's OpenAPI document
	cd web && npm ci --no-audit --no-fund
	$(RUN) python web/scripts/api_types.py

infra-up: sync ## start (first time: download and build) Kafka and FerretDB (on PostgreSQL; PARTNERAPP_STORE_BACKEND=sqlite for SQLite)
	$(STACK) up infra

infra-down: ## stop Kafka and FerretDB (and its PostgreSQL)
	$(STACK) down infra

infra-status: ## are Kafka and FerretDB running
	$(STACK) status infra
