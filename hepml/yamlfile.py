"""YAML that refuses what PyYAML accepts silently: a key written twice in one mapping.

PyYAML keeps the last of two equal keys, so ``met: MET_pt`` followed by ``met: MET_phi`` trains
on MET_phi without a word.  Every YAML file hepml reads (feature specs, the workflow config via
``hepml validate-config``, a bundle's own spec) goes through :func:`load_yaml`.
"""

from __future__ import annotations

import os
from typing import Any

import yaml

from hepml.errors import ConfigError

__all__ = ["load_yaml"]


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader whose mappings refuse duplicate keys, naming the line of the second."""


def _mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    loader.flatten_mapping(node)
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        line = key_node.start_mark.line + 1
        try:
            first = seen.get(key)
        except TypeError:  # an unhashable key: construct_mapping gives PyYAML's own error
            break
        if first is not None:
            raise yaml.constructor.ConstructorError(
                None, None, f"key {key!r} is written twice (lines {first} and {line}); keep one", key_node.start_mark)
        seen[key] = line
    return loader.construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)


def load_yaml(path: str | os.PathLike[str], what: str = "YAML file") -> Any:
    """The content of ``path``; a missing file, invalid YAML or a duplicate key is a one-line
    :class:`ConfigError` naming the file (and the line)."""
    try:
        with open(path) as handle:
            return yaml.load(handle, Loader=_StrictLoader)  # noqa: S506 (a SafeLoader subclass)
    except FileNotFoundError:
        raise ConfigError(f"{path}: {what} not found; check the path") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a folder, not a {what}") from None
    except yaml.YAMLError as err:
        where = getattr(err, "problem_mark", None)
        line = f" at line {where.line + 1}" if where is not None else ""
        problem = getattr(err, "problem", None) or str(err)
        raise ConfigError(f"{path}: not a valid {what}{line}: {' '.join(str(problem).split())[:200]}") from None
