"""The vault: database, schema, key slots, crypto, unlock, sessions, roles, users, audit, records and change log, ids, clock, paths, files, errors, safe text. Imports nothing else of telecbt."""
