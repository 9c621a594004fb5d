"""Content keys, file hashes, atomic writes and output-folder claims: the one module every writer uses.

* :func:`content_key` is the sha256 of named parts: every cache (metadata, drafts, shards) keys on it.
* :class:`FileHashes` hashes files, memoised by (path, size, mtime_ns) in a small JSON sidecar, so a
  resumed run never re-reads an unchanged multi-GB ``.sens`` while its keys stay content-based. Inputs are
  fingerprinted with xxh3-128 (cache keys only), what ladder publishes with sha256 (:data:`DIGESTS`).
* :func:`atomic_path` yields a temp path in the destination's folder and renames it into place only when the
  block succeeds; on any failure (exception, Ctrl-C, full disk) the temp file is removed. A kill (SIGKILL, OOM)
  can leave one behind: every temp name follows one pattern, and :func:`remove_stale_temps` deletes them.
  A full disk or quota (ENOSPC, EDQUOT) becomes :class:`~ladderdata.errors.OutOfSpaceError`, which stops a run.
* :func:`claim_folder` is how a run starts writing into a folder: it takes the folder's lock (a second
  concurrent run is refused, naming the holder's pid; a lock left by a dead process is taken over, since the
  lock is an ``flock`` the kernel releases when its holder dies) and then removes stale temp files, except in
  the folders inside it that have a lock of their own (another run may be writing there: their own claims
  clean them).
* :func:`regular_file_stat` is how an input file is looked at before it is opened: anything but a regular file
  (a folder, a FIFO, a device) is refused, since opening a FIFO blocks forever.
"""

import errno
import fcntl
import hashlib
import json
import logging
import os
import re
import secrets
import socket
import stat
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

import xxhash

from ladderdata.errors import LadderError, OutOfSpaceError

log = logging.getLogger(__name__)

TEMP_SUFFIX = ".ladder-tmp"
#: ``.<name>.<pid>-<8 hex>.ladder-tmp`` (plus the destination's extension where a writer needs it, e.g. ``.mp4``):
#: the only shape of temp file ladder writes.
TEMP_PATTERN = re.compile(r"^\..+\.\d+-[0-9a-f]{8}" + re.escape(TEMP_SUFFIX) + r"(\.[A-Za-z0-9]{1,8})?\Z")
LOCK_NAME = ".ladder.lock"
_CHUNK = 1 << 20


class FolderBusyError(LadderError):
    """Another live ladder run holds the output folder's lock."""


class NotRegularFileError(OSError):
    """An input path is a folder, a FIFO, a socket or a device where ladder needs a regular file."""


_FILE_KINDS = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
)


def regular_file_stat(path: Path | str) -> os.stat_result:
    """``os.stat`` of an input file (symlinks followed) that must be a regular file: anything else raises
    :class:`NotRegularFileError` before the file is opened (reading a FIFO would block forever, a folder raises
    ``IsADirectoryError`` deep inside a library). A missing file raises ``FileNotFoundError``."""
    st = os.stat(path)
    if not stat.S_ISREG(st.st_mode):
        kind = next((name for test, name in _FILE_KINDS if test(st.st_mode)), "not a regular file")
        raise NotRegularFileError(errno.EINVAL, f"{kind}, not a regular file", str(path))
    return st


# ----------------------------------------------------------------------------------------------- keys


def content_key(parts: Mapping[str, str | bytes]) -> str:
    """sha256 over named parts, in order; names and lengths are hashed too, so no two part lists collide.

    >>> content_key({"a": "1"}) == content_key({"a": b"1"}) != content_key({"a1": ""})
    True
    """
    h = hashlib.sha256()
    for name, value in parts.items():
        data = value.encode() if isinstance(value, str) else value
        h.update(f"{name}\x1f{len(data)}\x1e".encode())
        h.update(data)
    return h.hexdigest()


Digest = Literal["sha256", "xxh3_128"]

#: The digests :class:`FileHashes` computes. sha256 for what ladder publishes (the shards' checksums in the
#: manifest, which users and the Hub verify); xxh3-128 for input fingerprints, which only key caches: it reads
#: a ScanNet ``.sens`` of 0.8-2 GB at memory speed, 7x faster than sha256 with SHA-NI (docs/performance.md#scale).
DIGESTS: dict[str, Any] = {"sha256": hashlib.sha256, "xxh3_128": xxhash.xxh3_128}


def file_digest(path: Path, algorithm: Digest = "sha256") -> str:
    """Hex digest of a file's bytes, read in 1 MiB chunks."""
    h = DIGESTS[algorithm]()
    buffer = bytearray(_CHUNK)  # one buffer for the whole file: no allocation per chunk
    view = memoryview(buffer)
    with open(path, "rb", buffering=0) as f:
        while size := f.readinto(buffer):
            h.update(view[:size])
    return str(h.hexdigest())


#: A memo entry: size, mtime_ns, inode, ctime_ns, algorithm, digest.
_ENTRY_LENGTH = 6


