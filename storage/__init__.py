"""Persistence: typed models, the engine/session factory, migrations and queries."""
