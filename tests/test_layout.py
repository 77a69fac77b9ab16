"""The package's layout, read from its source (no Spark): imports run one way, and no module
outside a stage's own reaches into the stage's underscore names."""

import ast
import os

import pytest
from pyspark.ml import Model

from spark_recs import IdIndexerModel
from spark_recs.indexer import _IdIndexerParams

ROOT = os.path.join(os.path.dirname(__file__), os.pardir)
PACKAGE = os.path.join(ROOT, "spark_recs")


def _modules():
    """{module name: path} of every module of the package, subpackages included."""
    found = {}
    for dirpath, _, files in os.walk(PACKAGE):
        for f in files:
            if f.endswith(".py"):
                name = os.path.relpath(os.path.join(dirpath, f), ROOT)[:-3].replace(os.sep, ".")
                found[name[: -len(".__init__")] if name.endswith(".__init__") else name] = os.path.join(dirpath, f)
    return found


def import_graph():
    """{module: the package's modules it imports}, from the source, function-level imports too.

    ``from spark_recs import X`` counts as importing module ``spark_recs.X`` when there is one,
    else the package itself (whose ``__init__`` imports every stage)."""
    modules = _modules()
    graph = {}
    for mod, path in modules.items():
        package = mod if path.endswith("__init__.py") else mod.rpartition(".")[0]
        deps = set()
        with open(path) as fh:
            tree = ast.parse(fh.read(), path)
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                named = [a.name for a in node.names if a.name.startswith("spark_recs")]
                deps |= {name if name in modules else "spark_recs" for name in named}
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = package.split(".")
                    base = ".".join(parts[: len(parts) - node.level + 1] + ([node.module] if node.module else []))
                if base.startswith("spark_recs"):
                    deps |= {f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names}
        deps.discard(mod)
        graph[mod] = deps
    return graph


def _cycle(graph):
    """One import cycle as a list of modules, or None."""
    state, path = {}, []

    def visit(v):
        state[v] = "open"
        path.append(v)
        for w in sorted(graph.get(v, ())):
            if state.get(w) == "open":
                return path[path.index(w):] + [w]
            if w not in state:
                found = visit(w)
                if found:
                    return found
        state[v] = "done"
        path.pop()
        return None

    for v in sorted(graph):
        if v not in state:
            found = visit(v)
            if found:
                return found
    return None


def test_imports_run_one_way():
    graph = import_graph()
    assert _cycle(graph) is None
    # the command line sits on top: only the package's entry point imports it
    assert sorted(m for m, deps in graph.items() if "spark_recs.cli" in deps) == ["spark_recs.__main__"]
    assert "spark_recs.demo" in graph["spark_recs.cli"] and "spark_recs.workflow" in graph["spark_recs.demo"]
    assert not graph["spark_recs.workflow"] & {"spark_recs.cli", "spark_recs.demo", "spark_recs.comparison"}


def test_cycle_finder_finds_a_cycle():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


def _indexer_private_names():
    """IdIndexerModel's own underscore names (not those of pyspark's base classes, such as
    ``_transform``, which every stage has)."""
    names = {"_vocabularies", "_sizes", "_bytes"}  # set in __init__
    for cls in (IdIndexerModel, _IdIndexerParams):
        names |= {n for n in vars(cls) if n.startswith("_") and not n.startswith("__") and not hasattr(Model, n)}
    return names


@pytest.mark.parametrize("folder", ["spark_recs", "tests", "examples", "benchmarks"])
def test_no_reach_into_id_indexer_model_underscore_names(folder):
    names = _indexer_private_names()
    assert {"_columnPairs", "_vocabularies", "_checkModel"} <= names
    hits = []
    for dirpath, _, files in os.walk(os.path.join(ROOT, folder)):
        for f in files:
            path = os.path.join(dirpath, f)
            if not f.endswith(".py") or os.path.samefile(path, os.path.join(PACKAGE, "indexer.py")):
                continue
            with open(path) as fh:
                tree = ast.parse(fh.read(), path)
            for node in ast.walk(tree):
                if (isinstance(node, ast.Attribute) and node.attr in names
                        and not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"))):
                    hits.append(f"{os.path.relpath(path, ROOT)}:{node.lineno} .{node.attr}")
    assert hits == []
