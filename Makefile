# The two commands a newcomer needs (README.rst): each installs what it needs.
#   make serve   install sonic and run it on port 6379 (foreground)
#   make test    install Redis (reference for parity tests) and the test deps, run the tests
PYTHON ?= python3
PORT ?= 6379

.PHONY: serve test deps test-deps

serve: deps
	twistd -n --pidfile= sonic --port $(PORT)

deps:
	$(PYTHON) -m pip install --quiet .

test-deps:
	@if ! command -v redis-server >/dev/null || ! command -v redis-cli >/dev/null || ! command -v redis-benchmark >/dev/null; then \
		if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq redis-server redis-tools >/dev/null; \
	fi
	$(PYTHON) -m pip install --quiet ".[test]"

test: test-deps
	$(PYTHON) -m pytest -q -p no:cacheprovider tests
