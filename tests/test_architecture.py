"""The house holds: layers, no import cycles, services grouped by domain (see tests/architecture.py)."""

from __future__ import annotations

import ast
import textwrap
from pathlib import Path

import pytest

from tests.architecture import cycles, import_graph, layer_violations

ROOT = Path(__file__).resolve().parent.parent
DOMAINS = ("orders", "messaging", "registry", "grid", "policies", "knowledge", "statistics", "admin", "demo",
           "studio")
MAX_SHARED_SERVICE_MODULES = 12


def write_tree(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    return root


# --- The checker itself, on a small tree with one of each violation --------------------------------
@pytest.fixture
def bad_tree(tmp_path) -> Path:
    return write_tree(tmp_path, {
        "config.py": "",
        "models/__init__.py": "from models.order import Order\n",
        "models/order.py": "from services.orders import operations\n",  # models → services
        "integrations/__init__.py": "",
        "integrations/wecom.py": "def send():\n    from services.kvstore import TokenStore\n",  # lazy, still counts
        "services/__init__.py": "",
        "services/kvstore.py": "",
        "services/orders/__init__.py": "",
        "services/orders/operations.py": "from flask import g\nfrom services.orders import queries\n",
        "services/orders/queries.py": "from services.orders.operations import OpContext\n",  # a cycle
        "services/orders/typing_only.py": (
            "from typing import TYPE_CHECKING\n"
            "if TYPE_CHECKING:\n"
            "    from handlers.console import bp\n"  # annotations only: allowed
            "else:\n"
            "    import json\n"
        ),
        "handlers/__init__.py": "",
        "handlers/console/__init__.py": "from flask import Blueprint\nbp = Blueprint('c', __name__)\nfrom handlers.console import views\n",
        "handlers/console/views.py": "from handlers.console import bp\nfrom services.orders import operations\n",
        "jobs/__init__.py": "",
        "jobs/definitions.py": "from jobs import scheduler\n",
        "jobs/scheduler.py": "from jobs.definitions import JOBS\n",  # a cycle
    })


def test_the_checker_finds_each_kind_of_violation(bad_tree):
    graph = import_graph(bad_tree)
    found = {(v.module, v.imported) for v in layer_violations(graph)}
    assert found == {
        ("models.order", "services.orders.operations"),
        ("integrations.wecom", "services.kvstore"),
        ("services.orders.operations", "flask"),
    }
    assert cycles(graph) == [["jobs.definitions", "jobs.scheduler"],
                             ["services.orders.operations", "services.orders.queries"]]


def test_the_checker_allows_the_blueprint_idiom_and_type_checking_imports(bad_tree):
    graph = import_graph(bad_tree)
    assert "handlers.console.views" in graph["handlers.console"]
    assert all("handlers.console" not in cycle for cycle in cycles(graph))
    assert "handlers.console" not in graph["services.orders.typing_only"]
    assert "json" in graph["services.orders.typing_only"]


def test_the_checker_passes_a_clean_tree(tmp_path):
    graph = import_graph(write_tree(tmp_path, {
        "models/__init__.py": "",
        "integrations/__init__.py": "import models\n",
        "services/__init__.py": "from integrations import base\n",
        "integrations/base.py": "",
        "handlers/__init__.py": "from services import x\n",
        "services/x.py": "from . import y\nfrom .y import thing\n",
        "services/y.py": "",
    }))
    assert layer_violations(graph) == [] and cycles(graph) == []
    assert graph["services.x"] == {"services.y"}


# --- This project ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def project_graph():
    return import_graph(ROOT)


def test_the_layers_hold(project_graph):
    assert [str(v) for v in layer_violations(project_graph)] == []


def test_there_is_no_import_cycle(project_graph):
    assert cycles(project_graph) == []


def test_services_are_grouped_by_domain():
    services = ROOT / "services"
    shared = sorted(p.name for p in services.glob("*.py") if p.name != "__init__.py")
    assert len(shared) <= MAX_SHARED_SERVICE_MODULES, shared
    for domain in DOMAINS:
        init = services / domain / "__init__.py"
        assert init.is_file(), f"services/{domain}/ is not a package"
        docstring = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8")))
        assert docstring and len(docstring) > 80, f"services/{domain}/__init__.py does not say what the domain is"
    folders = sorted(p.name for p in services.iterdir() if p.is_dir() and p.name != "__pycache__")
    assert folders == sorted(DOMAINS)
