"""Files <-> arrays: chunked reading of ROOT ntuples and atomic score write-back."""

from __future__ import annotations

from hepml.io.read import Chunk, Source, iterate, num_entries, open_tree, resolve_sources, select_branches

__all__ = ["Chunk", "Source", "iterate", "num_entries", "open_tree", "resolve_sources", "select_branches"]

from hepml.io.atomic import atomic_path  # noqa: E402
from hepml.io.inplace import add_branches_in_place  # noqa: E402
from hepml.io.outputs import check_outputs  # noqa: E402
from hepml.io.write import DEFAULT_EVENT_ID, write_friend  # noqa: E402

__all__ += ["atomic_path", "check_outputs", "DEFAULT_EVENT_ID", "add_branches_in_place", "write_friend"]
