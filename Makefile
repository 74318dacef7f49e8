# layer-autopublish: every task a developer or CI runs.
#
#   make demo    the whole job end to end on a local AWS (moto server)
#   make test    everything CI checks: lint, tests, release build and its checks
#
# Python tools (moto, cargo-lambda with zig, cfn-lint and its serverless
# rules, checkov, the SAM CLI, awscli) live in a project-local .venv, pinned
# in scripts/python-tools.txt; the IAM policy engine in tests/iam (npm).

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

VENV := $(CURDIR)/.venv
export PATH := $(VENV)/bin:$(PATH)
# The SAM CLI offline: no telemetry; and a region for the commands that
# only check or build (the template names none), when the caller set none.
export SAM_CLI_TELEMETRY := 0
SAM_REGION := AWS_DEFAULT_REGION=$${AWS_DEFAULT_REGION:-us-east-1}
TARGET_DIR := $(or $(CARGO_TARGET_DIR),$(CURDIR)/target)
# The function is one static-pie binary (.cargo/config.toml;
# docs/performance.md): no shared libraries, loaded at a random address, for
# ARCH=x86_64 (the default) or ARCH=arm64 (Graviton), each in its own lambda
# folder. cargo lambda installs the musl target with rustup when it is missing.
ARCH ?= x86_64
ifeq ($(ARCH),x86_64)
TRIPLE := x86_64-unknown-linux-musl
LAMBDA_DIR := $(TARGET_DIR)/lambda
# The binary runs here as it is.
RUNNER :=
else ifeq ($(ARCH),arm64)
TRIPLE := aarch64-unknown-linux-musl
LAMBDA_DIR := $(TARGET_DIR)/lambda-arm64
RUNNER := qemu-aarch64
else
$(error ARCH is x86_64 or arm64, not $(ARCH))
endif
BOOTSTRAP_ZIP := $(LAMBDA_DIR)/layer-autopublish/bootstrap.zip
RELEASE_BINARY := $(TARGET_DIR)/$(TRIPLE)/release/layer-autopublish
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)

.PHONY: help tools demo test check unit fuzz bench bench-latency lint build sam-build check-binary check-arm64 cross-tools arm64-template wheel check-wheel watch invoke deploy clean

help:
	@echo "make demo         run the function end to end on a local AWS (moto server)"
	@echo "make test         lint, all tests, release build and its checks (what CI runs)"
	@echo "make check        the quick loop: cargo fmt --check, clippy, the unit tests (no Python)"
	@echo "make fuzz         the property tests with 20,000 cases each"
	@echo "make bench        start-up, memory, latency, AWS calls and size vs a boto3 baseline"
	@echo "make bench-latency  the same jobs with AWS's latency (a proxy before moto), beside"
	@echo "                  the seed's publish step; and a 100 MiB zip's upload three ways"
	@echo "make unit         the Rust tests only (unit, moto, in-process)"
	@echo "make lint         cargo fmt --check, clippy -D warnings; template.yaml: cfn-lint with"
	@echo "                  the serverless rules, checkov, sam validate --lint"
	@echo "make build        release bootstrap.zip for provided.al2023 (cargo lambda; ARCH=arm64 for Graviton)"
	@echo "make wheel        layerctl's wheel (pip install layerctl) and its static binary"
	@echo "make watch        Lambda runtime emulator with live reload (cargo lambda watch)"
	@echo "make invoke       send events/put-layer-zip.json to 'make watch'"
	@echo "make deploy       sam build && sam deploy --guided (needs AWS credentials; installs the rest)"

# The venv is rebuilt whenever the pinned list changes.
$(VENV)/.installed: scripts/python-tools.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r scripts/python-tools.txt
	touch $@

# The IAM policy engine of tests/on_moto/rights/ (npm, pinned by its lock
# file; a test tool, never shipped), reinstalled when the lock file changes.
IAM_ENGINE := tests/iam/node_modules/.installed
$(IAM_ENGINE): tests/iam/package-lock.json
	npm ci --prefix tests/iam --no-audit --no-fund --loglevel=error
	touch $@

tools: $(VENV)/.installed $(IAM_ENGINE)

demo: tools
	scripts/demo.sh

test: lint unit build check-binary sam-build check-wheel check-arm64

# Every build of a full run is built once, so incremental compilation's
# bookkeeping is only a cost there (`make check`, the edit loop, keeps it).
test: export CARGO_INCREMENTAL := 0

