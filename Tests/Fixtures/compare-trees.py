#!/usr/bin/env python3
"""Compares two root filesystems entry by entry, for mbctl's differential tests.

    compare-trees.py EXPECTED ACTUAL

Compares, for every path: type, permission bits (setuid/setgid/sticky included), uid, gid,
size and SHA-256 of regular files, symlink targets, device numbers, extended attributes,
hardlink groups, and the mtime of everything that is not a directory. Prints each difference
and exits 1 if there is any; prints the number of entries compared otherwise.
"""
import hashlib
import os
import stat
import sys


def describe(root):
    entries, inodes = {}, {}
    for directory, dirs, files in os.walk(root):
        for name in dirs + files:
            full = os.path.join(directory, name)
            rel = os.path.relpath(full, root)
            info = os.lstat(full)
            kind = stat.S_IFMT(info.st_mode)
            record = {"type": kind, "uid": info.st_uid, "gid": info.st_gid}
            if not stat.S_ISLNK(info.st_mode):
                record["mode"] = oct(stat.S_IMODE(info.st_mode))
            if not stat.S_ISDIR(info.st_mode):
                record["mtime"] = info.st_mtime_ns
            if stat.S_ISREG(info.st_mode):
                record["size"] = info.st_size
                with open(full, "rb") as f:
                    record["sha256"] = hashlib.sha256(f.read()).hexdigest()
                inodes.setdefault((info.st_dev, info.st_ino), []).append(rel)
            if stat.S_ISLNK(info.st_mode):
                record["target"] = os.readlink(full)
                inodes.setdefault((info.st_dev, info.st_ino), []).append(rel)
            if stat.S_ISCHR(info.st_mode) or stat.S_ISBLK(info.st_mode):
                record["rdev"] = (os.major(info.st_rdev), os.minor(info.st_rdev))
            try:
                names = os.listxattr(full, follow_symlinks=False)
            except OSError:
                names = []
            record["xattrs"] = {n: os.getxattr(full, n, follow_symlinks=False).hex() for n in sorted(names)}
            entries[rel] = record
    groups = sorted(sorted(paths) for paths in inodes.values() if len(paths) > 1)
    return entries, groups


def main():
    expected, expected_groups = describe(sys.argv[1])
    actual, actual_groups = describe(sys.argv[2])
    problems = []
    for path in sorted(set(expected) | set(actual)):
        if path not in actual:
            problems.append(f"missing: {path}")
        elif path not in expected:
            problems.append(f"unexpected: {path}")
        else:
            for key in sorted(set(expected[path]) | set(actual[path])):
                if expected[path].get(key) != actual[path].get(key):
                    problems.append(f"{path}: {key} expected {expected[path].get(key)!r}, got {actual[path].get(key)!r}")
    if expected_groups != actual_groups:
        problems.append(f"hardlink groups differ: expected {expected_groups}, got {actual_groups}")
    for problem in problems:
        print(problem)
    if problems:
        sys.exit(1)
    print(f"{len(expected)} entries equal, {len(expected_groups)} hardlink groups equal")


if __name__ == "__main__":
    main()
