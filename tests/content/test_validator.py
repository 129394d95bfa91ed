"""Content files: the built-in course is valid and complete; malformed files are named precisely."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from telecbt_cli.content import catalog as cat
from telecbt_cli.content.languages import LANGS
from telecbt_cli.core.store.errors import ContentError

GOOD_MODULE = '''
id = "local-01"
version = "0.1.0"
kind = "module"
title = { en = "Local", es = "Local" }
summary = { en = "A clinic module.", es = "Un módulo de la clínica." }
phase = "skills"
minutes = 20
goals = [{ en = "Practise", es = "Practicar" }]
homework = [{ id = "hw", text = { en = "Walk", es = "Caminar" } }]
fidelity = [{ id = "f1", text = { en = "Did it", es = "Lo hizo" } }]

[[steps]]
id = "pain"
kind = "scale"
prompt = { en = "Pain now?", es = "¿Dolor ahora?" }

[[steps]]
id = "extra"
kind = "info"
body = { en = "[bold]Take care[/bold] \\u001b[31m", es = "Cuídese" }
show_if = { step = "pain", op = "gte", value = 7 }
'''


def clinic_folder(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "clinic"
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def content_problems(root: Path) -> list[str]:
    _, problems = cat.build([cat.BUILTIN_DIR, root])
    return [str(p) for p in problems]


def test_built_in_content_is_valid():
    built, problems = cat.build([cat.BUILTIN_DIR])
    assert problems == []
    assert len(built.entries["module"]) >= 18
    assert built.get("course", "standard")["sessions"] == [f"cbt-{n:02d}" for n in range(1, 13)]
    assert len(built.get("course", "brief")["sessions"]) == 6
    assert all(built.get("module", m)["minutes"] == 30 for m in built.get("course", "brief")["sessions"])


def test_both_locales_hold_the_same_strings():
    built, _ = cat.build([cat.BUILTIN_DIR])
    assert set(LANGS) == {"en", "es"}
    assert set(built.locales["en"]) == set(built.locales["es"])
    for key in built.locales["en"]:
        assert built.locales["es"][key].strip(), key


def test_every_text_in_every_file_exists_in_both_languages():
    def walk(value, where):
        if isinstance(value, dict):
            if set(value) & set(LANGS):
                assert set(value) == set(LANGS), where
                assert all(isinstance(v, str) and v.strip() for v in value.values()), where
            for key, inner in value.items():
                walk(inner, f"{where}.{key}")
        elif isinstance(value, list):
            for i, inner in enumerate(value):
                walk(inner, f"{where}[{i}]")

    for path in cat.BUILTIN_DIR.glob("*/*.toml"):
        if path.parent.name != "locales":
            walk(tomllib.loads(path.read_text(encoding="utf-8")), path.name)


def test_each_module_has_goals_education_exercise_homework_and_fidelity():
    built, _ = cat.build([cat.BUILTIN_DIR])
    for module in built.all("module"):
        kinds = {s["kind"] for s in module["steps"]}
        assert module["goals"] and module["homework"] and module["fidelity"], module["id"]
        assert "info" in kinds, module["id"]
        assert kinds - {"info"}, module["id"]


def test_a_good_clinic_module_is_added(tmp_path):
    root = clinic_folder(tmp_path, {"modules/local-01.toml": GOOD_MODULE})
    assert content_problems(root) == []


@pytest.mark.parametrize("change,expected", [
    (lambda t: t.replace('minutes = 20\n', ''), "minutes: is missing"),
    (lambda t: t.replace('minutes = 20', 'minutes = "twenty"'), "minutes: must be a whole number"),
    (lambda t: t.replace('kind = "scale"', 'kind = "dance"'), "unknown step kind 'dance'"),
    (lambda t: t.replace('step = "pain"', 'step = "nowhere"'), "points to 'nowhere', which is not a step"),
    (lambda t: t.replace('es = "¿Dolor ahora?"', 'fr = "Douleur?"'), "prompt.es: is missing"),
    (lambda t: t.replace('id = "extra"', 'id = "pain"'), "duplicate step id 'pain'"),
    (lambda t: t.replace('id = "local-01"', 'id = "cbt-01"'), "must match"),
    (lambda t: t.replace('phase = "skills"', 'phase = "later"'), "phase: must be one of"),
    (lambda t: t.replace('prompt = {', 'promt = {'), "promt: is not a known key"),
    (lambda t: t + '\n[[steps]]\nid = "x"\nkind = "choice"\nprompt = { en = "a", es = "b" }\noptions = []\n',
     "options: must be a non-empty list"),
])
def test_malformed_module_is_reported_with_file_and_key(tmp_path, change, expected):
    root = clinic_folder(tmp_path, {"modules/local-01.toml": change(GOOD_MODULE)})
    problems = content_problems(root)
    assert any(expected in p and "local-01.toml" in p for p in problems), problems


def test_show_if_pointing_forward_is_reported_as_a_cycle(tmp_path):
    text = GOOD_MODULE + '\n[[steps]]\nid = "late"\nkind = "scale"\nprompt = { en = "a", es = "b" }\n'
    text = text.replace('show_if = { step = "pain"', 'show_if = { step = "late"')
    problems = content_problems(clinic_folder(tmp_path, {"modules/local-01.toml": text}))
    assert any("not before this step" in p and "cycle" in p for p in problems), problems


def test_duplicate_id_across_folders(tmp_path):
    built_in = (cat.BUILTIN_DIR / "modules" / "cbt-01.toml").read_text(encoding="utf-8")
    problems = content_problems(clinic_folder(tmp_path, {"modules/cbt-01.toml": built_in}))
    assert any("duplicate module id 'cbt-01'" in p for p in problems), problems


def test_invalid_toml_names_the_file(tmp_path):
    problems = content_problems(clinic_folder(tmp_path, {"modules/broken.toml": "id = \n"}))
    assert any("broken.toml" in p and "not valid TOML" in p for p in problems)


def test_a_locale_missing_a_string(tmp_path):
    es = (cat.BUILTIN_DIR / "locales" / "es.toml").read_text(encoding="utf-8")
    es = es.replace('press_enter = "Presione Enter para continuar."\n', "")
    es = es.replace('yes = "Sí"', 'yes = "Sí"\nmaybe = "Quizás"')
    problems = content_problems(clinic_folder(tmp_path, {"locales/es.toml": es}))
    assert any("common.press_enter: is missing" in p for p in problems), problems
    assert any("common.maybe: is extra" in p for p in problems), problems


def test_band_gaps_and_course_references(tmp_path):
    phq9 = (cat.BUILTIN_DIR / "instruments" / "phq9.toml").read_text(encoding="utf-8")
    gap = phq9.replace("phq9", "phq9-copy").replace("min = 5\n", "min = 6\n", 1)
    course = ('id = "mine"\nversion = "1"\nkind = "course"\nminutes_per_session = 30\n'
              'title = { en = "a", es = "b" }\nsummary = { en = "a", es = "b" }\nsessions = ["cbt-01", "cbt-99"]\n')
    problems = content_problems(clinic_folder(tmp_path, {"instruments/phq9-copy.toml": gap, "courses/mine.toml": course}))
    assert any("phq9-copy.toml" in p and "without gaps" in p for p in problems), problems
    assert any("mine.toml: sessions[1]: names no module 'cbt-99'" in p for p in problems), problems


def test_load_raises_a_clear_error_and_validate_lists_everything(tmp_path):
    root = clinic_folder(tmp_path, {"modules/local-01.toml": GOOD_MODULE.replace('kind = "scale"', 'kind = "dance"')})
    with pytest.raises(ContentError, match="local-01.toml: steps\\[0\\] \\(pain\\).kind"):
        cat.load([root])


def test_the_cache_is_used_and_rebuilt_after_an_edit(tmp_path):
    root = clinic_folder(tmp_path, {"modules/local-01.toml": GOOD_MODULE})
    first = cat.load([root])
    assert "local-01" in first.entries["module"]
    assert list((cat._cache_dir()).glob("*.json"))
    path = root / "modules" / "local-01.toml"
    path.write_text(GOOD_MODULE.replace("minutes = 20", "minutes = 25"), encoding="utf-8")
    import os

    os.utime(path, ns=(1, 1))
    assert cat.load([root]).get("module", "local-01")["minutes"] == 25


def test_module_safety_rules_are_checked(tmp_path):
    """Issue 11.1: modules may carry [[safety]] rules on their own steps; mistakes are named."""
    from tests.clinic import CHECKIN_MODULE

    assert content_problems(clinic_folder(tmp_path, {"modules/clinic-checkin.toml": CHECKIN_MODULE})) == []
    broken = CHECKIN_MODULE.replace('step = "harm-thoughts"', 'step = "nowhere"').replace('id = "clinic-harm"',
                                                                                        'id = "Bad Id"')
    problems = content_problems(clinic_folder(tmp_path / "b", {"modules/clinic-checkin.toml": broken}))
    assert any("safety[0].id" in p for p in problems)
    assert any("safety[0].when.step" in p and "nowhere" in p for p in problems)


@pytest.mark.parametrize("kinds, english, spanish", [
    (str, "must be text", "debe ser texto"),
    ((int, float), "must be a whole number or a number", None),
    ((str, int, float), "must be text, a whole number or a number", None),
])
def test_a_wrong_type_is_named_in_the_readers_language_with_its_or(kinds, english, spanish):
    """A field accepting several types lists them joined by the reader's own "or" (never an English
    " or " inside a Spanish sentence)."""
    from telecbt_cli.content.catalog import load_for_ui
    from telecbt_cli.content.validate import Checker

    checker = Checker("mine.toml")
    assert checker.typed({"minutes": [1]}, "minutes", "steps[0]", kinds) is None
    [problem] = checker.problems
    assert problem.message == english
    ui = load_for_ui([])
    said = ui.phrase(problem.key, "es", problem.values)
    assert " or " not in said and "must" not in said
    if spanish:
        assert said == spanish
    else:
        assert said.count(" o ") == 1 and said.startswith("debe ser ")
    assert ui.phrase(problem.key, "en", problem.values) == english
