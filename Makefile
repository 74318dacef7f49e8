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
# The function is built as SAM builds it (`cargo lambda build --release`,
# `--arm64` for Graviton), for ARCH=x86_64 (the default) or ARCH=arm64, each
# in its own lambda folder: the gnu target of that processor, compiled and
# linked by zig (cargo lambda's, from .venv) against an older glibc than
# provided.al2023's, as a position-independent executable, loaded at a
# random address (ASLR). No C compiler or linker of the host's is used for it.
ARCH ?= x86_64
HOST_ARCH := $(subst aarch64,arm64,$(shell uname -m))
ifeq ($(ARCH),x86_64)
TRIPLE := x86_64-unknown-linux-gnu
LAMBDA_DIR := $(TARGET_DIR)/lambda-x86_64
SAM_BUILD_DIR := .aws-sam/build
GNU_ARCH := x86_64
CROSS_LIBC := libc6-amd64-cross
else ifeq ($(ARCH),arm64)
TRIPLE := aarch64-unknown-linux-gnu
LAMBDA_DIR := $(TARGET_DIR)/lambda-arm64
SAM_BUILD_DIR := .aws-sam/build-arm64
GNU_ARCH := aarch64
CROSS_LIBC := libc6-arm64-cross
else
$(error ARCH is x86_64 or arm64, not $(ARCH))
endif
# make build leaves the zip and the binary in it side by side, where SAM's
# build (whose cargo lambda moves the binary out of cargo's release folder
# into target/lambda/) does not touch them: every check reads this binary.
BOOTSTRAP_ZIP := $(LAMBDA_DIR)/layer-autopublish/bootstrap.zip
RELEASE_BINARY := $(LAMBDA_DIR)/layer-autopublish/bootstrap
# The other processor's binary runs here under qemu-user, with Debian's
# glibc for it as its loader and libraries (`make emulator`).
ifeq ($(ARCH),$(HOST_ARCH))
RUNNER :=
else
RUNNER := qemu-$(GNU_ARCH) -L /usr/$(GNU_ARCH)-linux-gnu
endif
# The release builds' rustup targets: the function's for each processor,
# and layerctl's static one (its wheel).
RUST_TARGETS := x86_64-unknown-linux-gnu aarch64-unknown-linux-gnu x86_64-unknown-linux-musl
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)

.PHONY: help build-tools tools bins demo test build-arm64 emulator-arm64 sam-build-arm64 check-binary-arm64 check unit burst fuzz bench bench-latency bench-burst lint lint-rust lint-template build sam-build check-binary check-arm64 emulator rust-targets release check-release check-reproducible watch invoke deploy clean

help:
	@echo "make demo         run the function end to end on a local AWS (moto server)"
	@echo "make test         lint, all tests, release build and its checks (what CI runs)"
	@echo "make check        the quick loop: cargo fmt --check, clippy, the unit tests (no Python)"
	@echo "make fuzz         the property tests with 20,000 cases each"
	@echo "make bench        start-up, memory, latency, AWS calls and size vs a boto3 baseline"
	@echo "make bench-latency  the same jobs with AWS's latency (a proxy before moto), beside"
	@echo "                  the seed's publish step; and a 100 MiB zip's upload three ways"
	@echo "make bench-burst  100 and 300 layers uploaded at once under Lambda's control-plane"
	@echo "                  rate (15 and 5 requests/s): time to settle, throttles, calls"
	@echo "make unit         the Rust tests only (unit, moto, in-process)"
	@echo "make burst        100 layers at once through a rate-limited proxy: all published once"
	@echo "make lint         cargo fmt --check, clippy -D warnings; template.yaml: cfn-lint with"
	@echo "                  the serverless rules, checkov, sam validate --lint"
	@echo "make build        release bootstrap.zip for provided.al2023, as sam build builds it"
	@echo "                  (cargo lambda and zig; ARCH=arm64 for Graviton)"
	@echo "make bins         the debug binaries make demo runs (the tests' debug build)"
	@echo "make release      dist/: the function's zips (x86_64, arm64) and their package, the"
	@echo "                  template as plain CloudFormation, layerctl's wheel, SHA256SUMS"
	@echo "                  (docs/releasing.md); make check-reproducible builds it twice"
	@echo "make watch        Lambda runtime emulator with live reload (cargo lambda watch)"
	@echo "make invoke       send events/put-layer-zip.json to 'make watch'"
	@echo "make deploy       sam build && sam deploy --guided (needs AWS credentials; installs the rest;"
	@echo "                  ARCH=arm64 for Graviton)"

