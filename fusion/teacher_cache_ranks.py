"""Data-parallel teacher caching: the rank folders and their merge into one index.

Under ``accelerate launch`` each rank caches its share of the examples (accelerate's
``PartialState.split_between_processes``) into its own sub-folder, an ordinary cache
folder (:class:`fusion.teacher_cache.TeacherCache`) written by the ordinary
:func:`fusion.teacher_cache.build_cache`::

    <cache dir>/meta.json, index.json, shards.json      the merged cache (what readers open)
    <cache dir>/rank-00000/shard-00000.safetensors ...  rank 0's shards, index and checksums
    <cache dir>/rank-00001/...                          rank 1's

When every rank is done, rank 0 folds each rank's checksums and index into the top-level
``shards.json`` and ``index.json`` with shard names relative to the top folder
(``rank-00001/shard-00000.safetensors``), so the unchanged reader resolves and verifies
them like its own. Resuming a killed run: the merge is idempotent and runs first, so the
shards a rank finished before the kill count as cached and only the rest is recomputed
(with any number of ranks). Entries whose key (:func:`fusion.teacher_cache.content_key`)
is not the current one are never merged.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fusion.teacher_cache import TeacherCache

RANK_PREFIX = "rank-"


def rank_folder(directory: str | Path, rank: int) -> Path:
    """The sub-folder rank ``rank`` writes its shards to."""
    return Path(directory) / f"{RANK_PREFIX}{rank:05d}"


def rank_folders(directory: str | Path) -> list[Path]:
    """Every rank sub-folder of a cache folder that has an index, by rank."""
    return sorted(p for p in Path(directory).glob(f"{RANK_PREFIX}*") if p.is_dir() and (p / "index.json").is_file())


def merge_rank_caches(cache: TeacherCache, keys: dict[str, str]) -> int:
    """Fold every rank folder's entries with a current key (``keys``: ``{id: content
    key}``) into ``cache``'s own index, unless ``cache`` already holds a current entry for
    that id; returns how many entries were added. A rank folder built with other settings
    raises :class:`ValueError` (from :class:`TeacherCache`)."""
    settings: dict[str, Any] = {k: v for k, v in cache.meta.items() if k != "format"}
    entries: dict[str, dict[str, Any]] = {}
    shards: dict[str, dict[str, Any]] = {}
    for folder in rank_folders(cache.dir):
        part = TeacherCache(folder, settings)
        for example_id, info in sorted(part.index.items()):
            want = keys.get(example_id)
            if want is None or info.get("key") != want:
                continue  # not in the data any more, or computed from another prompt/response
            have = entries.get(example_id) or cache.index.get(example_id)
            if have is not None and have.get("key") == want:
                continue  # merged already (or cached by a 1-process run)
            name = f"{folder.name}/{info['shard']}"
            record = part.shards.get(info["shard"])
            if record is None:
                raise ValueError(f"{folder / 'shards.json'}: no checksum for {info['shard']} (listed in "
                                 f"{folder / 'index.json'}); delete {folder} to recompute its examples")
            shards[name] = record
            entries[example_id] = {**info, "shard": name}
    if entries:
        cache.adopt(entries, shards)
    return len(entries)
