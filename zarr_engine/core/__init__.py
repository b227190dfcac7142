"""Arrays, groups, the chunk engine and the public functions."""

from .api import consolidate_metadata, create_array, create_group, open, open_array, open_group, tree
from .array import Array
from .group import Group

__all__ = [
    "Array",
    "Group",
    "consolidate_metadata",
    "create_array",
    "create_group",
    "open",
    "open_array",
    "open_group",
    "tree",
]
