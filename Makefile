# Front door. `make run` and `make test` work from a fresh clone on a Debian 12 base image.
PRESET ?= release
BUILD_DIR := build/$(PRESET)
CONTEX := $(BUILD_DIR)/src/cli/contex

.PHONY: all bootstrap build run test bench format tidy clean

all: build

bootstrap:
	@scripts/bootstrap

build: bootstrap
	@cmake --preset $(PRESET) >/dev/null
	@cmake --build --preset $(PRESET)

# Serves the embedded default (SQLite under ./data, in-process bus) on port 8001.
run: build
	$(CONTEX) serve

# Unit tests (ctest), then throwaway PostgreSQL + Redis, integration and black-box suites.
test:
	@scripts/test

bench: build
	@scripts/bootstrap --bench
	@scripts/bench

format:
	@scripts/format

tidy:
	@scripts/tidy

clean:
	rm -rf build
