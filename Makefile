# lendstream — every entry point a person or CI uses. `make help` lists them.
SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

PY := .venv/bin/python
LAYOUT ?= ci
# Tools the suite calls by name (ansible-playbook, ansible-inventory, sparse) come from the venv.
export PATH := $(CURDIR)/.venv/bin:$(PATH)
N ?= 20000
# After `make demo`: keep the stack running, or stop it.
THEN ?= keep
INVENTORY ?= montana

.PHONY: help
help: ## List the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

.PHONY: bootstrap
bootstrap: ## Install host packages (Debian) and the pinned Python virtualenv
	@bin/bootstrap

# ---- the main job ---------------------------------------------------------------------------
.PHONY: demo
demo: bootstrap artifacts ## Build what is missing, start the local stack and run the pipeline end to end
	$(PY) -m lendstream.demo --then $(THEN)

.PHONY: artifacts
artifacts: bootstrap ## Resolve the JVM services from Maven Central into verified bundles
	$(PY) -m lendstream.stack.artifacts build

.PHONY: model
model: bootstrap ## Train and evaluate the risk model; writes .cache/model/<version>/
	$(PY) -m lendstream.model train

# A model artifact, trained only when this checkout has none.
MODEL_ARTIFACT := .cache/model/current/metadata.json
$(MODEL_ARTIFACT):
	$(MAKE) model

.PHONY: stack-up stack-down stack-status stack-logs
stack-up: bootstrap ## Start the single-machine stack (all components, health-checked)
	$(PY) -m lendstream.stack up
stack-down: ## Stop the single-machine stack
	$(PY) -m lendstream.stack down
stack-status: ## Health of each component of the single-machine stack
	$(PY) -m lendstream.stack status
stack-logs: ## Log tail of one component: make stack-logs C=kafka
	$(PY) -m lendstream.stack logs $(C)

.PHONY: deploy-topology
deploy-topology: bootstrap ## Build the topology jar and submit it to nimbus (local stack by default)
	$(PY) -m lendstream.stack.topology_jar deploy

.PHONY: bench
bench: bootstrap artifacts $(MODEL_ARTIFACT) ## Benchmark: baseline loop vs the Storm topology (prints figures)
	$(PY) -m lendstream.bench --applicants $(N)

# ---- the simulated cluster ------------------------------------------------------------------
.PHONY: vcluster-up vcluster-down vcluster-status
vcluster-up: bootstrap ## Boot the simulated cluster (LAYOUT=ci|montana)
	$(PY) -m lendstream.vcluster up --layout $(LAYOUT)
vcluster-down: ## Tear the simulated cluster down, leaving nothing behind
	$(PY) -m lendstream.vcluster down --layout $(LAYOUT)
vcluster-status: ## State and address of each simulated node
	$(PY) -m lendstream.vcluster status --layout $(LAYOUT)

.PHONY: secrets
secrets: bootstrap ## Fresh secrets into Ansible Vault for an inventory: make secrets INVENTORY=montana
	$(PY) -m lendstream.secrets new --inventory-dir ansible/inventories/$(INVENTORY)

# ---- quality --------------------------------------------------------------------------------
.PHONY: lint
lint: bootstrap ## ruff, mypy and ansible-lint (production profile)
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/mypy lendstream model services topology/pipeline

.PHONY: test
test: bootstrap artifacts ## The whole suite against real services and simulated nodes (what CI runs)
	$(PY) -m pytest

.PHONY: e2e
e2e: bootstrap artifacts ## End-to-end tests: applicants through the real Kafka, Storm and HBase
	$(PY) -m pytest tests/e2e -q

.PHONY: test-fast
test-fast: bootstrap ## Unit tests only: no services, seconds
	$(PY) -m pytest tests/unit -q

.PHONY: clean
clean: stack-down ## Stop everything and remove this checkout's run-time state (.cache/)
	rm -rf .cache
