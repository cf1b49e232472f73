"""`@record`: an immutable record class built from annotated fields, without importing `typing`.

The supervisor's records (config, settings, decoded body, script result) were
`typing.NamedTuple`s. Importing `typing` and building its classes is about 4 ms
of the start-up every request pays, so this makes the same thing from the
class statement: a `collections.namedtuple` subclass with the class's
defaults, methods, properties and docstring. Field annotations, plain strings
under `from __future__ import annotations`, are kept for readers and type
checkers and never evaluated; records.pyi tells type checkers what the decorator
builds (`typing.dataclass_transform`).
"""

import collections


class Record:
    """Base for a `@record` class whose code calls the tuple's own methods (`_replace`).

    The decorator keeps it among the built class's bases; it adds nothing at run time, but
    records.pyi declares those methods on it, so type checkers accept `config._replace(...)`.
    """

    __slots__ = ()


def record(cls: type) -> type:
    """`@record class Point: x: int; y: int = 0` → an immutable `Point(x, y=0)` tuple class."""
    # getattr, not __dict__: Python 3.14 computes a class's annotations on first access
    fields = tuple(getattr(cls, "__annotations__", {}))
    defaults = []
    for name in fields:
        if name in cls.__dict__:
            defaults.append(cls.__dict__[name])
        elif defaults:
            raise TypeError(f"{cls.__qualname__}.{name}: a field without a default follows one with a default")
    base = collections.namedtuple(cls.__name__, fields, defaults=defaults, module=cls.__module__)
    namespace = {
        key: value
        for key, value in cls.__dict__.items()
        if key not in fields and key not in ("__dict__", "__weakref__", "__annotate__")
    }
    namespace["__slots__"] = ()  # no per-instance dict: immutable like the tuple it is
    bases = (base,) + tuple(parent for parent in cls.__bases__ if parent is not object)
    built = type(cls.__name__, bases, namespace)
    built.__qualname__ = cls.__qualname__
    return built
