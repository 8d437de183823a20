# The two commands of the README's quick start are `make run` and `make test`.
# Each creates .venv when missing and (re)installs only when pyproject.toml changed,
# so running them again is fast.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
APP_STAMP := $(VENV)/.segstudio-app-installed
TEST_STAMP := $(VENV)/.segstudio-test-installed
PYTEST_ARGS ?=

.PHONY: run test demo bench screenshots package wheel lint clean

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else "SegStudio needs Python 3.10 or newer; set PYTHON=python3.x")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(APP_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -e .
	touch $@

$(TEST_STAMP): pyproject.toml $(APP_STAMP)
	$(BIN)/python -m pip install -e '.[test]'
	touch $@

## run: install (first time only), check that Qt can open a window here, and open the app on the bundled demo project
run: $(APP_STAMP)
	@$(BIN)/python packaging/tools/check_qt_libs.py
	$(BIN)/segstudio demo

## test: install with the test extra (first time only) and run the whole suite offscreen
test: $(TEST_STAMP)
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest $(PYTEST_ARGS)

## screenshots: run the real app on the demo and rewrite resources/screenshots/*.png (look at them!)
screenshots: $(APP_STAMP)
	QT_QPA_PLATFORM=offscreen $(BIN)/python packaging/tools/screenshots.py

## package: wheel + sdist, and a one-folder app in dist/SegStudio (PyInstaller; see packaging/README.md)
package: $(APP_STAMP)
	$(BIN)/python -m pip install --quiet build pyinstaller
	$(BIN)/python -m build --outdir dist
	$(BIN)/pyinstaller --noconfirm --distpath dist --workpath build/pyinstaller packaging/segstudio.spec

lint: $(TEST_STAMP)
	$(BIN)/lint-imports

clean:
	rm -rf build dist .pytest_cache .hypothesis
