"""Bad inputs, one case each: how to make it and what the CLI must say.

Shared by ``tests/test_bad_inputs.py`` (asserts exit code 2 and a one-line message naming
the file) and ``bench/bad_input_table.py`` (prints the case -> message table). Every case
runs the real ``workbench`` CLI on real files; the fusion cases damage a copy of one real
tiny training run (tiny-random models, CPU, seconds).
"""

from __future__ import annotations

import contextlib
import gzip
import io
import json
import os
import resource
import shutil
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
DATA_DIR = Path(os.environ.get("WORKBENCH_DATA_DIR", REPO.parent / "shared" / "benchmarks"))
if not DATA_DIR.is_dir():
    DATA_DIR = Path("/work/shared/benchmarks")


@dataclass
class Case:
    """One bad input: ``make(tmp, base)`` builds it and returns the CLI argv; the message
    must contain every string of ``names`` (the file, and the line where there is one)."""

    name: str
    make: Callable[[Path, Path], list[str]]
    names: Callable[[Path], list[str]]
    subprocess_kw: Callable[[Path], dict] | None = None  # run as a child (resource limits, user)
    tags: set[str] = field(default_factory=set)


# -- the shared tiny run ---------------------------------------------------------------------

def tiny_config(tmp: Path, base: Path | None = None, **edits: dict) -> Path:
    """configs/tiny.yaml made smaller, with every path under ``tmp`` (the data file and
    the cache copied from ``base`` when given); ``edits`` update sections."""
    raw = yaml.safe_load((REPO / "configs" / "tiny.yaml").read_text())
    raw["output_dir"] = str(tmp / "run")
    raw["data"].update(path=str(tmp / "data.jsonl"), demo={"n": 8, "seed": 0},
                       max_prompt_tokens=48, max_response_tokens=24)
    raw["cache"].update(dir=str(tmp / "cache"), shard_size=4)
    raw["training"].update(max_steps=4, save_steps=2, per_device_batch_size=2)
    for section, values in edits.items():
        if isinstance(values, dict) and isinstance(raw.get(section), dict):
            raw[section].update(values)
        else:
            raw[section] = values
    tmp.mkdir(parents=True, exist_ok=True)
    if base is not None:
        for name in ("data.jsonl", "cache", "run"):
            src, dst = base / name, tmp / name
            if src.is_dir() and not dst.exists():
                shutil.copytree(src, dst)
            elif src.is_file() and not dst.exists():
                shutil.copy2(src, dst)
        for saved in (tmp / "run" / "config.yaml", tmp / "run" / "eval_queue.jsonl"):
            if saved.is_file():  # the copy is the same run, moved: its paths move with it
                saved.write_text(saved.read_text().replace(str(base), str(tmp)))
    path = tmp / "tiny.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def build_base(base: Path) -> Path:
    """Train the shared tiny run once (4 steps, checkpoints at 2 and 4) into ``base``."""
    config = tiny_config(base)
    proc = subprocess.run([sys.executable, "-m", "workbench.cli", "fuse", "--config", str(config)],
                          cwd=REPO, env=offline_env(), capture_output=True, text=True, timeout=900)
    if proc.returncode != 0:
        raise RuntimeError(f"tiny run failed: {proc.stderr[-2000:]}")
    return base


def offline_env(**extra: str) -> dict[str, str]:
    """The environment of a child CLI: offline, this checkout first on the path."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false",
           "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)}
    env.update(extra)
    return env


def run_cli(argv: list[str], subprocess_kw: dict | None = None, cwd: Path | None = None) -> tuple[int, str]:
    """(exit code, stderr) of ``workbench ARGV``: in-process, or as a child with
    ``subprocess_kw`` (for resource limits / another user)."""
    if subprocess_kw is not None:
        kw = dict(subprocess_kw)
        wrap = kw.pop("wrap", [])
        proc = subprocess.run([*wrap, sys.executable, "-m", "workbench.cli", *argv], cwd=cwd or REPO,
                              env=offline_env(), capture_output=True, text=True, timeout=300, **kw)
        return proc.returncode, proc.stderr
    from workbench.cli import main

    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            code = main(argv)
        except SystemExit as exc:  # argparse
            code = int(exc.code or 0)
    return code, err.getvalue()


def error_lines(stderr: str) -> list[str]:
    """The CLI's error lines (``workbench <cmd>: error: ...``)."""
    return [ln for ln in stderr.splitlines() if ": error: " in ln]