# The quick loop while editing: formatting, lints and the unit tests of the
# library and layerctl, which need neither moto nor the Python tools.
check:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings
	cargo test --workspace --lib --bins

# One moto server for every test binary (scripts/with-moto.sh); `cargo test`
# run directly starts one per binary instead.
unit: tools
	scripts/with-moto.sh cargo test --workspace --all-targets

# This function against the boto3 baseline in bench/, on moto: start-up,
# peak RSS, latency and AWS calls per outcome, sizes. Figures, not a test.
bench: build
	cargo build --quiet --example count_calls
	$(VENV)/bin/python bench/bench.py $(RELEASE_BINARY) $(BOOTSTRAP_ZIP) \
		$(TARGET_DIR)/debug/examples/count_calls $${RUNS:-7}

# Through a proxy adding AWS's per-call latency and an upload bandwidth
# limit (S3_MS, LAMBDA_MS, PUBLISH_MS, OTHER_MS, UPLOAD_MIB_S): this function,
# the boto3 baseline and the seed's publish step, cold and warm; a 100 MiB
# zip's upload by layerctl, aws s3 cp and the seed. Figures, not a test.
bench-latency: build
	cargo build --quiet --release --bin layerctl
	$(VENV)/bin/python bench/latency.py $(RELEASE_BINARY) $(TARGET_DIR)/release/layerctl \
		$${RUNS:-5}

# The property tests, longer than CI runs them.
fuzz:
	PROPTEST_CASES=20000 cargo test --test checks properties::

# Each way in, and every part on: the parameters a user sets (cfn-lint also
# checks every combination of the template's conditions on its own).
TEMPLATE_BASE := ArtifactsBucketName=my-artifacts LayerName=deps
TEMPLATE_CASES := "UseExistingBucket=false" "UseExistingBucket=true" \
	"UseExistingBucket=true SourceQueueArn=arn:aws:sqs:us-east-1:123456789012:uploads" \
	"LatestParameter=/layer-autopublish/{layer}/latest ShareWith=123456789012 EventBus=default \
	 KeepVersions=3 PruneRecords=true AllowedLayers=de* ReplicateTo=eu-west-1=my-artifacts-eu \
	 Followers=arn:aws:lambda:us-east-1:123456789012:function:api \
	 AlarmEmail=ops@example.com AlarmTopicArn=arn:aws:sns:us-east-1:123456789012:paging \
	 KmsKeyArn=arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab \
	 Architecture=arm64"

# clippy needs no Python, so the pinned tools install beside it (pip is a
# minute and a half on a fresh clone). The template's checkers mostly wait,
# so the six run at once; each prints only what it finds.
lint:
	cargo fmt --all -- --check
	$(MAKE) --no-print-directory tools & tools=$$!; \
	clippy=0; cargo clippy --workspace --all-targets -- -D warnings || clippy=$$?; \
	wait $$tools; exit $$clippy
	set -f; pids=""; \
	for case in $(TEMPLATE_CASES); do \
		cfn-lint --append-rules cfn_lint_serverless.rules \
			--parameters $(TEMPLATE_BASE) $$case -- template.yaml & pids="$$pids $$!"; \
	done; \
	checkov --file template.yaml --framework cloudformation --compact --quiet --skip-download & \
	pids="$$pids $$!"; \
	$(SAM_REGION) sam validate --lint & pids="$$pids $$!"; \
	failed=0; for pid in $$pids; do wait $$pid || failed=1; done; exit $$failed

build: tools $(if $(RUNNER),cross-tools)
	cargo lambda build --release --target $(TRIPLE) --bin layer-autopublish \
		--output-format zip --lambda-dir $(LAMBDA_DIR)
	@ls -l $(BOOTSTRAP_ZIP)

