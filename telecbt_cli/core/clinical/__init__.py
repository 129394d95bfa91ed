"""The clinical record: patients and consent, answers, scoring, the step engine, measures over time, safety alerts, suggestions. Imports `core.store` and `content`."""
