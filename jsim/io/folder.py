"""Output folders: one set of files per folder (:func:`output_set`, :func:`check_output_dir`).

:func:`output_set` is the one way a command writes its output folder: the files go into a
hidden folder beside it, which is swapped in when every file is written. The folder then holds
one run's files, never a mix of two runs; files jsim did not write there (the user's own, the
optimiser's study journal) are carried over. :func:`check_output_dir` checks, before any work,
that the folder can be created and written.
"""

from __future__ import annotations

__all__ = ["MANIFEST", "add_to_set", "check_output_dir", "output_set"]

import ctypes
import errno
import hashlib
import json
import os
import re
import secrets
import shutil
import socket
import stat
import sys
import tempfile
import time
from collections.abc import Iterable
from contextlib import contextmanager
from pathlib import Path

from ..errors import InputError, OutputError
from .files import atomic_write, current_umask
from .processes import pid_alive

#: The hidden file of an output folder that lists the files of the set jsim wrote there.
MANIFEST = ".jsim-manifest.json"


# --- output folders: one set of files per folder -----------------------------------------------
#
# A set is written into a staging folder ``.NAME.jsim-new-OWNER-XXXXXXXX`` beside the target
# ``NAME`` and committed, under an exclusive lock (flock) on the parent folder, by
#   1. writing the manifest (the set's file names) into the staging folder: it is now complete;
#   2. carrying every entry of the target that is not in its manifest (the user's files, a study
#      journal) into the staging folder: files hard-linked, folders moved;
#   3. swapping the two folders: renameat2(RENAME_EXCHANGE) on Linux, else two renames
#      (target -> ``.NAME.jsim-old-OWNER-XXXXXXXX``, staging -> target);
#   4. removing the previous set.
# A process killed at any point leaves either the target in place (the next run removes the
# staging folder, after moving back any folder it carried) or, between the two renames, no
# target, a complete staging folder and the previous set: the next run renames the staging
# folder into place. OWNER is a hash of the host name and the pid, so that the next run only
# touches what dead processes left (check_output_dir and output_set both recover).
# Where the target cannot be swapped (its parent is read-only, it is a mount point or the working
# folder) the staging folder is made inside the target and its files are moved in one by one;
# each file is still whole, and the manifest is rewritten last.

_LEFTOVER = re.compile(r"\.jsim-(new|old)-([0-9a-f]{6})-(\d+)-\w+")
_STALE_SECONDS = 86400  # leftovers of another host are removed after a day


def _host() -> str:
    return hashlib.sha256(socket.gethostname().encode()).hexdigest()[:6]


def _owner() -> str:
    return f"{_host()}-{os.getpid()}"


def _is_dead(host: str, pid: str, path: Path) -> bool:
    """Whether the process that made ``path`` is gone (for another host: whether ``path`` is a day old)."""
    if host != _host():
        try:
            return time.time() - path.lstat().st_mtime > _STALE_SECONDS
        except OSError:
            return False
    return not pid_alive(int(pid))


@contextmanager
def _locked(directory: Path):
    """Hold an exclusive flock on ``directory`` (commits and clean-ups of one folder run one at a time)."""
    try:
        import fcntl

        fd = os.open(directory, os.O_RDONLY)
    except (ImportError, OSError):
        yield
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        except OSError:
            pass  # a file system without locks: commits are still atomic, only not serialised
        yield
    finally:
        os.close(fd)  # releases the lock


def _leftovers(target: Path) -> list[tuple[str, Path]]:
    """``(kind, path)`` of the staging (``new``) and trash (``old``) folders dead processes left for ``target``."""
    found = []
    for where, prefix in ((target.parent, f".{target.name}"), (target, "")):
        try:
            names = os.listdir(where)
        except OSError:
            continue
        for name in names:
            m = _LEFTOVER.fullmatch(name[len(prefix) :]) if name.startswith(prefix) else None
            if m and _is_dead(m[2], m[3], where / name):
                found.append((m[1], where / name))
    return found


def _recover(target: Path) -> None:
    """Finish or undo what a killed commit left for ``target`` (call with the parent folder locked).

    Without ``target`` (killed between the two renames) the newest complete staging folder (one
    with a manifest) becomes ``target``, else the previous set is put back. Every other leftover
    is removed, after giving ``target`` back what a commit carried into it and ``target`` lacks.
    """
    left = _leftovers(target)
    if not os.path.lexists(target):

        def mtime(p):
            return p.lstat().st_mtime

        complete = sorted((p for kind, p in left if kind == "new" and (p / MANIFEST).is_file()), key=mtime)
        previous = sorted((p for kind, p in left if kind == "old"), key=mtime)
        pick = (complete or previous or [None])[-1]
        if pick is not None and pick.parent == target.parent:
            os.rename(pick, target)
    for kind, path in left:
        if not os.path.lexists(path):
            continue
        if path.parent == target.parent and os.path.isdir(target):
            _give_back(path, target, kind)
        shutil.rmtree(path, ignore_errors=True)


