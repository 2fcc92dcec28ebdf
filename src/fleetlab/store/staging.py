"""A private folder inside an export's DIR: the files are written there, then swapped into DIR all or nothing.

    DIR/.fleetlab-export-XXXXXXXX/   mode 0700, made by mkdtemp inside DIR
        new/NAME     the files being written, created with O_CREAT|O_EXCL|O_NOFOLLOW
        old/NAME     DIR's previous files, moved aside during the swap
        swap.json    present while the swap runs: the names being put in place

Nothing is ever written through a name in DIR: the files are made in the private folder, and a rename
moves a name without following it (a symlink planted at a final name is replaced; its target is not
touched). A failure before or during the swap puts the previous files back and removes the folder. A
process killed during the swap leaves its folder behind, swap.json in it: the next export into DIR
(which holds DIR's lock, so no other export is running there) puts the previous files back from it
before anything else. Leftover folders of ours are removed; other users' are left alone.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import shutil
import stat
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import BinaryIO

from .. import faults
from ..errors import ConfigError, FleetlabError

PREFIX = ".fleetlab-export-"
JOURNAL = "swap.json"


class Stage:
    """The private folder of one export: `create` files in it, then `commit` them into DIR."""

    def __init__(self, directory: Path, private: Path, owned: Sequence[str], overwrite: bool):
        self.directory = directory
        self.private = private
        self.owned = tuple(owned)
        self.overwrite = overwrite
        self.written: list[str] = []
        (private / "new").mkdir(mode=0o700)
        (private / "old").mkdir(mode=0o700)

    @contextlib.contextmanager
    def create(self, name: str) -> Iterator[BinaryIO]:
        """A new file `name` (one of the owned names) to write, on disk (fsynced) once the block ends."""
        if name not in self.owned:
            raise ValueError(f"{name!r} is not one of the names this export owns")
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        with os.fdopen(os.open(self.private / "new" / name, flags, 0o644), "wb") as out:
            yield out
            out.flush()
            os.fsync(out.fileno())
        self.written.append(name)

    def commit(self) -> None:
        """Move DIR's previous files of the owned names aside, the new ones into place, then drop the old ones.

        Any failure puts the previous files back before it is raised."""
        _write_journal(self.private, self.written)
        faults.reached("export:before-swap")
        try:
            swapped = 0
            for name in self.owned:
                final = self.directory / name
                if _exists(final):
                    if not self.overwrite:  # made since the check at the start
                        raise ConfigError(
                            f"{final} appeared while the export ran; nothing was changed. Pass "
                            "--overwrite to replace it, or choose an empty folder."
                        )
                    _refuse_folder(final)
                    os.rename(final, self.private / "old" / name)
                if name in self.written:
                    os.replace(self.private / "new" / name, final)
                    swapped += 1
                    if swapped == 1:
                        faults.reached("export:mid-swap")
            _fsync(self.directory)
            os.unlink(self.private / JOURNAL)  # the commit point: from here the new files stay
        except BaseException:
            rollback(self.directory, self.private, self.owned)
            raise
        _remove(self.private)


@contextlib.contextmanager
def staged(directory: Path, owned: Sequence[str], *, overwrite: bool) -> Iterator[Stage]:
    """A Stage in a new private folder inside `directory` (an existing folder), which stays locked meanwhile.

    Refuses (ConfigError) when `directory` holds a file of the `owned` names and not `overwrite`, or a
    folder at one of them. On any failure DIR is left as it was and the private folder removed."""
    try:
        lock = _lock(directory)
    except OSError as exc:
        raise ConfigError(f"cannot write into {directory} ({_why(exc)}): give a folder you can write to.") from None
    try:
        try:
            if lock is not None:  # without a lock, a leftover folder may be a running export's
                for private in _leftovers(directory):
                    rollback(directory, private, owned)
            present = [name for name in owned if _exists(directory / name)]
            for name in present:
                _refuse_folder(directory / name)
            if present and not overwrite:
                raise ConfigError(
                    f"{directory} already holds {', '.join(present)}; pass --overwrite to replace "
                    "them (every file of an earlier export goes), or choose an empty folder."
                )
            private = Path(tempfile.mkdtemp(dir=directory, prefix=PREFIX))
        except OSError as exc:
            raise ConfigError(f"cannot write into {directory} ({_why(exc)}): give a folder you can write to.") from None
        try:
            yield Stage(directory, private, owned, overwrite)
        except OSError as exc:
            rollback(directory, private, owned)
            raise FleetlabError(
                f"writing the export into {directory} failed ({_why(exc)}); {directory} was left "
                "as it was. Free some space or choose another folder, then export again."
            ) from None
        except BaseException:
            rollback(directory, private, owned)
            raise
        _remove(private)  # nothing committed (a caller that stopped early): nothing to keep
    finally:
        if lock is not None:
            os.close(lock)


def rollback(directory: Path, private: Path, owned: Sequence[str]) -> None:
    """Put DIR's previous files back from `private` and remove it: a swap that failed or was cut short.

    Each new file already in place (named in swap.json, gone from new/) goes back to new/ first, then the
    previous file of its name (if any) back into DIR: cut short at any step, running it again finishes
    the job. Only the `owned` names are touched."""
    if not private.exists():  # already rolled back (a failure in commit, then the context's own)
        return
    try:
        journal = _read_journal(private)
        for name in owned:
            final, new, old = directory / name, private / "new" / name, private / "old" / name
            if name in journal and not _exists(new) and _exists(final):
                os.rename(final, new)
            if _exists(old):
                os.replace(old, final)
        _fsync(directory)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(private / JOURNAL)
    except OSError as exc:
        raise FleetlabError(
            f"the export into {directory} failed and putting its previous files back failed too "
            f"({_why(exc)}): they are in {private / 'old'}; move them back into {directory} by hand."
        ) from None
    _remove(private)


def _leftovers(directory: Path) -> list[Path]:
    """The private folders of exports into `directory` that ended without cleaning up, ours only."""
    found = []
    with os.scandir(directory) as entries:
        for entry in entries:
            if not entry.name.startswith(PREFIX):
                continue
            st = entry.stat(follow_symlinks=False)
            if stat.S_ISDIR(st.st_mode) and st.st_uid == os.geteuid():
                found.append(Path(entry.path))
    return found


def _lock(directory: Path) -> int | None:
    """An exclusive lock on `directory` (its open descriptor), or None where the file system has none."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise ConfigError(
            f"another fleetlab export is writing into {directory}; wait for it to end, or choose another folder."
        ) from None
    except OSError:
        os.close(fd)
        return None
    return fd


