# Entry points named in README.md. Each one installs what it needs first.

CARGO ?= cargo

.PHONY: deps demo test lint checks bench

deps:
	scripts/install-deps

# The main job on real mail: smd-pull and smd-push on the SpamAssassin
# corpus between two temporary mailboxes.
demo: deps
	$(CARGO) build --release -p smd-engine --bins
	scripts/demo

lint:
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

# Validators for data/ (desktop files, metainfo, schema, man pages, units),
# the translations and the Flatpak sources.
checks:
	scripts/check-data
	scripts/check-po
	scripts/check-flatpak

# Every test: formatting, lints, the checks above, unit and integration
# tests, and the applet's UI test (it runs itself under Xvfb with a
# private D-Bus session).
test: deps lint checks
	$(CARGO) test --workspace --release

# Benchmarks: not run in CI.
bench: deps
	$(CARGO) build --release -p smd-engine --bins
	scripts/bench-mddiff
	scripts/bench-sync
