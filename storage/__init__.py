"""The case store: SQL models, migrations and async data functions. No Bot Framework imports here."""
