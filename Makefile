# 有需必应 — developer commands. Everything runs inside .venv, which `make venv` creates and keeps
# in step with requirements*.txt (a stamp file records the last install).

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.requirements.stamp
FLASK := $(BIN)/flask --app wsgi
HOST ?= 127.0.0.1
PORT ?= 5000
PG_TEST_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test

.PHONY: help venv run test test-pg lint bench clean distclean lock wheelhouse

help:
	@echo "make venv     创建/更新虚拟环境 .venv（依赖文件变化时才重新安装）"
	@echo "make run      升级数据库、载入基础与演示数据，启动开发服务器 http://$(HOST):$(PORT)/"
	@echo "make test     运行全部测试（SQLite）"
	@echo "make test-pg  运行全部测试（PostgreSQL：$(PG_TEST_URL)）"
	@echo "make lint     ruff 代码检查"
	@echo "make bench    运行基准测试 bench/run.py"
	@echo "make lock     由 requirements.txt 重新生成带哈希的锁文件 deploy/requirements.lock"
	@echo "make wheelhouse  下载锁文件中全部软件包的 wheel 到 wheelhouse/（供无外网的内网服务器离线安装）"
	@echo "make clean    删除缓存与测试产物；make distclean 另删除 .venv"

venv: $(STAMP)

$(STAMP): requirements.txt requirements-dev.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@touch $@

# The demo logins are printed by `seed --demo` (on every run, also when the demo already exists).
run: venv
	$(FLASK) db upgrade
	$(FLASK) seed --demo
	@echo
	@echo "开发服务器：http://$(HOST):$(PORT)/  （Ctrl-C 停止）"
	$(FLASK) devserver --host $(HOST) --port $(PORT)

test: venv
	$(BIN)/python -m pytest -q

test-pg: venv
	DATABASE_URL=$(PG_TEST_URL) $(BIN)/python -m pytest -q

lint: venv
	$(BIN)/ruff check .

bench: venv
	@test -f bench/run.py || { echo "bench/run.py 不存在：尚未编写基准测试" >&2; exit 1; }
	$(BIN)/python bench/run.py

# Every transitive runtime package, pinned with hashes (pip-tools, from requirements-dev.txt).
lock: venv
	$(BIN)/pip-compile --quiet --generate-hashes --strip-extras --allow-unsafe --no-emit-index-url \
		--output-file deploy/requirements.lock requirements.txt

# Offline intranet install: copy wheelhouse/ and the repository to the server, then
#   python3 -m venv .venv && .venv/bin/pip install --no-index --find-links wheelhouse --require-hashes -r deploy/requirements.lock
wheelhouse: venv
	$(BIN)/pip wheel --require-hashes --wheel-dir wheelhouse -r deploy/requirements.lock
	@echo "wheelhouse/ 已就绪：$$(ls wheelhouse | wc -l) 个 wheel"

clean:
	find . -path ./$(VENV) -prune -o -type d -name __pycache__ -exec rm -rf {} +
	rm -rf .pytest_cache .ruff_cache test-artifacts

distclean: clean
	rm -rf $(VENV)
