# Entry points named in README.md. Each one installs what it needs first.

CARGO ?= cargo

.PHONY: deps demo test lint bench

deps:
	scripts/install-deps

# The main job on real mail: scan the SpamAssassin corpus as a Maildir.
demo: deps
	$(CARGO) build --release --bins
	scripts/demo

lint:
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

# Every test: formatting, lints, unit and integration tests.
test: deps lint
	$(CARGO) test --workspace --release

# Benchmarks: not run in CI.
bench: deps
	$(CARGO) build --release --bins
	scripts/bench-mddiff