class FileHashes:
    """Digests of files (``algorithm``, :data:`DIGESTS`), memoised by (absolute path, size, mtime_ns, inode,
    ctime_ns) in a JSON sidecar.

    A file whose stat is unchanged is not read again. The inode and the change time (which no tool can set back)
    are part of the memo, so a file replaced by one of the same size with its old mtime restored (``cp -p``,
    ``rsync -a``, ``touch -r``) is hashed again; so is one memoised with another algorithm. :meth:`save` keeps
    only the entries asked for since loading, so the sidecar never grows with files that are gone.
    """

    def __init__(self, sidecar: Path | None = None, algorithm: Digest = "sha256") -> None:
        self.sidecar = sidecar
        self.algorithm = algorithm
        self._known: dict[str, list[int | str]] = {}
        self._used: dict[str, list[int | str]] = {}
        if sidecar is not None and sidecar.is_file():
            try:
                loaded = json.loads(sidecar.read_text(encoding="utf-8"))
            except (ValueError, OSError):
                loaded = {}
            if isinstance(loaded, dict):
                self._known = {k: v for k, v in loaded.items() if isinstance(v, list) and len(v) == _ENTRY_LENGTH}

    def digest(self, path: Path) -> str:
        """The file's digest (raises ``FileNotFoundError`` when it does not exist, :class:`NotRegularFileError`
        when it is not a regular file, without opening it)."""
        name = os.path.abspath(path)
        st = regular_file_stat(name)
        stamp: list[int | str] = [st.st_size, st.st_mtime_ns, st.st_ino, st.st_ctime_ns, self.algorithm]
        entry = self._known.get(name)
        if entry is None or entry[:-1] != stamp:
            entry = [*stamp, file_digest(Path(name), self.algorithm)]
            self._known[name] = entry
        self._used[name] = entry
        return str(entry[-1])

    def save(self) -> None:
        """Write the sidecar (atomically) when it would change."""
        if self.sidecar is None:
            return
        text = json.dumps(dict(sorted(self._used.items())))
        try:
            if self.sidecar.read_text(encoding="utf-8") == text:
                return
        except OSError:
            pass
        write_text_atomic(self.sidecar, text)


# ----------------------------------------------------------------------------------------------- writes


def temp_name(name: str, keep_suffix: bool = False) -> str:
    """The temp-file name for a file called ``name`` (see :data:`TEMP_PATTERN`); ``keep_suffix`` ends it with
    ``name``'s extension too, for writers that choose the format by extension (video encoders)."""
    suffix = Path(name).suffix if keep_suffix else ""
    return f".{name}.{os.getpid()}-{secrets.token_hex(4)}{TEMP_SUFFIX}{suffix}"


_OUT_OF_SPACE = (errno.ENOSPC, errno.EDQUOT)
_OUT_OF_SPACE_TEXT = tuple(os.strerror(code) for code in _OUT_OF_SPACE)


def is_out_of_space(error: OSError) -> bool:
    """Whether ``error`` says the disk is full or the quota is used up (also when a library kept only the text,
    as pyarrow's I/O errors do)."""
    return error.errno in _OUT_OF_SPACE or any(text in str(error) for text in _OUT_OF_SPACE_TEXT)


@contextmanager
def disk_full_as_error(path: Path) -> Iterator[None]:
    """Turn a full disk or quota while writing ``path`` into :class:`OutOfSpaceError` (one line, its own exit code)."""
    try:
        yield
    except OSError as e:
        if is_out_of_space(e):
            raise out_of_space(path, e) from None
        raise


def out_of_space(path: Path, error: OSError) -> OutOfSpaceError:
    """The :class:`OutOfSpaceError` of a full disk or quota met writing ``path``."""
    return OutOfSpaceError(
        f"no space left on the device writing {path} ({error.strerror or error}); free some and rerun: "
        "finished work is kept"
    )


@contextmanager
def atomic_path(dest: Path, keep_suffix: bool = False) -> Iterator[Path]:
    """Yield a temp path beside ``dest``; on success it replaces ``dest`` in one rename, else it is removed.
    ``keep_suffix``: the temp path ends with ``dest``'s extension (see :func:`temp_name`)."""
    with disk_full_as_error(dest):
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(temp_name(dest.name, keep_suffix))
        try:
            yield tmp
            os.replace(tmp, dest)
        finally:
            tmp.unlink(missing_ok=True)


def write_bytes_atomic(dest: Path, data: bytes) -> None:
    with atomic_path(dest) as tmp:
        tmp.write_bytes(data)


def write_text_atomic(dest: Path, text: str) -> None:
    with atomic_path(dest) as tmp:
        tmp.write_text(text, encoding="utf-8")


def remove_stale_temps(folder: Path) -> int:
    """Delete the temp files that killed runs left under ``folder``; returns how many. Folders inside it that
    hold a lock file of their own (another output folder, a shared metadata cache) are left alone: another run
    may be writing there right now, and whoever claims such a folder cleans it."""
    removed = 0
    for current, dirs, files in os.walk(folder):
        here = Path(current)
        dirs[:] = [d for d in dirs if not (here / d / LOCK_NAME).exists()]
        for name in files:
            path = here / name
            if TEMP_PATTERN.match(name) and path.is_file():
                path.unlink(missing_ok=True)
                removed += 1
    if removed:
        log.info("removed %d temp files left in %s by an interrupted run", removed, folder)
    return removed


@contextmanager
def claim_folder(folder: Path) -> Iterator[Path]:
    """Hold ``folder``'s lock while the block runs (created if needed); stale temp files are removed first and last.

    Raises :class:`FolderBusyError` when another live process holds it.
    """
    lock = folder / LOCK_NAME
    with disk_full_as_error(lock):
        folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode(errors="replace").strip() or "unknown"
            raise FolderBusyError(
                f"{folder} is being written by another ladder run ({holder}); wait for it to finish or stop it"
            ) from None
        with disk_full_as_error(lock):
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"pid {os.getpid()} on {socket.gethostname()}\n".encode(), 0)
        remove_stale_temps(folder)
        try:
            yield folder
        finally:
            # workers killed mid-write (an interrupt, the OOM killer) leave temp files behind; while the lock is
            # held they can only be this run's
            remove_stale_temps(folder)
    finally:
        # the lock file stays: unlinking it would let a waiting process lock a file nobody else sees
        os.close(fd)