# -- helpers building bad files ----------------------------------------------------------------

def _ckpt(tmp: Path, step: int = 4) -> Path:
    return tmp / "run" / "checkpoints" / f"step-{step}"


def _fuse(tmp: Path, base: Path, **edits) -> list[str]:
    return ["fuse", "--config", str(tiny_config(tmp, base, **edits))]


def _flip(path: Path, offset: int, count: int = 8) -> None:
    data = bytearray(path.read_bytes())
    for i in range(offset, min(offset + count, len(data))):
        data[i] ^= 0xFF
    path.write_bytes(bytes(data))


def _truncate(path: Path, keep: float = 0.5) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


def _preds(tmp: Path, rows: list[dict] | bytes, name: str = "p.jsonl") -> Path:
    tmp.mkdir(parents=True, exist_ok=True)
    path = tmp / name
    data = rows if isinstance(rows, bytes) else "".join(json.dumps(r) + "\n" for r in rows).encode()
    path.write_bytes(gzip.compress(data) if name.endswith(".gz") else data)
    return path


GOOD_PRED = {"benchmark": "gsm8k", "doc_id": "0", "output": "The answer is 18."}


def _eval_preds(tmp: Path, path: Path, data_dir: Path = DATA_DIR, *extra: str) -> list[str]:
    return ["eval", "--predictions", str(path), "--data-dir", str(data_dir), "--out", str(tmp / "out"), *extra]


def _eval_flag(flag: str, value: str) -> Callable[[Path, Path], list[str]]:
    def make(tmp: Path, base: Path) -> list[str]:
        return _eval_preds(tmp, _preds(tmp, [GOOD_PRED]), DATA_DIR, flag, value, "--no-index")
    return make


def _tampered_gsm8k(tmp: Path, base: Path) -> list[str]:
    data = tmp / "benchmarks"
    (data / "gsm8k").mkdir(parents=True)
    shutil.copy2(DATA_DIR / "SHA256SUMS", data / "SHA256SUMS")
    lines = (DATA_DIR / "gsm8k" / "test.jsonl").read_text(encoding="utf-8").split("\n")
    first = json.loads(lines[0])
    first["answer"] = first["answer"].rsplit("####", 1)[0] + "#### 999999"
    lines[0] = json.dumps(first)
    (data / "gsm8k" / "test.jsonl").write_text("\n".join(lines), encoding="utf-8")
    return _eval_preds(tmp, _preds(tmp, [GOOD_PRED]), data, "--no-index")


def _db(tmp: Path, content: bytes | None) -> list[str]:
    (tmp / "out").mkdir(parents=True, exist_ok=True)
    db = tmp / "workbench.db"  # the store root is --out's parent
    if content is None:
        con = sqlite3.connect(db)
        con.execute("CREATE TABLE eval_results (results_path TEXT PRIMARY KEY, score REAL)")
        con.commit()
        con.close()
    else:
        db.write_bytes(content)
    return _eval_preds(tmp, _preds(tmp, [GOOD_PRED]))


def _full_disk(tmp: Path) -> dict:
    def limit() -> None:  # a 2 KiB file-size limit: writes fail as they do on a full disk
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (2048, 2048))
    return {"preexec_fn": limit}


def _read_only(tmp: Path) -> dict:
    out = tmp / "out"
    out.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        os.chmod(out, 0o555)
        return {}
    # root ignores permission bits: a read-only bind mount of the folder, in a private
    # mount namespace of the child
    return {"wrap": ["unshare", "-m", "sh", "-c", 'mount --bind -o ro "$0" "$0" && exec "$@"', str(out)]}


def _shard(tmp: Path) -> Path:
    return sorted((tmp / "cache" / "gemma").glob("shard-*.safetensors"))[0]


def _cache_teachers(tmp: Path, base: Path) -> list[str]:
    return ["cache-teachers", "--config", str(tiny_config(tmp, base))]


def _then(action: Callable[[Path], None], argv: Callable[[Path, Path], list[str]]) -> Callable[[Path, Path], list[str]]:
    def make(tmp: Path, base: Path) -> list[str]:
        args = argv(tmp, base)  # copies the base first
        action(tmp)
        return args
    return make


def _write(rel: str, content: bytes) -> Callable[[Path], None]:
    return lambda tmp: (tmp / rel).write_bytes(content)


