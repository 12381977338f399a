"""Adaptive Card builders: pure functions returning card JSON. No Bot Framework imports here."""