# The venv is rebuilt whenever the pinned list changes. What the release
# builds need (cargo-lambda with zig, maturin) is installed first, so that a
# build need not wait for the rest (make test builds while the rest is
# installed). pip installs uv alone; uv installs the rest, the same pinned
# versions pip resolves (its downloads at once, not one after another:
# pip took 335 to 374 s of a cold run on a slow day, docs/performance.md).
UV_INSTALL := $(VENV)/bin/uv pip install --quiet --python $(VENV)/bin/python
$(VENV)/.build-tools: scripts/python-tools.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check $$(grep -E '^uv==' scripts/python-tools.txt)
	$(UV_INSTALL) $$(grep -E '^(cargo-lambda|maturin)==' scripts/python-tools.txt)
	touch $@
$(VENV)/.installed: $(VENV)/.build-tools
	$(UV_INSTALL) -r scripts/python-tools.txt
	touch $@

# The IAM policy engine of tests/on_moto/rights/ (npm, pinned by its lock
# file; a test tool, never shipped), reinstalled when the lock file changes.
IAM_ENGINE := tests/iam/node_modules/.installed
$(IAM_ENGINE): tests/iam/package-lock.json
	npm ci --prefix tests/iam --no-audit --no-fund --loglevel=error
	touch $@

# Added with rustup when missing (cargo lambda would add the function's on
# its own; maturin would not add layerctl's).
rust-targets:
	@installed="$$(rustup target list --installed)"; \
	for target in $(RUST_TARGETS); do \
		grep -qxF "$$target" <<<"$$installed" || rustup target add "$$target"; \
	done

build-tools: $(VENV)/.build-tools rust-targets
tools: build-tools $(VENV)/.installed $(IAM_ENGINE)

demo: tools
	scripts/demo.sh

# A full run: every stage of `make lint unit build check-binary sam-build
# release check-release burst check-arm64`, in two lanes at once so that the
# 2-core machine is kept busy: the function's release builds (x86_64, then
# arm64) and then the release (layerctl's wheel, a release build for musl
# packing their zips), the longest chain, from as soon as cargo-lambda is
# installed; beside them, at a lower priority, clippy, the template's
# checkers, the tests, then the burst (after the tests: it takes the debug
# build's lock). Then each build's checks. The third job is uv installing
# the rest of the tools beside clippy and the first build: it mostly waits
# on downloads. Each release build ends in a long single-threaded LTO link,
# which leaves a core to the other lane; the three builds at once from the
# start would cost a quarter more CPU, and every stage at one priority a
# tenth more (rustc processes contending as equals). make demo, after it in
# CI, runs the tests' debug build (make bins). docs/performance.md has the
# figures. Each stage's output is printed whole when it ends, with how long
# it took and the CPU time it used.
test:
	@$(MAKE) --no-print-directory -j3 --output-sync=target stage-sam-build-arm64

stage-build: stage-build-tools
stage-build-arm64: stage-build
stage-tools: stage-build-tools
stage-lint-template: stage-lint-rust stage-tools
stage-emulator-arm64: stage-lint-template
stage-unit: stage-emulator-arm64
stage-release: stage-build-arm64 stage-tools
stage-check-release: stage-release stage-unit
stage-burst: stage-unit stage-build
stage-check-binary: stage-unit stage-build
stage-check-binary-arm64: stage-check-binary stage-build-arm64 stage-burst stage-check-release
stage-sam-build: stage-check-binary-arm64
stage-sam-build-arm64: stage-sam-build

