"""Test and self-test helpers shipped with the app: random-weight models and sample documents."""
