"""Engines: one CatBoost model per feature family, each declared in its own module.

Adding an engine is adding one file here that defines ``ENGINE = Engine(...)``; the registry
below finds it (modules are loaded in name order, so the order is stable).
"""

import importlib
import pkgutil

from huracan_assets.core.engines.base import Engine


def _discover() -> tuple[Engine, ...]:
    found = []
    for module in sorted(m.name for m in pkgutil.iter_modules(__path__)):
        if module == "base":
            continue
        engine = getattr(importlib.import_module(f"{__name__}.{module}"), "ENGINE", None)
        if isinstance(engine, Engine):
            found.append(engine)
    names = [e.name for e in found]
    if len(set(names)) != len(names):
        raise ValueError(f"duplicate engine names: {names}")
    return tuple(found)


ENGINES: tuple[Engine, ...] = _discover()


def engine_by_name(name: str, engines: tuple[Engine, ...] = ENGINES) -> Engine:
    for engine in engines:
        if engine.name == name:
            return engine
    raise KeyError(f"unknown engine {name!r}; known: {[e.name for e in engines]}")


__all__ = ["ENGINES", "Engine", "engine_by_name"]