# One stage, timed (its wall clock and the CPU time of all it ran). Its
# make is given this one's flags but the jobserver's, so it runs its own
# steps in order and cargo schedules its own jobs, and
# BUILT: a check does not build again what a stage before it built.
STAGE_MAKEFLAGS := $(filter-out -j% --jobserver-auth=% --jobserver-fds=%,$(MAKEFLAGS))
# The function's two builds and then the release (layerctl's musl build,
# which packs the function's zips) are the longest chain (each waits for
# the one before); every other stage has time to spare beside them. With
# the release below them too, a cold run took 948 s (docs/performance.md).
LOW_PRIORITY_STAGES := lint-rust tools unit burst
stage-%:
	@TIMEFORMAT='== make test: $*: %0R s (CPU: %0U s user, %0S s system)'; \
	time MAKEFLAGS='$(STAGE_MAKEFLAGS)' \
	$(if $(filter $*,$(LOW_PRIORITY_STAGES)),nice -n 10) $(MAKE) --no-print-directory $* BUILT=1

# Any of these for arm64: make build-arm64 is make build ARCH=arm64.
build-arm64 emulator-arm64 sam-build-arm64 check-binary-arm64:
	$(MAKE) --no-print-directory $(@:-arm64=) ARCH=arm64

# Every build of a full run is built once, so incremental compilation's
# bookkeeping is only a cost there (`make check`, the edit loop, keeps it).
test: export CARGO_INCREMENTAL := 0

# The quick loop while editing: formatting, lints and the unit tests of the
# library and layerctl, which need neither moto nor the Python tools.
check:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings
	cargo test --workspace --lib --bins

# The debug binaries make demo runs (scripts/demo.sh builds them so), built
# as the tests build them: an example target brings in the dev-dependencies
# and their features (the SDK's and tokio's test-util), so make demo and
# make test share one debug build instead of compiling the SDK twice (150
# CPU-s). That the binaries compile without those features is checked by
# the release builds: make build (the function) and make release (layerctl).
bins:
	cargo build --workspace --bins --examples

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
	cargo build --quiet --profile layerctl --bin layerctl
	$(VENV)/bin/python bench/latency.py $(RELEASE_BINARY) $(TARGET_DIR)/layerctl/layerctl \
		$${RUNS:-5}

# A monorepo's burst (issue 31): 100 layers uploaded at once, each event its
# own cold process of the release binary, through the proxy answering as
# Lambda's control-plane rate does (15 and 5 requests/s); 100 published, 100
# and 300 unchanged: wall time, floor, attempts, throttles, calls per upload.
# Figures, not a test (make burst checks one case's outcomes).
bench-burst: build
	$(VENV)/bin/python bench/burst.py $(RELEASE_BINARY)

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
	 AlarmEmail=ops@example.com AlarmTopicArn=arn:aws:sns:us-east-1:123456789012:paging MaxConcurrency=10 \
	 KmsKeyArn=arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab \
	 SkipLayerChecks=true Architecture=arm64"

# clippy needs no Python, so the pinned tools install beside it (pip is a
# minute and a half on a fresh clone), then the template's checkers run.
lint:
	$(MAKE) --no-print-directory tools & tools=$$!; \
	rust=0; $(MAKE) --no-print-directory lint-rust || rust=$$?; \
	wait $$tools; exit $$rust
	$(MAKE) --no-print-directory lint-template

lint-rust:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings

# The template's checkers mostly wait, so the six run at once; each prints
# only what it finds.
lint-template: tools
	set -f; pids=""; \
	for case in $(TEMPLATE_CASES); do \
		cfn-lint --append-rules cfn_lint_serverless.rules \
			--parameters $(TEMPLATE_BASE) $$case -- template.yaml & pids="$$pids $$!"; \
	done; \
	checkov --file template.yaml --framework cloudformation --compact --quiet --skip-download & \
	pids="$$pids $$!"; \
	$(SAM_REGION) sam validate --lint & pids="$$pids $$!"; \
	failed=0; for pid in $$pids; do wait $$pid || failed=1; done; exit $$failed

