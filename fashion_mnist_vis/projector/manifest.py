"""export.json: what an export wrote, and the clean-up of the previous export's stale files."""

import json
from pathlib import Path
from typing import Dict, List, Sequence

from fashion_mnist_vis.atomic import write_json_atomic
from fashion_mnist_vis.projector.config import METADATA_TSV, SPRITE_PNG
from fashion_mnist_vis.projector.export import (
    ATLAS_PARQUET,
    CONFIG_JSON,
    EMBEDDINGS_STEM,
    NEIGHBOURS_CSV,
    PIXELS_STEM,
    PLOT_FILES,
    PROJECTOR_PBTXT,
)

MANIFEST_JSON = "export.json"

OWN_FILES = frozenset(
    [CONFIG_JSON, PROJECTOR_PBTXT, METADATA_TSV, SPRITE_PNG, MANIFEST_JSON, NEIGHBOURS_CSV, ATLAS_PARQUET, *PLOT_FILES]
    + [f"{stem}.{suffix}" for stem in (EMBEDDINGS_STEM, PIXELS_STEM) for suffix in ("tsv", "bytes")]
)
"""Every file name an export may write; only these are ever replaced or removed."""


def finish_export(output: Path, files: Sequence[str], manifest: Dict) -> List[str]:
    """Write export.json (``manifest`` plus the file list) and remove stale files of the last export.

    A file is removed only if the previous export.json lists it, its name is
    one of :data:`OWN_FILES`, and this export did not write it (e.g. tsne.png
    after ``--no-tsne``, projector_config.pbtxt after ``--format bytes``), so
    the folder never mixes two exports. Returns the names removed.
    """
    output = Path(output)
    written = set(files) | {MANIFEST_JSON}
    previous = _previous_files(output / MANIFEST_JSON)
    removed = []
    for name in sorted((previous & OWN_FILES) - written):
        path = output / name
        if path.is_file() and not path.is_symlink():
            path.unlink()
            removed.append(name)
    write_json_atomic(output / MANIFEST_JSON, {**manifest, "files": sorted(written)})
    return removed


def _previous_files(path: Path) -> set:
    try:
        files = json.loads(path.read_text(encoding="utf-8")).get("files", [])
    except (OSError, ValueError, AttributeError):
        return set()
    return {name for name in files if isinstance(name, str)} if isinstance(files, list) else set()