# arm64 on this x86_64 machine: Debian's cross gcc links the static-pie and
# compiles ring's C parts (as gcc does for x86_64), qemu-user runs it.
cross-tools:
	@command -v aarch64-linux-gnu-gcc >/dev/null && command -v qemu-aarch64 >/dev/null && \
		test -e /usr/aarch64-linux-gnu/include/stdint.h || { \
		$(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq --no-install-recommends \
			gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user >/dev/null; }

# What `make deploy` builds, checked in CI: SAM's cargo-lambda build of the
# function (the same release build as `make build`, reused).
sam-build: build
	$(SAM_REGION) sam build

# The release binary as Lambda runs it: static (it needs nothing of
# provided.al2023 but the kernel), position-independent (static-pie: the
# kernel loads it at a random address, ASLR), it starts (with no
# environment it stops at the missing AWS_REGION), and it publishes:
# tests/on_moto/processes.rs, run on it, four processes racing over one upload.
# ARCH=arm64: the same checks, the binary run by qemu-user.
check-binary: build
	@scripts/check-static.sh $(RELEASE_BINARY) "make build ARCH=$(ARCH)"
	@if out=$$(env -i $(RUNNER) $(RELEASE_BINARY) 2>&1); then echo "the binary ran with no environment" >&2; exit 1; fi; \
	echo "$$out" | grep -q 'AWS_REGION is not set' || { echo "the binary did not start: $$out" >&2; exit 1; }
	@echo "it starts and asks for AWS_REGION ($(ARCH))"
	LAYER_AUTOPUBLISH_BINARY=$(RELEASE_BINARY) LAYER_AUTOPUBLISH_RUNNER=$(RUNNER) \
		scripts/with-moto.sh cargo test --quiet --test on_moto processes::

# The arm64 function as make test checks it: built, static-pie, and
# publishing on moto under qemu-user; and the template make deploy ARCH=arm64
# deploys it with.
check-arm64:
	$(MAKE) --no-print-directory check-binary arm64-template ARCH=arm64
	$(SAM_REGION) sam validate --lint --template-file $(ARM64_TEMPLATE)
	scripts/with-moto.sh scripts/check-arm64-package.sh $(ARM64_TEMPLATE) \
		$(TARGET_DIR)/lambda-arm64/layer-autopublish/bootstrap.zip

# layerctl as a Python package (pyproject.toml, maturin's `bin` bindings):
# one wheel for every x86_64 Linux, glibc or musl, holding the static musl
# binary, which is an artifact of its own for images without Python.
WHEEL_DIR := $(TARGET_DIR)/wheels
LAYERCTL_STATIC := $(TARGET_DIR)/x86_64-unknown-linux-musl/release/layerctl
wheel: tools
	rm -rf $(WHEEL_DIR)
	maturin build --release --target x86_64-unknown-linux-musl \
		--compatibility manylinux_2_17 musllinux_1_2 --out $(WHEEL_DIR)
	@ls -l $(WHEEL_DIR)/*.whl $(LAYERCTL_STATIC)

# The wheel as CI installs it: in a fresh venv, layerctl uploads, shows and
# diffs against moto; the GitHub Action's step runs with it
# (tests/on_moto/packaging.rs); its binary is static-pie.
check-wheel: wheel
	@scripts/check-static.sh $(LAYERCTL_STATIC) "make wheel"
	LAYERCTL_WHEEL="$$(echo $(WHEEL_DIR)/layerctl-*.whl)" scripts/with-moto.sh \
		cargo test --quiet --test on_moto packaging:: -- --ignored

watch: tools
	cargo lambda watch

invoke: tools
	cargo lambda invoke layer-autopublish --data-file events/put-layer-zip.json

# samconfig.toml holds the stack name, capabilities and the code bucket.
# ARCH=arm64: SAM's cargo-lambda build gives `--arm64`, which cargo lambda
# refuses beside the musl target (Cargo.toml), so make builds the arm64 zip
# and sam deploys it as it is (a template naming it as the code).
# Beside template.yaml: its other files (LICENSE, README.md) are named
# relative to it.
ARM64_TEMPLATE := $(CURDIR)/template-arm64.yaml
arm64-template:
	sed 's|^      CodeUri: \.$$|      CodeUri: $(TARGET_DIR)/lambda-arm64/layer-autopublish/bootstrap.zip|' \
		template.yaml > $(ARM64_TEMPLATE)
	@grep -q 'CodeUri: .*lambda-arm64/layer-autopublish/bootstrap.zip' $(ARM64_TEMPLATE) || \
		{ echo "template.yaml's CodeUri is not the one line this replaces" >&2; exit 1; }
deploy: tools
ifeq ($(ARCH),arm64)
	$(MAKE) --no-print-directory build arm64-template ARCH=arm64
	sam deploy --guided --template-file $(ARM64_TEMPLATE) --parameter-overrides Architecture=arm64
else
	sam build
	sam deploy --guided
endif

clean:
	cargo clean
	rm -rf $(VENV) .demo .aws-sam template-arm64.yaml