build: build-tools
	cargo lambda build --release --$(subst _,-,$(ARCH)) --bin layer-autopublish \
		--output-format zip --lambda-dir $(LAMBDA_DIR)
	@cp $(TARGET_DIR)/$(TRIPLE)/release/layer-autopublish $(RELEASE_BINARY)
	@ls -l $(BOOTSTRAP_ZIP) $(RELEASE_BINARY)

# The other processor's function, run here (check-binary): qemu-user and
# that processor's glibc, from Debian, installed when missing. A test tool
# only: nothing is built with them.
emulator:
ifneq ($(RUNNER),)
	@command -v qemu-$(GNU_ARCH) >/dev/null && test -e /usr/$(GNU_ARCH)-linux-gnu/lib/libc.so.6 || { \
		$(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq --no-install-recommends \
			qemu-user $(CROSS_LIBC) >/dev/null; }
endif

# SAM's own build of the function for ARCH (make sam-build, make deploy).
SAM_BUILD = $(SAM_REGION) sam build --parameter-overrides Architecture=$(ARCH) --build-dir $(SAM_BUILD_DIR)

# What make deploy deploys: SAM's own build of the function (its cargo
# lambda build, the release build above reused) is the very binary that
# make test checks.
sam-build: tools $(if $(BUILT),,build)
	$(SAM_BUILD)
	@cmp $(SAM_BUILD_DIR)/PublisherFunction/bootstrap $(RELEASE_BINARY) && \
		echo "sam build ($(ARCH)) ships the binary make build built"

# The release binary as Lambda runs it: a PIE for its processor (the kernel
# loads it at a random address: ASLR) needing only glibc's own libraries at
# a version provided.al2023 has (scripts/check-binary.sh), it starts (with
# no environment it stops at the missing AWS_REGION), and it publishes:
# tests/on_moto/processes.rs, run on it, four processes racing over one upload.
# ARCH=arm64: the same checks, the binary run by qemu-user.
check-binary: tools $(if $(BUILT),,build) emulator
	@scripts/check-binary.sh lambda $(ARCH) $(RELEASE_BINARY)
	@if out=$$(env -i $(RUNNER) $(RELEASE_BINARY) 2>&1); then echo "the binary ran with no environment" >&2; exit 1; fi; \
	grep -q 'AWS_REGION is not set' <<<"$$out" || { echo "the binary did not start: $$out" >&2; exit 1; }
	@echo "it starts and asks for AWS_REGION ($(ARCH))"
	LAYER_AUTOPUBLISH_BINARY=$(RELEASE_BINARY) LAYER_AUTOPUBLISH_RUNNER="$(RUNNER)" \
		scripts/with-moto.sh cargo test --quiet --test on_moto processes::

# A monorepo's burst (issue 31) with the release binary: 100 layers uploaded
# at once, each event a cold process, through bench/burst.py's proxy
# answering as Lambda's control-plane rate does; every one published once,
# in its first invocation (tests/on_moto/burst.rs, ignored by make unit). In
# make test a stage of its own once the release is built: it mostly waits, and
# runs beside the arm64 build's single-threaded end instead of slowing the
# x86_64 build. x86_64 only.
burst: tools $(if $(BUILT),,build)
	LAYER_AUTOPUBLISH_BINARY=$(RELEASE_BINARY) cargo test --quiet --test on_moto burst:: -- --ignored

# The arm64 function as make test checks it: built, checked and publishing
# on moto as above (under qemu-user on an x86_64 machine), and what
# make deploy ARCH=arm64 deploys (SAM's build for Architecture=arm64).
check-arm64:
	$(MAKE) --no-print-directory check-binary sam-build ARCH=arm64

# What a user deploys from, in dist/ (scripts/release.py; docs/releasing.md):
# the function's zip for each processor, the template as plain
# CloudFormation, the package of the zips (layer-autopublish-function, which
# `pip install 'layerctl[deploy]'` brings), layerctl's wheel carrying the
# template and the zips' SHA-256 (layerctl.data/), and SHA256SUMS.
# Everything is dated with the commit's time (SOURCE_DATE_EPOCH, which
# maturin and the wheel package read too), so that building the same commit
# twice gives the same bytes: make check-reproducible builds it all again in
# another target folder and compares.
#
# layerctl's wheel (pyproject.toml, maturin's `bin` bindings) is one wheel for
# every x86_64 Linux, glibc or musl, holding the static musl binary, linked
# by zig (maturin --zig) as a static-pie (.cargo/config.toml), which is an
# artifact of its own for images without Python. It is built with its own
# profile (Cargo.toml: the release one, S3's and Lambda's clients
# unoptimised before the link's optimisation: 41 CPU-s less of a cold run).
VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
DIST := $(CURDIR)/dist
LAYERCTL_STATIC := $(TARGET_DIR)/x86_64-unknown-linux-musl/layerctl/layerctl
# The check's second build inherits the first's date, whatever HEAD is by then.
release check-reproducible: export SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct)
release: tools $(if $(BUILT),,build build-arm64)
	rm -rf $(DIST)
	$(VENV)/bin/python scripts/release.py function $(DIST) $(VERSION) "$$SOURCE_DATE_EPOCH" \
		$(TARGET_DIR)/lambda-x86_64/layer-autopublish/bootstrap \
		$(TARGET_DIR)/lambda-arm64/layer-autopublish/bootstrap layerctl.data
	maturin build --profile layerctl --zig --target x86_64-unknown-linux-musl \
		--compatibility manylinux_2_17 musllinux_1_2 --out $(DIST)
	$(VENV)/bin/python scripts/release.py sums $(DIST)
	@ls -l $(LAYERCTL_STATIC)
