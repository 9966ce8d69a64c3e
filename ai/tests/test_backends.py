"""The one backend loader: a short name or a dotted path in, a class out, or an error naming the setting."""

from __future__ import annotations

import pytest
from django.core.checks import ERROR
from django.core.exceptions import ImproperlyConfigured

from ai.backends import check_backend, load_backend
from ai.engines.rules import RulesEngine

SHORT = {"rules": "ai.engines.rules.RulesEngine"}


def test_a_short_name_and_its_dotted_path_load_the_same_class():
    assert load_backend("ENGINE", "rules", SHORT) is RulesEngine
    assert load_backend("ENGINE", "ai.engines.rules.RulesEngine", SHORT) is RulesEngine


@pytest.mark.parametrize("value", ["rulez", "", None, "ai engines"])
def test_an_unknown_short_name_names_the_setting_the_value_and_the_known_names(value):
    with pytest.raises(ImproperlyConfigured) as caught:
        load_backend("ENGINE", value, SHORT)
    assert str(caught.value).startswith(f"ENGINE={value!r} is not one of rules or a dotted path")


def test_a_dotted_path_that_does_not_import_names_the_setting_and_the_value():
    with pytest.raises(
        ImproperlyConfigured, match=r"^ENGINE='ai\.engines\.nowhere\.Engine' cannot be imported"
    ):
        load_backend("ENGINE", "ai.engines.nowhere.Engine", SHORT)


def test_the_check_is_an_error_with_a_hint_listing_what_would_do():
    [error] = check_backend("ENGINE", "rulez", id="test.E001", short_names=SHORT, example="a.b.C")

    assert (error.level, error.id) == (ERROR, "test.E001")
    assert "ENGINE='rulez'" in error.msg
    assert error.hint == "Set ENGINE to rules or a dotted path such as a.b.C."
    assert check_backend("ENGINE", "rules", id="test.E001", short_names=SHORT) == []


def test_a_backend_not_in_use_is_checked_by_its_module_without_importing_it(tmp_path, monkeypatch):
    (tmp_path / "heavy_sdk_engine.py").write_text("raise RuntimeError('imported')\n")
    monkeypatch.syspath_prepend(str(tmp_path))

    assert check_backend("ENGINE", "heavy_sdk_engine.Engine", id="test.E001", in_use=False) == []

    [error] = check_backend("ENGINE", "ai.nowhere.Engine", id="test.E001", in_use=False)
    assert "ENGINE='ai.nowhere.Engine' cannot be imported" in error.msg
