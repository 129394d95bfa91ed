"""Clinical content as data (modules, questionnaires, locales) and its loader."""
