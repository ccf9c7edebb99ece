"""Heard's composition root: configuration, the Flask app factory and the `heard` CLI.

Nothing else imports this package; it wires the others together.
"""
