#ifndef MBCTL_CLINUXSYSTEM_H
#define MBCTL_CLINUXSYSTEM_H

// Linux calls Swift cannot reach directly: openat2(2) has no glibc wrapper (and syscall(2) is
// variadic), and makedev/major/minor are macros.

#include <stdint.h>
#include <sys/types.h>
#include <sys/xattr.h>

/// openat2(2) with the given resolve flags (RESOLVE_IN_ROOT, RESOLVE_NO_MAGICLINKS, ...).
/// Returns a file descriptor, or -1 with errno set.
int mbctl_openat2(int dirfd, const char *path, uint64_t flags, uint64_t mode, uint64_t resolve);

/// copy_file_range(2), which glibc declares only under _GNU_SOURCE.
ssize_t mbctl_copy_file_range(int in_fd, int64_t *in_offset, int out_fd, int64_t *out_offset, size_t length);

/// renameat2(2) with RENAME_NOREPLACE: fails with EEXIST rather than replace `newpath`.
int mbctl_rename_noreplace(int olddirfd, const char *oldpath, int newdirfd, const char *newpath);

/// An open-file-description lock (F_OFD_SETLK) on the whole file, exclusive or shared: released
/// when the descriptor is closed, also by a process that is killed. With `wait` 0, fails with
/// EAGAIN at once when another description holds a conflicting one. Returns 0 or -1 with errno.
int mbctl_lock_file(int fd, int wait, int shared);

/// Whether another open file description holds a lock on fd's file (F_OFD_GETLK): 1 yes, 0 no,
/// -1 with errno set.
int mbctl_file_is_locked(int fd);

/// Whether the file system holding `fd` is btrfs: 1 yes, 0 no, -1 with errno set.
int mbctl_is_btrfs(int fd);

/// btrfs: creates the subvolume `name` in directory `dirfd` (BTRFS_IOC_SUBVOL_CREATE).
int mbctl_btrfs_create_subvolume(int dirfd, const char *name);

/// btrfs: snapshots the subvolume open as `source` as `name` in directory `dirfd`
/// (BTRFS_IOC_SNAP_CREATE_V2), read-only when `read_only`.
int mbctl_btrfs_snapshot(int source, int dirfd, const char *name, int read_only);

/// btrfs: makes the subvolume open as `fd` read-only (BTRFS_IOC_SUBVOL_SETFLAGS).
int mbctl_btrfs_set_read_only(int fd);

/// btrfs: deletes the subvolume `name` of directory `dirfd` and all it holds, in one step
/// (BTRFS_IOC_SNAP_DESTROY).
int mbctl_btrfs_destroy_subvolume(int dirfd, const char *name);

/// Makes `destination` share all of `source`'s data extents (FICLONE, a reflink): 0, or -1
/// with errno set (EOPNOTSUPP, EXDEV, EINVAL where the file system cannot).
int mbctl_clone_file(int destination, int source);

dev_t mbctl_makedev(unsigned int major, unsigned int minor);

/// resolve flags of <linux/openat2.h>, as constants Swift can import.
extern const uint64_t MBCTL_RESOLVE_IN_ROOT;
extern const uint64_t MBCTL_RESOLVE_BENEATH;
extern const uint64_t MBCTL_RESOLVE_NO_MAGICLINKS;
extern const uint64_t MBCTL_RESOLVE_NO_SYMLINKS;
extern const uint64_t MBCTL_RESOLVE_NO_XDEV;

/// lseek whences of sparse files (_GNU_SOURCE only).
extern const int MBCTL_SEEK_DATA;
extern const int MBCTL_SEEK_HOLE;

/// O_PATH, which Swift's Glibc module does not export.
extern const int MBCTL_O_PATH;

#endif