def _give_back(leftover: Path, target: Path, kind: str) -> None:
    """Move into ``target`` the entries of ``leftover`` outside its manifest that ``target`` lacks."""
    owned = _read_manifest(leftover)
    if owned is None:
        if kind == "new":
            return  # killed while writing: it holds only files of its set
        owned = set()
    for name in os.listdir(leftover):
        if name != MANIFEST and name not in owned and not os.path.lexists(target / name):
            os.rename(leftover / name, target / name)


def _read_manifest(folder: Path) -> set[str] | None:
    try:
        return set(json.loads((folder / MANIFEST).read_text(encoding="utf-8"))["files"])
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError):
        return set()  # unreadable: take nothing in the folder for jsim's, so nothing is lost


def _write_manifest(folder: Path, files) -> None:
    atomic_write(folder / MANIFEST, json.dumps({"written_by": "jsim", "files": sorted(files)}, indent=2) + "\n")


def _link_or_copy(src, dst) -> None:
    try:
        os.link(src, dst, follow_symlinks=False)
    except OSError:
        shutil.copy2(src, dst, follow_symlinks=False)


def _carry_over(entry: os.DirEntry, dst: Path) -> None:
    """Carry a file the user (or the study) keeps in the output folder into the new set's folder.

    Files are hard-linked (copied where links are not supported), so that they stay in place until
    the swap and a process appending to one (a study journal) keeps writing the same file; folders
    are moved (one rename, whatever their size; a killed commit gives them back, see :func:`_recover`).
    """
    if entry.is_dir(follow_symlinks=False):
        os.rename(entry.path, dst)
    else:
        _link_or_copy(entry.path, dst)


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _exchange(a: Path, b: Path) -> bool:
    """Swap two folders atomically with Linux's renameat2(RENAME_EXCHANGE); False where it is not available."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        fn = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return False
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    fn.restype = ctypes.c_int
    return fn(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0


def _commit(staging: Path, target: Path, replaces: Iterable[str]) -> None:
    """Put the complete set in ``staging`` in place of ``target`` (see the comment above)."""
    files = set(os.listdir(staging))
    _write_manifest(staging, files)
    if not os.path.lexists(target):
        os.rename(staging, target)
        return
    previous = _read_manifest(target)
    previous = set(replaces) if previous is None else previous
    with os.scandir(target) as entries:
        for entry in entries:
            if entry.name == MANIFEST or entry.name in previous or entry.name in files:
                continue
            if _LEFTOVER.fullmatch(entry.name):
                continue  # another process's staging folder (in-place commits)
            _carry_over(entry, staging / entry.name)
    os.chmod(staging, stat.S_IMODE(os.stat(target).st_mode))  # keep the folder's own permissions
    if _exchange(staging, target):
        shutil.rmtree(staging, ignore_errors=True)  # now the previous set
        return
    trash = target.parent / f".{target.name}.jsim-old-{_owner()}-{secrets.token_hex(4)}"
    os.rename(target, trash)
    try:
        os.rename(staging, target)
    except BaseException:  # an error or Ctrl-C between the renames: put the previous set back
        if not os.path.lexists(target):
            os.rename(trash, target)
        raise
    shutil.rmtree(trash, ignore_errors=True)


def _commit_in_place(staging: Path, target: Path, replaces: Iterable[str]) -> None:
    """Move the set in ``staging`` (inside ``target``) into ``target`` file by file, then drop the previous set's."""
    files = set(os.listdir(staging))
    previous = _read_manifest(target)
    previous = {n for n in replaces if (target / n).is_file()} if previous is None else previous
    _write_manifest(target, previous | files)  # a killed commit leaves no file the next run does not own
    for name in sorted(files):
        os.replace(staging / name, target / name)
    for name in previous - files:
        if (target / name).is_file():
            (target / name).unlink()
    _write_manifest(target, files)
    shutil.rmtree(staging, ignore_errors=True)


def _can_swap(target: Path) -> bool:
    """Whether ``target`` can be swapped: its parent is writable, it is no mount point, nor the working folder."""
    if not os.path.isdir(target):
        return True
    try:
        cwd = os.getcwd()
    except OSError:
        cwd = ""
    inside = cwd == str(target) or cwd.startswith(str(target) + os.sep)  # a swap would leave the shell nowhere
    return os.access(target.parent, os.W_OK | os.X_OK) and not os.path.ismount(target) and not inside


_FIXES = {
    errno.ENOSPC: "free some space on that disk, or choose a folder on another disk",
    errno.EDQUOT: "free some space within your disk quota, or choose a folder on another disk",
    errno.EACCES: "choose a folder you can write to, or give yourself write permission (chmod u+w)",
    errno.EPERM: "choose a folder you can write to, or give yourself write permission (chmod u+w)",
    errno.EROFS: "the file system is read-only: choose a folder on a writable disk",
    errno.ENOTDIR: "choose a path that does not go through a file",
}


