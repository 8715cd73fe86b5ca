# lendstream — every entry point a person or CI uses. `make help` lists them.
SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

PY := .venv/bin/python
# The one command (lendstream --help lists its subcommands).
LENDSTREAM := .venv/bin/lendstream
LAYOUT ?= ci
# Tools the suite calls by name (ansible-playbook, ansible-inventory, sparse) come from the venv.
export PATH := $(CURDIR)/.venv/bin:$(PATH)
N ?= 20000
# Lines `make logs` prints.
LOG_LINES ?= 100
# After `make demo`: keep the stack running, or stop it.
THEN ?= keep
# testinfra's parallel workers in `make verify` (pytest-xdist): its checks mostly wait on SSH.
VERIFY_WORKERS ?= 3
# A cluster: a checked-in inventory (INVENTORY=montana), or any inventory file (INVENTORY_FILE=…;
# the simulated ones are .cache/vcluster/<layout>/inventory.yml). Its Vault password file is
# ~/.config/lendstream/vault/<inventory directory name>.pass (`make secrets`).
INVENTORY ?= montana
INVENTORY_FILE ?= ansible/inventories/$(INVENTORY)/hosts.yml
VCLUSTER_INVENTORY = .cache/vcluster/$(LAYOUT)/inventory.yml
vault_password_file = $(HOME)/.config/lendstream/vault/$(notdir $(patsubst %/,%,$(dir $(abspath $(1))))).pass
playbook = cd ansible && ANSIBLE_VAULT_PASSWORD_FILE=$(call vault_password_file,$(1)) ansible-playbook -i $(abspath $(1))

.PHONY: help
help: ## List the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

.PHONY: bootstrap
bootstrap: ## Install host packages (Debian) and the pinned Python virtualenv
	@bin/bootstrap

# ---- the main job ---------------------------------------------------------------------------
.PHONY: demo
demo: bootstrap artifacts ## Build what is missing, start the local stack and run the pipeline end to end
	$(LENDSTREAM) demo --then $(THEN)

.PHONY: artifacts
artifacts: bootstrap ## Resolve the JVM services from Maven Central into verified bundles
	$(LENDSTREAM) artifacts build

.PHONY: model
model: bootstrap ## Train and evaluate the risk model; writes .cache/model/<version>/
	$(LENDSTREAM) model train

# A model artifact, trained only when this checkout has none.
MODEL_ARTIFACT := .cache/model/current/metadata.json
$(MODEL_ARTIFACT):
	$(MAKE) model

.PHONY: stack-up stack-down stack-status stack-logs
stack-up: bootstrap ## Start the single-machine stack (all components, health-checked)
	$(LENDSTREAM) stack up
stack-down: ## Stop the single-machine stack
	$(LENDSTREAM) stack down
stack-status: ## Health of each component of the single-machine stack
	$(LENDSTREAM) stack status
stack-logs: ## Log tail of one component: make stack-logs C=kafka
	$(LENDSTREAM) stack logs $(C)

.PHONY: deploy-topology
deploy-topology: bootstrap ## Submit the topology: to the local stack, or to a cluster with INVENTORY=<name>
ifneq ($(filter command line environment,$(origin INVENTORY) $(origin INVENTORY_FILE)),)
	$(call playbook,$(INVENTORY_FILE)) playbooks/deploy-topology.yml
else
	$(LENDSTREAM) topology deploy
endif

.PHONY: bench
# LAYOUT=… on the command line: the topology on that deployed simulated cluster (lendstream.bench_cluster).
bench_layout = $(if $(filter command line,$(origin LAYOUT)),$(LAYOUT))
bench: bootstrap $(if $(bench_layout),,artifacts $(MODEL_ARTIFACT)) ## Benchmark: baseline loop vs the Storm topology; LAYOUT=ci: the topology on that deployed cluster (prints figures)
	$(if $(filter command line,$(origin INVENTORY)),@echo "make bench: a cluster bench runs on a deployed simulated layout (LAYOUT=ci) only: INVENTORY=$(INVENTORY) is not supported" >&2; exit 2)
	$(LENDSTREAM) bench $(if $(bench_layout),--layout $(bench_layout) )--applicants $(N)

