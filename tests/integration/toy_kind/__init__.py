"""A toy source kind, written as a newcomer adds one: a folder with ``config.py`` and
``source.py``; ``tests/integration/test_toy_kind.py`` adds the one registry line."""