def _config_yaml(tmp: Path, text: str) -> list[str]:
    tmp.mkdir(parents=True, exist_ok=True)
    (tmp / "c.yaml").write_text(text)
    return ["fuse", "--config", str(tmp / "c.yaml")]


def _tiny_text(tmp: Path, replace: tuple[str, str]) -> list[str]:
    text = tiny_config(tmp).read_text().replace(*replace)
    return _config_yaml(tmp, text)


CASES: list[Case] = [
    # config and flags
    Case("duplicate 'training:' section in YAML",
         lambda t, b: _config_yaml(t, tiny_config(t).read_text() + "training:\n  max_steps: 2\n"),
         lambda t: [f"{t / 'c.yaml'}:", "duplicate key 'training'"]),
    Case("inf learning rate", lambda t, b: _tiny_text(t, ("learning_rate: 0.001", "learning_rate: .inf")),
         lambda t: [str(t / "c.yaml"), "training.learning_rate", "finite"]),
    Case("inf source weight", lambda t, b: _tiny_text(t, ("weight: 1.0", "weight: .inf")),
         lambda t: [str(t / "c.yaml"), "sources[0].weight", "finite"]),
    Case("negative max_grad_norm", lambda t, b: _fuse(t, None, training={"max_grad_norm": -1.0}),
         lambda t: [str(t / "tiny.yaml"), "training.max_grad_norm"]),
    Case("negative weight_decay", lambda t, b: _fuse(t, None, training={"weight_decay": -0.1}),
         lambda t: [str(t / "tiny.yaml"), "training.weight_decay"]),
    Case("eval --batch-size 0", _eval_flag("--batch-size", "0"), lambda t: ["--batch-size must be >= 1"]),
    Case("eval --chunk-size 0", _eval_flag("--chunk-size", "0"), lambda t: ["--chunk-size must be >= 1"]),
    Case("eval --max-gen-toks 0", _eval_flag("--max-gen-toks", "0"), lambda t: ["--max-gen-toks must be >= 1"]),
    Case("bounds --pairs 0", lambda t, b: ["bounds", "--out", str(t / "b"), "--pairs", "0"],
         lambda t: ["--pairs must be >= 1"]),
    Case("bounds --restarts 0", lambda t, b: ["bounds", "--out", str(t / "b"), "--restarts", "0"],
         lambda t: ["--restarts must be >= 1"]),
    # checkpoints
    Case("corrupt checkpoint header (model.safetensors)",
         _then(lambda t: _flip(_ckpt(t) / "model.safetensors", 0), lambda t, b: _fuse(t, b, training={"max_steps": 6})),
         lambda t: [str(_ckpt(t) / "model.safetensors"), "sha256"], tags={"fuse"}),
    Case("truncated optimizer.pt",
         _then(lambda t: _truncate(_ckpt(t) / "optimizer.pt"), lambda t, b: _fuse(t, b, training={"max_steps": 6})),
         lambda t: [str(_ckpt(t) / "optimizer.pt"), "truncated"], tags={"fuse"}),
    Case("corrupt trainer_state.json",
         _then(lambda t: _flip(_ckpt(t) / "trainer_state.json", 2),
               lambda t, b: _fuse(t, b, training={"max_steps": 6})),
         lambda t: [str(_ckpt(t) / "trainer_state.json"), "sha256"], tags={"fuse"}),
    Case("resume with a changed learning rate",
         lambda t, b: _fuse(t, b, training={"learning_rate": 0.01, "max_steps": 6}),
         lambda t: [str(t / "run" / "config.yaml"), "training.learning_rate: 0.001 -> 0.01", "--allow-config-change"],
         tags={"fuse"}),
    Case("resume with another pivot",
         lambda t, b: _fuse(t, b, pivot={"model": "tiny-random-qwen2"}),
         lambda t: [str(t / "run" / "config.yaml"), "pivot.model"], tags={"fuse"}),
    Case("damaged metrics.jsonl line (not the tail)",
         _then(_write("run/metrics.jsonl", b'{"step": 1, "loss": 1.0}\n{"step": 2, "loss"\n{"step": 3, "loss": 1.0}\n'),
               lambda t, b: _fuse(t, b, training={"max_steps": 6})),
         lambda t: [f"{t / 'run' / 'metrics.jsonl'}:2:"], tags={"fuse"}),
    # teacher cache
    Case("corrupt cache shard (flipped bytes)",
         _then(lambda t: _flip(_shard(t), 200), _cache_teachers),
         lambda t: [str(_shard(t)), "corrupted"], tags={"fuse"}),
    Case("truncated cache shard",
         _then(lambda t: _truncate(_shard(t)), _cache_teachers),
         lambda t: [str(_shard(t)), "corrupted"], tags={"fuse"}),
    Case("malformed cache index.json",
         _then(_write("cache/gemma/index.json", b'{"a": {"shard": '), _cache_teachers),
         lambda t: [str(t / "cache" / "gemma" / "index.json"), "malformed"], tags={"fuse"}),
    Case("malformed cache meta.json",
         _then(_write("cache/gemma/meta.json", b"[1, 2]"), _cache_teachers),
         lambda t: [str(t / "cache" / "gemma" / "meta.json"), "malformed"], tags={"fuse"}),
    Case("cache.k larger than the source vocabulary",
         lambda t, b: ["cache-teachers", "--config", str(tiny_config(t, None, cache={"k": 300000}))],
         lambda t: [str(t / "tiny.yaml"), "cache.k: 300000", "vocabulary"], tags={"fuse"}),
    Case("broken Jinja chat template",
         lambda t, b: ["cache-teachers", "--config", str(tiny_config(
             t, None, sources=[{"name": "gemma", "model": "tiny-random-gemma3",
                                "chat_template": "{% for m in messages %}"}]))],
         lambda t: [str(t / "tiny.yaml"), "sources[gemma].chat_template", "does not render"], tags={"fuse"}),
    # data and predictions
    Case("non-UTF-8 training data",
         lambda t, b: (tiny_config(t), (t / "data.jsonl").write_bytes(
             json.dumps({"id": "a", "prompt": "p", "response": "r"}).encode() + b'\n{"id": "b\xff"}\n'),
             ["cache-teachers", "--config", str(t / "tiny.yaml")])[-1],
         lambda t: [f"{t / 'data.jsonl'}:2:", "not UTF-8"]),
    Case("non-UTF-8 predictions", lambda t, b: _eval_preds(t, _preds(t, json.dumps(GOOD_PRED).encode() + b"\n\xfe\n")),
         lambda t: [f"{t / 'p.jsonl'}:2:", "not UTF-8"]),
    Case("non-UTF-8 predictions (.jsonl.gz)",
         lambda t, b: _eval_preds(t, _preds(t, b'{"benchmark": "gsm8k\xff"}\n', "p.jsonl.gz")),
         lambda t: [f"{t / 'p.jsonl.gz'}:1:", "not UTF-8"]),
    Case("truncated .jsonl.gz predictions",
         lambda t, b: (lambda p: (_truncate(p), _eval_preds(t, p))[1])(_preds(t, [GOOD_PRED] * 50, "p.jsonl.gz")),
         lambda t: [str(t / "p.jsonl.gz"), "gzip"]),
    Case("integer benchmark in predictions",
         lambda t, b: _eval_preds(t, _preds(t, [{**GOOD_PRED, "benchmark": 7}])),
         lambda t: [f"{t / 'p.jsonl'}:1:", "'benchmark' must be"]),
    Case("tampered GSM8K gold (SHA256SUMS)", _tampered_gsm8k,
         lambda t: [str(t / "benchmarks" / "gsm8k" / "test.jsonl"), "SHA256SUMS:"]),
    # the index and the file system
    Case("corrupt workbench.db", lambda t, b: _db(t, b"this is not an sqlite database" * 100),
         lambda t: [str(t / "workbench.db"), "rebuilt"]),
    Case("mismatched workbench.db schema", lambda t, b: _db(t, None),
         lambda t: [str(t / "workbench.db"), "eval_results"]),
    Case("full disk (writes fail)",
         lambda t, b: _eval_preds(t, _preds(t, [{**GOOD_PRED, "doc_id": str(i)} for i in range(20)]), DATA_DIR,
                                  "--no-index"),
         lambda t: [str(t / "out"), "File too large"], subprocess_kw=_full_disk),
    Case("read-only output folder", lambda t, b: _eval_preds(t, _preds(t, [GOOD_PRED]), DATA_DIR, "--no-index"),
         lambda t: [str(t / "out"), "Read-only file system" if os.geteuid() == 0 else "Permission denied"],
         subprocess_kw=_read_only),
]
