"""A clinic's own content folder for tests: crisis contacts, a module with a safety rule, a kiosk exercise.

The crisis text carries markers no built-in text has, so a test can tell the clinic's words from the
built-in fallback in either language.
"""

from __future__ import annotations

from pathlib import Path

PHONE = "0800 555 0199"
CRISIS = {
    "en": f"HOPE CLINIC: call us on {PHONE}, day or night.",
    "es": f"CLÍNICA ESPERANZA: llámenos al {PHONE}, de día o de noche.",
}
#: The built-in guidance, shown when the clinic set no crisis text (first words of safety.crisis_body).
BUILT_IN = {"en": "Please talk to someone now", "es": "Por favor hable con alguien ahora"}
MODULE_TITLE = {"en": "Clinic check-in", "es": "Control de la clínica"}
EXERCISE_TITLE = {"en": "Clinic stretch", "es": "Estiramiento de la clínica"}

PROGRAM = f'''
[crisis]
phone = "{PHONE}"
text = {{ en = "{CRISIS["en"]}", es = "{CRISIS["es"]}" }}
'''

CHECKIN_MODULE = f'''
id = "clinic-checkin"
version = "1.0.0"
kind = "module"
title = {{ en = "{MODULE_TITLE["en"]}", es = "{MODULE_TITLE["es"]}" }}
summary = {{ en = "A short check on how you are.", es = "Un control corto de cómo está." }}
phase = "skills"
minutes = 10
goals = [{{ en = "Check mood and safety", es = "Revisar el ánimo y la seguridad" }}]
homework = [{{ id = "hw", text = {{ en = "Rest well", es = "Descanse bien" }} }}]
fidelity = [{{ id = "f1", text = {{ en = "Asked every question", es = "Hizo todas las preguntas" }} }}]

[[steps]]
id = "harm-thoughts"
kind = "choice"
prompt = {{ en = "Any thoughts of hurting yourself this week?", es = "¿Pensó en hacerse daño esta semana?" }}
options = [
  {{ value = "no", label = {{ en = "No", es = "No" }} }},
  {{ value = "yes", label = {{ en = "Yes", es = "Sí" }} }},
]

[[safety]]
id = "clinic-harm"
when = {{ step = "harm-thoughts", op = "eq", value = "yes" }}
'''

EXERCISE_MODULE = f'''
id = "clinic-stretch"
version = "1.0.0"
kind = "module"
title = {{ en = "{EXERCISE_TITLE["en"]}", es = "{EXERCISE_TITLE["es"]}" }}
summary = {{ en = "Stretch gently.", es = "Estírese con suavidad." }}
phase = "practice"
minutes = 5
goals = [{{ en = "Move gently", es = "Moverse con suavidad" }}]
homework = [{{ id = "hw", text = {{ en = "Stretch again", es = "Estírese otra vez" }} }}]
fidelity = [{{ id = "f1", text = {{ en = "Stretched", es = "Se estiró" }} }}]

[[steps]]
id = "stretch"
kind = "info"
body = {{ en = "Stretch your arms slowly.", es = "Estire los brazos despacio." }}
'''


def write_clinic(root: Path, crisis: bool = True) -> Path:
    """The clinic folder under `root`: two modules, and program.toml when `crisis`."""
    files = {"modules/clinic-checkin.toml": CHECKIN_MODULE, "modules/clinic-stretch.toml": EXERCISE_MODULE}
    if crisis:
        files["program.toml"] = PROGRAM
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root
