"""`@record` gives what typing.NamedTuple gave the config and result classes."""

from __future__ import annotations

import pickle

import pytest

from faassupervisor.config.service import ProviderRef
from faassupervisor.records import Record, record


@record
class Point:
    """A point."""

    x: int
    y: int = 0

    @property
    def norm1(self) -> int:
        return abs(self.x) + abs(self.y)


def test_fields_defaults_methods_and_docstring_are_kept():
    point = Point(3)
    assert point == Point(3, 0) and point.x == 3 and point.y == 0 and point != Point(3, 1)
    assert point.norm1 == 3 and Point.__doc__ == "A point."
    assert repr(Point(1, 2)) == "Point(x=1, y=2)"


def test_records_are_immutable_and_replace_keeps_the_class():
    point = Point(1, 2)
    with pytest.raises(AttributeError):
        point.x = 5
    with pytest.raises(AttributeError):
        point.extra = 1  # no instance dict
    moved = point._replace(y=7)
    assert type(moved) is Point and moved == Point(1, 7) and point == Point(1, 2)


def test_a_field_without_default_after_one_with_default_is_refused():
    with pytest.raises(TypeError, match="Bad.b: a field without a default"):
        @record
        class Bad:
            a: int = 1
            b: int


def test_module_level_records_pickle():
    ref = ProviderRef("minio", "store")
    assert pickle.loads(pickle.dumps(ref)) == ref and str(ref) == "minio.store"


@record
class Moved(Record):
    """A record that calls `_replace`, so its type declares the tuple methods through Record."""

    x: int
    y: int = 0


def test_a_record_deriving_from_record_keeps_it_as_a_base_and_stays_a_slotted_tuple():
    moved = Moved(1)._replace(y=4)
    assert isinstance(moved, Record) and isinstance(moved, tuple) and moved == Moved(1, 4)
    with pytest.raises(AttributeError):
        moved.extra = 1  # Record adds no instance dict either
    assert pickle.loads(pickle.dumps(moved)) == moved
