# tf2java: `make demo` and `make test` set up everything they need on a fresh machine
# (virtualenv, Python packages, Gradle and Maven from apt, TensorFlow Java from Maven Central) and are
# safe to run again.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.tf2java-installed
CLASSPATH_FILE := build/tf2java/classpath.txt
GRADLE := gradle --no-daemon -q

.PHONY: setup demo test java-test golden registry tensorflow-snapshot bench bench-memory bench-java bench-java-memory bench-parity bench-crossing bench-cold bench-export bench-start bench-parity-memory lint clean

setup: $(STAMP) $(CLASSPATH_FILE)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade "pip>=23.1"
	$(BIN)/pip install --quiet -e ".[test]"
	$(BIN)/pip install --quiet --no-deps $$($(BIN)/python -c 'import tomllib; print(" ".join(tomllib.load(open("pyproject.toml", "rb"))["tool"]["tf2java"]["no-deps"]))')
	touch $(STAMP)

$(CLASSPATH_FILE): build.gradle gradle.properties
	command -v gradle >/dev/null || { apt-get update -qq && apt-get install -y -qq gradle >/dev/null; }
	command -v javac >/dev/null || { apt-get update -qq && apt-get install -y -qq openjdk-17-jdk-headless >/dev/null; }
	command -v mvn >/dev/null || { apt-get update -qq && apt-get install -y -qq maven >/dev/null; }
	$(GRADLE) tf2javaClasspath

demo: setup
	$(BIN)/tf2java demo --out demo-out --force

test: setup
	$(BIN)/ruff check exporter tf2java tests benchmarks tools
	$(BIN)/ruff format --check exporter tf2java tests benchmarks tools
	$(BIN)/pytest -q -rs

java-test: setup
	$(BIN)/ruff check exporter tf2java tests benchmarks tools
	$(BIN)/ruff format --check exporter tf2java tests benchmarks tools
	$(BIN)/pytest -q -rs tests/test_java_gradle.py

golden: setup
	$(BIN)/python tools/update_golden.py

# TensorFlow's message descriptors and the ops of its registry that reach outside, from the
# installed TensorFlow (what ops, scan and inspect read without importing it)
tensorflow-snapshot: setup
	$(BIN)/python tools/tensorflow_snapshot.py

# Op registry snapshot of a TensorFlow Java release, from the real runtime: make registry VERSION=1.2.0
registry: setup
	$(BIN)/python tools/registry_snapshot.py $(VERSION)

# Peak resident memory of exporting 1 GiB of weights: make bench-memory [FORMAT=frozen] [MIB=1024]
bench-memory: setup
	$(BIN)/python benchmarks/export_memory.py --mib $(or $(MIB),1024) --format $(or $(FORMAT),both)

# What the generated Java costs over raw TensorFlow Java, demo and image model, batch 1 and 64
bench-java: setup
	$(BIN)/python benchmarks/java_stub.py

# Peak resident memory of a JVM loading a frozen graph: generated class vs raw TensorFlow Java
bench-java-memory: setup
	$(BIN)/python benchmarks/java_memory.py --mib $(or $(MIB),288)

# tf2java parity wall time against its floor (import tensorflow + a JVM with TensorFlow Java)
bench-parity: setup
	$(BIN)/python benchmarks/parity_wall.py

# numpy <-> TensorFlow Java in parity's worker, MB/s against a numpy copy
bench-crossing: setup
	$(BIN)/python benchmarks/crossing.py

# JVM start to first result: generated classes and raw TensorFlow Java, both artifact kinds
bench-cold: setup
	$(BIN)/python benchmarks/cold_start.py

# tf2java export wall time against its floor, per --format (MobileNetV2 .keras)
bench-export: setup
	$(BIN)/python benchmarks/export_wall.py

# Summed peak memory of parity (both processes) on 288 MiB of weights: make bench-parity-memory [MIB=1024]
bench-parity-memory: setup
	$(BIN)/python benchmarks/parity_memory.py --mib $(or $(MIB),288)

# Start-up of the commands that only read files, against python -c "import numpy"
bench-start: setup
	$(BIN)/python benchmarks/cli_start.py

bench: bench-start bench-java bench-java-memory bench-parity-memory bench-parity bench-crossing bench-cold bench-export bench-memory

lint: setup
	$(BIN)/ruff check exporter tf2java tests benchmarks tools
	$(BIN)/ruff format exporter tf2java tests benchmarks tools

clean:
	rm -rf build demo-out .gradle