.PHONY: monitoring-overhead
monitoring-overhead: bootstrap ## What monitoring costs a deployed simulated cluster: B with it on and off, two cycles of eight rounds (LAYOUT=ci)
	$(LENDSTREAM) bench --layout $(LAYOUT) --applicants 5000 --monitoring-overhead 2

# ---- the simulated cluster ------------------------------------------------------------------
.PHONY: vcluster-up vcluster-down vcluster-status
vcluster-up: bootstrap ## Boot the simulated cluster (LAYOUT=ci|montana)
	$(LENDSTREAM) vcluster up --layout $(LAYOUT)
vcluster-down: ## Tear the simulated cluster down, leaving nothing behind
	$(LENDSTREAM) vcluster down --layout $(LAYOUT)
vcluster-status: ## State and address of each simulated node
	$(LENDSTREAM) vcluster status --layout $(LAYOUT)

# ---- Vagrant on libvirt (docs/vagrant.md) ---------------------------------------------------
.PHONY: vagrant-host-deps vagrant-box vagrant-smoke
vagrant-host-deps: ## Install qemu, libvirt and dnsmasq (Debian; only the Vagrant targets need them)
	bin/vagrant-host-deps
vagrant-box: bootstrap vagrant-host-deps ## Build the local Debian 12 libvirt box (cached) and add it to Vagrant
	$(LENDSTREAM) vagrant box
vagrant-smoke: bootstrap artifacts vagrant-host-deps ## vagrant up LAYOUT on libvirt, provision common+artifacts, destroy (measured; long)
	$(LENDSTREAM) vagrant smoke --layout $(LAYOUT)

.PHONY: secrets
secrets: bootstrap ## Fresh secrets into Ansible Vault for an inventory: make secrets INVENTORY=montana
	$(LENDSTREAM) secrets new --inventory-dir $(dir $(INVENTORY_FILE))

# ---- a cluster ------------------------------------------------------------------------------
.PHONY: deploy verify vcluster-deploy vcluster-verify
deploy: bootstrap artifacts $(MODEL_ARTIFACT) ## Deploy everything with site.yml: make deploy INVENTORY=montana
	$(call playbook,$(INVENTORY_FILE)) site.yml
verify: bootstrap ## testinfra checks of every node: make verify INVENTORY=montana
	$(PY) -m pytest tests/infra --ansible-inventory=$(INVENTORY_FILE) -q -n $(VERIFY_WORKERS)
vcluster-deploy: vcluster-up ## Boot the simulated cluster (LAYOUT=ci|montana), make its secrets, deploy
	$(LENDSTREAM) secrets new --inventory-dir $(dir $(VCLUSTER_INVENTORY))  # only what is missing
	$(MAKE) deploy INVENTORY_FILE=$(VCLUSTER_INVENTORY)
vcluster-verify: ## testinfra checks of every simulated node (LAYOUT=ci|montana)
	$(MAKE) verify INVENTORY_FILE=$(VCLUSTER_INVENTORY)
.PHONY: logs
logs: bootstrap ## Last lines of one daemon's log on a node: make logs INVENTORY=montana HOST=m1 C=kafka [LOG_LINES=100]
	$(if $(and $(HOST),$(C)),,$(error make logs needs HOST=<node> and C=<component>, e.g. HOST=m1 C=kafka))
	$(LENDSTREAM) logs --inventory $(INVENTORY_FILE) --host $(HOST) --component $(C) --lines $(LOG_LINES)
.PHONY: rotate-risk-token
rotate-risk-token: bootstrap ## Rotate the risk-service token under load, no refused request: make rotate-risk-token INVENTORY=montana
	$(LENDSTREAM) secrets rotate-begin --inventory-dir $(dir $(INVENTORY_FILE)) \
	  --vault-password-file $(call vault_password_file,$(INVENTORY_FILE))
	$(call playbook,$(INVENTORY_FILE)) playbooks/rotate-risk-token.yml
	$(LENDSTREAM) secrets rotate-finish --inventory-dir $(dir $(INVENTORY_FILE)) \
	  --vault-password-file $(call vault_password_file,$(INVENTORY_FILE))