check-reproducible: release
	cp $(DIST)/SHA256SUMS $(TARGET_DIR)/SHA256SUMS.first
	CARGO_TARGET_DIR=$(TARGET_DIR)/release-again $(MAKE) --no-print-directory release
	diff $(TARGET_DIR)/SHA256SUMS.first $(DIST)/SHA256SUMS
	@echo "make check-reproducible: the same commit built twice gives the same release"

# The release as users install it, on moto (tests/on_moto/packaging.rs and
# deploying.rs, ignored by make unit): in a fresh venv, layerctl's wheel
# uploads, shows and diffs, and the GitHub Action's step runs with it; in
# another, `layerctl[deploy]` from dist/ alone deploys the stack, updates it,
# and fails as it should. The static binary is a static-pie.
check-release: tools $(if $(BUILT),,release)
	@scripts/check-binary.sh static $(LAYERCTL_STATIC)
	LAYERCTL_DIST=$(DIST) scripts/with-moto.sh \
		cargo test --quiet --test on_moto -- --ignored packaging:: deploying::

watch: tools
	cargo lambda watch

invoke: tools
	cargo lambda invoke layer-autopublish --data-file events/put-layer-zip.json

# samconfig.toml holds the stack name, capabilities and the code bucket
# (named, since SAM looks for it beside the template it is given).
# SAM builds for ARCH (its cargo lambda build, `--arm64` for arm64); on
# Linux, cargo lambda builds an x86_64 function for the machine it runs on,
# so the built bootstrap's processor is checked before anything deploys.
deploy: tools
	$(SAM_BUILD)
	@scripts/check-binary.sh lambda $(ARCH) $(SAM_BUILD_DIR)/PublisherFunction/bootstrap
	sam deploy --guided --template-file $(SAM_BUILD_DIR)/template.yaml \
		--config-file $(CURDIR)/samconfig.toml --parameter-overrides Architecture=$(ARCH)

clean:
	cargo clean
	rm -rf $(VENV) .demo .aws-sam
