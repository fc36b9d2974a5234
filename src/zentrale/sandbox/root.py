"""The cached Debian unstable root that holds the sandbox Asterisk.

Debian 12 has no Asterisk package and installing unstable's on the host would replace its libc,
so the sandbox lives in a small debootstrapped root built once and cached outside the
repository. A recipe stamp inside the root says what it was built from; a root whose stamp does
not match the current recipe is rebuilt. Building happens beside the live root and is renamed
into place, so an interrupted build never leaves a half root that looks finished.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import structlog

from zentrale.sandbox.errors import SandboxUnavailableError

log = structlog.get_logger(__name__)

SUITE = "sid"
PACKAGES = (
    "asterisk",
    "asterisk-core-sounds-en-gsm",
    "asterisk-moh-opsound-gsm",
    "ca-certificates",
)
RECIPE_VERSION = 1
STAMP = ".zentrale-root"
APT_OPTIONS = ("-o", "Acquire::Check-Valid-Until=false", "-o", "Acquire::Retries=3")

HOW_TO_GET_IT = (
    "The sandbox needs root, debootstrap (apt-get install debootstrap) and access to a Debian "
    "mirror for its first build. Elsewhere, run an Asterisk 20 or newer with the repository's "
    "configuration (docs/operator.md, 'Your own Asterisk') and point ari.url at it."
)


@dataclass(frozen=True)
class Recipe:
    """What a root is built from: a change here means a rebuild."""

    suite: str = SUITE
    packages: tuple[str, ...] = PACKAGES
    version: int = RECIPE_VERSION

    def digest(self) -> str:
        """Return a short fingerprint of the recipe for the stamp file."""
        text = f"{self.version}|{self.suite}|{' '.join(sorted(self.packages))}"
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def default_cache_dir() -> Path:
    """Return where sandbox roots are cached (ZENTRALE_SANDBOX_CACHE, else the user cache)."""
    explicit = os.environ.get("ZENTRALE_SANDBOX_CACHE")
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".cache"
    return base / "zentrale" / "sandbox"


def check_prerequisites() -> None:
    """Raise SandboxUnavailableError naming what is missing to build or run the sandbox."""
    missing = []
    if os.geteuid() != 0:
        missing.append("root privileges (chroot and mounting /proc need them)")
    if shutil.which("chroot") is None:
        missing.append("the chroot command (coreutils)")
    if missing:
        raise SandboxUnavailableError(
            "Cannot run the sandbox Asterisk: missing " + "; ".join(missing) + ". " + HOW_TO_GET_IT
        )


def find_mirror(apt_dir: Path = Path("/etc/apt")) -> str:
    """Return the Debian archive URL the host's own apt sources use (not the security archive)."""
    override = os.environ.get("ZENTRALE_SANDBOX_MIRROR")
    if override:
        return override
    for uri in _apt_uris(apt_dir):
        if "security" not in uri and uri.startswith(("http://", "https://")):
            return uri.rstrip("/")
    raise SandboxUnavailableError(
        f"No Debian mirror found in {apt_dir}/sources.list or {apt_dir}/sources.list.d/*.sources; "
        "set ZENTRALE_SANDBOX_MIRROR to a Debian archive URL. " + HOW_TO_GET_IT
    )


def _apt_uris(apt_dir: Path) -> Iterator[str]:
    files = sorted((apt_dir / "sources.list.d").glob("*.sources"))
    for path in files:
        for match in re.finditer(r"^URIs:\s*(.+)$", path.read_text(), re.MULTILINE):
            yield from match.group(1).split()
    lists = [apt_dir / "sources.list", *sorted((apt_dir / "sources.list.d").glob("*.list"))]
    for path in lists:
        if path.is_file():
            for match in re.finditer(
                r"^deb\s+(?:\[[^\]]*\]\s+)?(\S+)", path.read_text(), re.MULTILINE
            ):
                yield match.group(1)


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def root_path(cache_dir: Path | None = None) -> Path:
    """Return the path of the cached root (built or not)."""
    return (cache_dir or default_cache_dir()) / "root"


def is_current(root: Path, recipe: Recipe = Recipe()) -> bool:
    """Tell whether ROOT exists and was built from RECIPE."""
    stamp = root / STAMP
    return stamp.is_file() and stamp.read_text().strip() == recipe.digest()


def ensure_root(cache_dir: Path | None = None, recipe: Recipe = Recipe()) -> Path:
    """Return a ready root, building it first when missing or built from another recipe."""
    check_prerequisites()
    cache = cache_dir or default_cache_dir()
    root = root_path(cache)
    with _locked(cache / ".lock"):
        if is_current(root, recipe):
            return root
        _build(cache, root, recipe)
    return root


def _build(cache: Path, root: Path, recipe: Recipe) -> None:
    if shutil.which("debootstrap") is None:
        raise SandboxUnavailableError(
            "Cannot build the sandbox root: debootstrap is not installed. " + HOW_TO_GET_IT
        )
    mirror = find_mirror()
    staging = cache / "root.build"
    _remove_root(staging)
    started = time.monotonic()
    log.info("sandbox.build.start", suite=recipe.suite, mirror=mirror, target=str(root))
    _run(["debootstrap", "--variant=minbase", recipe.suite, str(staging), mirror], "debootstrap")
    apt = ["chroot", str(staging), "apt-get", *APT_OPTIONS]
    _run([*apt, "update", "-q"], "apt-get update in the root")
    _run(
        [*apt, "install", "-y", "-q", "--no-install-recommends", *recipe.packages],
        "apt-get install asterisk in the root",
        env={"DEBIAN_FRONTEND": "noninteractive"},
    )
    _run(["chroot", str(staging), "apt-get", "clean"], "apt-get clean in the root")
    (staging / STAMP).write_text(recipe.digest() + "\n")
    _remove_root(root)
    staging.rename(root)
    log.info("sandbox.build.done", seconds=round(time.monotonic() - started, 1))


def _remove_root(path: Path) -> None:
    if not path.exists():
        return
    proc = path / "proc"
    if is_mounted(proc):
        subprocess.run(["umount", "-l", str(proc)], check=False)
    shutil.rmtree(path)


def is_mounted(path: Path) -> bool:
    """Tell whether something is mounted at PATH (read from /proc/mounts)."""
    target = str(path.resolve())
    with open("/proc/mounts") as mounts:
        return any(line.split()[1] == target for line in mounts)


def _run(argv: list[str], what: str, env: dict[str, str] | None = None) -> None:
    full_env = {**os.environ, **(env or {})}
    done = subprocess.run(argv, capture_output=True, text=True, env=full_env, check=False)
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-15:])
        raise SandboxUnavailableError(
            f"{what} failed (exit {done.returncode}):\n{tail}\n" + HOW_TO_GET_IT
        )
