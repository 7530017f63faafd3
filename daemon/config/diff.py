"""What a reload changed: the config sections whose values differ."""

from __future__ import annotations

from daemon.config.root import Config


def changed_sections(old: Config, new: Config) -> set[str]:
    """Top-level keys (and ``sources.NAME`` / ``processors.NAME``) whose values differ."""
    changed: set[str] = set()
    for field in Config.model_fields:
        a, b = getattr(old, field), getattr(new, field)
        if field in ("sources", "processors"):
            for name in set(a) | set(b):
                if a.get(name) != b.get(name):
                    changed.add(f"{field}.{name}")
        elif a != b:
            changed.add(field)
    return changed
