"""Copy a wheel without members the workbench never loads, to fit a 64 MiB transfer.

POT's wheel (33 MB) is mostly ``ot/bsp/bsp_wrap*.so`` (175 MB unpacked: the BSP-OT
bijection solver), which ``import ot`` loads eagerly but the workbench never calls. The
copy replaces that extension with a pure-Python module of the same name whose functions
raise, so ``import ot`` and every solver we use (``ot.emd2``, ``ot.gromov``) are the
release's own code, byte for byte. RECORD is rewritten with the new members' hashes.

Usage: python bench/slim_wheel.py WHEEL DEST_DIR
"""

from __future__ import annotations

import argparse
import base64
import fnmatch
import hashlib
import sys
import zipfile
from pathlib import Path

# member glob -> Python module text that takes its place (same import name).
DEFAULT_DROPS = {
    "ot/bsp/bsp_wrap*.so": (
        "# Stub left by bench/slim_wheel.py: the BSP-OT extension was dropped to fit a device transfer.\n"
        "def _missing(*args, **kwargs):\n"
        "    raise RuntimeError('ot.bsp is not available in this slimmed POT wheel (bench/slim_wheel.py)')\n"
        "bsp_solve_c = merge_bijections_c = _missing\n"
    ),
}


def _record_hash(data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"sha256={digest}"


def slim(wheel: Path, dest: Path, drops: dict[str, str]) -> Path:
    """Write the slimmed copy of ``wheel`` into ``dest``; returns its path."""
    out = dest / wheel.name
    members: list[tuple[str, bytes]] = []
    record_name = None
    with zipfile.ZipFile(wheel) as zin:
        for info in zin.infolist():
            if info.filename.endswith(".dist-info/RECORD"):
                record_name = info.filename
                continue
            pattern = next((p for p in drops if fnmatch.fnmatch(info.filename, p)), None)
            if pattern is None:
                members.append((info.filename, zin.read(info)))
            else:
                stub = info.filename.split(".", 1)[0] + ".py"
                members.append((stub, drops[pattern].encode()))
                print(f"{wheel.name}: {info.filename} ({info.file_size:,} B) -> {stub}")
    if record_name is None:
        raise SystemExit(f"{wheel}: no RECORD; not a wheel")
    record = "".join(f"{name},{_record_hash(data)},{len(data)}\n" for name, data in members)
    record += f"{record_name},,\n"
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as zout:
        for name, data in members:
            zout.writestr(name, data)
        zout.writestr(record_name, record)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("wheel", type=Path)
    parser.add_argument("dest", type=Path)
    args = parser.parse_args(argv)
    args.dest.mkdir(parents=True, exist_ok=True)
    out = slim(args.wheel, args.dest, DEFAULT_DROPS)
    print(f"{out}: {out.stat().st_size:,} B (was {args.wheel.stat().st_size:,} B)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
