"""Data-parallel teacher caching on CPU (2 gloo ranks under ``accelerate launch``): each
rank caches its share into its own folder, rank 0 merges one id-keyed index that the
unchanged reader opens, the entries equal a 1-process build, and a killed run resumes
computing only what no rank finished."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
import yaml
from _launch import REPO, launch

from fusion.config import load_config
from fusion.teacher_cache import TeacherCache
from fusion.teacher_cache_ranks import rank_folder, rank_folders

N = 12
pytestmark = pytest.mark.slow


def _config(tmp: Path, cache: str) -> Path:
    raw = yaml.safe_load((REPO / "configs" / "tiny.yaml").read_text())
    raw["output_dir"] = str(tmp / "run")
    raw["data"].update(path=str(tmp / "data.jsonl"), demo={"n": N, "seed": 0},
                       max_prompt_tokens=48, max_response_tokens=24)
    raw["cache"].update(dir=str(tmp / cache), shard_size=4, batch_size=4)
    path = tmp / f"{cache}.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def _entries(directory: Path) -> dict[str, tuple]:
    cache = TeacherCache(directory)  # the plain reader, no rank awareness
    cache.verify_all()
    return {i: tuple(getattr(cache.get(i), f) for f in ("logprobs", "indices", "lse", "offsets"))
            for i in sorted(cache.index)}


def _assert_same(a: dict[str, tuple], b: dict[str, tuple]) -> None:
    """Same ids, top-k ids and offsets; values equal up to float rounding (a batch padded to
    another length rounds the last bits differently: torch's default tolerances per dtype)."""
    assert sorted(a) == sorted(b)
    for key in a:
        (lp, ids, lse, offsets), (lp2, ids2, lse2, offsets2) = a[key], b[key]
        assert torch.equal(ids, ids2) and torch.equal(offsets, offsets2), key
        torch.testing.assert_close(lp, lp2, msg=key)
        torch.testing.assert_close(lse, lse2, msg=key)


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("cache_ranks")


@pytest.fixture(scope="module")
def one_process(work: Path) -> Path:
    from fusion.run import ensure_teacher_caches, prepare_data

    cfg = load_config(_config(work, "one"))
    ensure_teacher_caches(cfg, prepare_data(cfg))
    return work / "one" / "gemma"


@pytest.fixture(scope="module")
def two_ranks(work: Path, one_process: Path) -> tuple[Path, str]:
    proc = launch(["cache-teachers", "--config", str(_config(work, "two"))])
    return work / "two" / "gemma", proc.stderr


def test_ranks_write_their_own_shards_and_one_merged_index(two_ranks, one_process: Path) -> None:
    directory, log = two_ranks
    assert [p.name for p in rank_folders(directory)] == ["rank-00000", "rank-00001"]
    shares = [set(json.loads((rank_folder(directory, r) / "index.json").read_text())) for r in (0, 1)]
    assert len(shares[0]) == len(shares[1]) == N // 2 and not shares[0] & shares[1]  # split, no overlap
    index = json.loads((directory / "index.json").read_text())
    assert set(index) == shares[0] | shares[1]
    assert {v["shard"].split("/")[0] for v in index.values()} == {"rank-00000", "rank-00001"}
    assert not list(directory.glob("shard-*"))  # no shard of its own at the top
    for r in (0, 1):  # each rank reports its throughput
        assert f"gemma rank {r}/2: cached {N // 2} example(s)" in log and "tokens/s" in log
    _assert_same(_entries(directory), _entries(one_process))  # bit-identical to 1 process


def test_the_trainer_reads_the_merged_cache(work: Path, two_ranks) -> None:
    from fusion.run import open_cache, prepare_data, source_keys

    cfg = load_config(_config(work, "two"))
    examples = prepare_data(cfg)
    source = cfg.sources[0]
    cache = open_cache(cfg, source, source_keys(source, examples))  # verifies every shard
    assert cache.missing([e.id for e in examples]) == []
    assert cache.size_report()["examples"] == N


def test_a_killed_two_rank_run_resumes(work: Path, two_ranks, one_process: Path) -> None:
    """Killed after rank 0 finished but before rank 1 did and before the merge: the rerun
    merges rank 0's shards and caches only rank 1's share."""
    directory, _ = two_ranks
    killed = work / "killed" / "gemma"
    shutil.copytree(directory, killed)
    for name in ("index.json", "shards.json"):  # the merge never ran
        (killed / name).unlink()
    part = rank_folder(killed, 1)
    index = json.loads((part / "index.json").read_text())
    last = sorted({v["shard"] for v in index.values()})[-1]
    (part / last).unlink()  # rank 1's last shard never written
    kept = {k: v for k, v in index.items() if v["shard"] != last}
    (part / "index.json").write_text(json.dumps(kept))
    proc = launch(["cache-teachers", "--config", str(_config(work, "killed"))])
    assert f"caching {N // 2 - len(kept)} example(s) for source 'gemma'" in proc.stderr
    assert f"merged {N // 2 + len(kept)} entries left in rank folders" in proc.stderr
    _assert_same(_entries(killed), _entries(one_process))
