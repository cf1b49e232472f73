"""Type-checker view of `@record` (records.py builds the class at run time, without `typing`).

`dataclass_transform` tells mypy/pyright that a decorated class gets an `__init__` from its
annotated fields, in order, with the class-level values as defaults, and that instances are
frozen. The tuple methods (`_replace`, ...) are declared on `Record`: a record class that calls
them derives from it (`class ServiceConfig(Record)`), which the decorator keeps as a base. typing_extensions is read by the checker only: this file is never
imported, so running on Python 3.9 costs nothing.
"""

from typing import Any, TypeVar

from typing_extensions import Self, dataclass_transform

_T = TypeVar("_T")

class Record:
    """The `collections.namedtuple` methods every record has; derive from it to call them."""

    __slots__ = ()

    _fields: tuple[str, ...]
    def _replace(self, **changes: Any) -> Self: ...
    def _asdict(self) -> dict[str, Any]: ...

@dataclass_transform(frozen_default=True)
def record(cls: type[_T]) -> type[_T]: ...