def _reason(exc: OSError) -> str:
    where = f" ({exc.filename})" if exc.filename else ""
    return f"{exc.strerror or exc}{where}"


def _output_error(out_dir, exc: OSError, *, kept: bool = True) -> OutputError:
    fix = _FIXES.get(exc.errno, "check the folder and the disk, then run the command again")
    state = (
        "the folder keeps its previous contents"
        if kept
        else "the folder (written file by file, as it cannot be swapped) may hold files of both runs"
    )
    return OutputError(
        f"output folder {out_dir}: the results could not be written: {_reason(exc)}; {state} ({fix})",
        params=("out_dir",),
    )


def _probe(folder: Path) -> None:
    """Create and remove a hidden folder in ``folder`` (OSError when that is not possible).

    It is named like a staging folder inside the target, so that the next run removes it if a kill
    came in between.
    """
    os.rmdir(tempfile.mkdtemp(prefix=f".jsim-new-{_owner()}-", dir=folder))


def check_output_dir(out_dir) -> None:
    """Check that ``out_dir`` can be created (or exists) and can be written into, before any work.

    Also finishes or cleans up what a run killed while committing its files left there (see
    :func:`output_set`). Creates nothing that stays.

    Raises
    ------
    InputError
        Naming the folder, the reason and a fix: a path through a regular file, a folder
        without write permission, a read-only file system.
    """
    path = Path(os.path.abspath(out_dir))

    def bad(rule: str, fix: str) -> InputError:
        return InputError(f"output folder {out_dir}: {rule} ({fix})", params=("out_dir",))

    if os.path.lexists(path) and not path.is_dir():
        raise bad("must be a folder, got a file", "choose another output folder, or move the file away")
    existing = path
    while not os.path.lexists(existing):
        existing = existing.parent
    if not existing.is_dir():
        raise bad(f"cannot be created: {existing} is a file, not a folder", _FIXES[errno.ENOTDIR])
    target = Path(os.path.realpath(path))
    try:
        if target.parent.is_dir():
            with _locked(target.parent):
                _recover(target)
        _probe(target if target.is_dir() else existing)
    except OSError as exc:
        what = "must be a folder jsim can write into" if target.is_dir() else "cannot be created"
        raise bad(f"{what}: {_reason(exc)}", _FIXES.get(exc.errno, "choose another output folder")) from exc


@contextmanager
def output_set(out_dir, *, replaces: Iterable[str] = ()):
    """Write one set of output files: ``with output_set(out) as folder:`` write every file into ``folder``.

    When the block ends without error the set replaces ``out_dir``'s previous set in one step:
    the folder then holds this set's files, the files jsim did not write there (listed in no
    manifest: the user's own, a study journal and its lock), and the hidden manifest
    :data:`MANIFEST`. When the block fails, ``out_dir`` is left as it was and nothing is left
    behind. Every file the block writes with :func:`atomic_path` (and the folder, when it is new)
    gets the permissions the user's umask gives; an existing folder keeps its own.

    Parameters
    ----------
    out_dir : str or path
        The output folder; created (with its parents) if missing.
    replaces : iterable of str
        File names the command writes: in a folder without a manifest (written by an older jsim)
        these are taken as the previous set's, and not carried over.

    Raises
    ------
    OutputError
        A file could not be written (disk full, permissions changed during the run), with the
        reason; ``out_dir`` keeps its previous contents.
    """
    target = Path(os.path.realpath(out_dir))
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with _locked(target.parent):
            _recover(target)
        in_place = not _can_swap(target)
        where, prefix = (target, "") if in_place else (target.parent, f".{target.name}")
        staging = Path(tempfile.mkdtemp(prefix=f"{prefix}.jsim-new-{_owner()}-", dir=where))
        os.chmod(staging, 0o777 & ~current_umask())
    except OSError as exc:
        raise _output_error(out_dir, exc) from exc
    committing = False
    try:
        yield staging
        with _locked(target.parent):
            committing = True
            (_commit_in_place if in_place else _commit)(staging, target, replaces)
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise _output_error(out_dir, exc, kept=not (in_place and committing)) from exc
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def add_to_set(out_dir, name: str, data: str | bytes) -> Path:
    """Write the file ``name`` into the output folder ``out_dir`` (atomically) as one of its set's files.

    Where ``out_dir`` has a manifest, ``name`` joins it, so that the next set written there replaces
    the file instead of carrying it over as the user's (a report of the previous run beside the new
    one's files). Returns the path written.

    Raises
    ------
    OutputError
        The file (or the manifest) could not be written; the folder keeps its previous contents.
    """
    folder = Path(out_dir)
    try:
        with _locked(Path(os.path.realpath(folder)).parent):  # the lock commits of that folder take
            atomic_write(folder / name, data)
            owned = _read_manifest(folder)
            if owned is not None and name not in owned:
                _write_manifest(folder, owned | {name})
    except OSError as exc:
        raise _output_error(out_dir, exc) from exc
    return folder / name
