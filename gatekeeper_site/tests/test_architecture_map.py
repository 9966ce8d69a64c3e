"""The map in the repo stays true: what docs/architecture.md and the README cite exists, and every module has a line.

docs/architecture.md says where each concern lives and which test proves each invariant; a
renamed module or test must take its line along, and a new module must get one.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ARCHITECTURE = ROOT / "docs" / "architecture.md"
README = ROOT / "README.md"
APPS = ("ai", "channels_app", "conversations")
TOP = "|".join(
    ("ai", "bench", "channels_app", "conversations", "deploy", "docs", "gatekeeper_site", "templates")
)
#: A path into the repo, optionally `::test_name`; `<provider>` stands for any one directory.
CITED = re.compile(rf"(?<![\w/.-])((?:{TOP})/[\w.*<>/-]*)(?:::(\w+))?")


def citations(path: Path) -> list[tuple[str, str]]:
    found = CITED.findall(path.read_text(encoding="utf-8"))
    return sorted({(cited.rstrip("."), test) for cited, test in found})


def exists(cited: str) -> bool:
    return any(ROOT.glob(re.sub(r"<\w+>", "*", cited))) or (ROOT / cited).exists()


def defines(path: Path, name: str) -> bool:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return any(
        isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == name for node in tree.body
    )


@pytest.mark.parametrize("document", [ARCHITECTURE, README], ids=["architecture", "readme"])
def test_every_path_the_document_cites_exists(document):
    cited = citations(document)
    assert len(cited) > 10  # the scan finds them
    assert [path for path, _ in cited if not exists(path)] == []


def test_every_test_cited_for_an_invariant_is_defined_in_its_file():
    cited = [(path, test) for path, test in citations(ARCHITECTURE) if test]
    assert len(cited) >= 8
    assert [f"{path}::{test}" for path, test in cited if not defines(ROOT / path, test)] == []


def test_each_invariant_names_at_least_one_test():
    proofs = ARCHITECTURE.read_text(encoding="utf-8").split("### What proves each invariant", 1)[1]
    items = re.split(r"^(\d)\. ", proofs.split("\n#", 1)[0], flags=re.MULTILINE)[1:]
    numbered = dict(zip(items[::2], items[1::2], strict=True))
    assert sorted(numbered) == [str(n) for n in range(1, 9)]
    assert [n for n, text in numbered.items() if "::test_" not in text] == []


def test_every_module_of_the_apps_has_a_line_in_where_each_concern_lives():
    section = ARCHITECTURE.read_text(encoding="utf-8").split("## Where each concern lives", 1)[1]
    section = section.split("\n## ", 1)[0]
    modules = [
        path.relative_to(ROOT).as_posix()
        for app in APPS
        for path in sorted((ROOT / app).rglob("*.py"))
        if not {"tests", "migrations", "fixtures"} & set(path.parts)
        and path.name not in ("__init__.py", "apps.py")
    ]
    assert len(modules) > 50
    assert [module for module in modules if f"`{module}`" not in section] == []


def test_the_readme_map_names_the_gate_the_normalized_form_and_delivery_receipts():
    readme = README.read_text(encoding="utf-8")
    diagram = readme.split("## How it works", 1)[1].split("```", 2)[1]
    for step in (
        "channels_app/webhooks.py",
        "conversations/inbound.py",
        "conversations/receipts.py",
        "receipts",
    ):
        assert step in diagram