def _write_journal(private: Path, names: list[str]) -> None:
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    with os.fdopen(os.open(private / JOURNAL, flags, 0o600), "w", encoding="utf-8") as out:
        json.dump(names, out)
        out.flush()
        os.fsync(out.fileno())
    _fsync(private)


def _read_journal(private: Path) -> set[str]:
    """The names a swap put (or was putting) in place; empty when it never started."""
    try:
        names = json.loads((private / JOURNAL).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return set()
    except ValueError:  # cut short while written: the swap had not started
        return set()
    return {n for n in names if isinstance(n, str)}


def _exists(path: Path) -> bool:
    """Whether anything is at `path`, a dangling symlink included."""
    return os.path.lexists(path)


def _refuse_folder(path: Path) -> None:
    if stat.S_ISDIR(os.lstat(path).st_mode):
        raise ConfigError(f"{path} is a folder, where the export writes a file; move it away or choose another folder.")


def _fsync(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    except OSError as exc:
        if exc.errno not in (errno.EINVAL, errno.ENOTSUP):  # file systems that cannot sync a folder
            raise
    finally:
        os.close(fd)


def _remove(private: Path) -> None:
    shutil.rmtree(private, ignore_errors=True)


def _why(exc: OSError) -> str:
    """The reason alone, without the private folder's path (polars' errors carry only a message)."""
    return exc.strerror or str(exc) or type(exc).__name__