.PHONY: rotate-kafka-passwords
rotate-kafka-passwords: bootstrap ## Rotate the Kafka clients' SCRAM passwords under load (alternating users): make rotate-kafka-passwords INVENTORY=montana
	$(LENDSTREAM) secrets rotate-begin --name kafka --inventory-dir $(dir $(INVENTORY_FILE)) \
	  --vault-password-file $(call vault_password_file,$(INVENTORY_FILE))
	$(call playbook,$(INVENTORY_FILE)) playbooks/rotate-kafka-passwords.yml
	$(LENDSTREAM) secrets rotate-finish --name kafka --inventory-dir $(dir $(INVENTORY_FILE)) \
	  --vault-password-file $(call vault_password_file,$(INVENTORY_FILE))
.PHONY: kafka-access
kafka-access: bootstrap ## Set Kafka's users again where a broker refuses them (what KafkaSignInsRefused asks): make kafka-access INVENTORY=montana
	$(call playbook,$(INVENTORY_FILE)) playbooks/kafka-access.yml
.PHONY: rotate-mysql-passwords
rotate-mysql-passwords: bootstrap ## Rotate MariaDB's service-account passwords under load (both accepted meanwhile): make rotate-mysql-passwords INVENTORY=montana
	$(LENDSTREAM) secrets rotate-begin --name mysql --inventory-dir $(dir $(INVENTORY_FILE)) \
	  --vault-password-file $(call vault_password_file,$(INVENTORY_FILE))
	$(call playbook,$(INVENTORY_FILE)) playbooks/rotate-mysql-passwords.yml
	$(LENDSTREAM) secrets rotate-finish --name mysql --inventory-dir $(dir $(INVENTORY_FILE)) \
	  --vault-password-file $(call vault_password_file,$(INVENTORY_FILE))
.PHONY: rotate-certificates
rotate-certificates: bootstrap ## Renew every node's host certificate under load, one node at a time (same CA): make rotate-certificates INVENTORY=montana
	$(call playbook,$(INVENTORY_FILE)) playbooks/rotate-certificates.yml
.PHONY: chaos
chaos: vcluster-deploy ## Fault suite under steady load on the simulated cluster; prints a table (LAYOUT=ci|montana)
	$(LENDSTREAM) chaos --layout $(LAYOUT)
.PHONY: attacks
attacks: bootstrap ## Attack suite + bridge capture on a deployed simulated cluster; prints the tables (LAYOUT=ci|montana)
	$(LENDSTREAM) attacks --layout $(LAYOUT)
.PHONY: status
status: bootstrap ## One screen of a cluster's health, exit 1 naming what is unhealthy: make status INVENTORY=montana
	ANSIBLE_VAULT_PASSWORD_FILE=$(call vault_password_file,$(INVENTORY_FILE)) \
	  $(LENDSTREAM) status --inventory $(INVENTORY_FILE)

# ---- quality --------------------------------------------------------------------------------
.PHONY: lint
lint: bootstrap ## ruff, mypy and ansible-lint (production profile)
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/mypy lendstream model services topology/pipeline

# The suites that need no service and no node run first, one pytest worker per core (xdist); the
# rest (real services, simulated nodes) runs after them in one process, in order.
OFFLINE_SUITES := tests/unit tests/monitoring tests/ansible

.PHONY: test
test: bootstrap artifacts ## The whole suite against real services and simulated nodes (what CI runs)
	$(PY) -m pytest -n auto $(OFFLINE_SUITES)
	$(PY) -m pytest $(addprefix --ignore=,$(OFFLINE_SUITES))

.PHONY: e2e
e2e: bootstrap artifacts ## End-to-end tests: applicants through the real Kafka, Storm and HBase
	$(PY) -m pytest tests/e2e -q

.PHONY: test-fast
test-fast: bootstrap ## Unit tests only: no services, seconds
	$(PY) -m pytest tests/unit -q

.PHONY: clean
clean: stack-down ## Stop everything and remove this checkout's run-time state (.cache/)
	rm -rf .cache
