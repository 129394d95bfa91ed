"""All behaviour of telecbt: store, keys, schema, services. Imports no UI library."""
