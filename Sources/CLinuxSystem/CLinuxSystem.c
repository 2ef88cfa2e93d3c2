#define _GNU_SOURCE
#include "CLinuxSystem.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <linux/btrfs.h>
#include <linux/fs.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/vfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

const uint64_t MBCTL_RESOLVE_IN_ROOT = RESOLVE_IN_ROOT;
const uint64_t MBCTL_RESOLVE_BENEATH = RESOLVE_BENEATH;
const uint64_t MBCTL_RESOLVE_NO_MAGICLINKS = RESOLVE_NO_MAGICLINKS;
const uint64_t MBCTL_RESOLVE_NO_SYMLINKS = RESOLVE_NO_SYMLINKS;
const uint64_t MBCTL_RESOLVE_NO_XDEV = RESOLVE_NO_XDEV;
const int MBCTL_O_PATH = O_PATH;
const int MBCTL_SEEK_DATA = SEEK_DATA;
const int MBCTL_SEEK_HOLE = SEEK_HOLE;

int mbctl_openat2(int dirfd, const char *path, uint64_t flags, uint64_t mode, uint64_t resolve) {
    struct open_how how = {.flags = flags, .mode = mode, .resolve = resolve};
    return (int)syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
}

ssize_t mbctl_copy_file_range(int in_fd, int64_t *in_offset, int out_fd, int64_t *out_offset, size_t length) {
    loff_t in = *in_offset, out = *out_offset;
    ssize_t copied = copy_file_range(in_fd, &in, out_fd, &out, length, 0);
    *in_offset = in;
    *out_offset = out;
    return copied;
}

int mbctl_rename_noreplace(int olddirfd, const char *oldpath, int newdirfd, const char *newpath) {
    return renameat2(olddirfd, oldpath, newdirfd, newpath, RENAME_NOREPLACE);
}

int mbctl_lock_file(int fd, int wait, int shared) {
    struct flock lock = {.l_type = shared ? F_RDLCK : F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0, .l_pid = 0};
    int result;
    do {
        result = fcntl(fd, wait ? F_OFD_SETLKW : F_OFD_SETLK, &lock);
    } while (result != 0 && errno == EINTR);
    return result;
}

int mbctl_file_is_locked(int fd) {
    struct flock lock = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0, .l_pid = 0};
    if (fcntl(fd, F_OFD_GETLK, &lock) != 0) return -1;
    return lock.l_type != F_UNLCK;
}

int mbctl_is_btrfs(int fd) {
    struct statfs info;
    if (fstatfs(fd, &info) != 0) return -1;
    return info.f_type == BTRFS_SUPER_MAGIC;
}

static int copy_name(char *target, size_t size, const char *name) {
    if (strlen(name) >= size) {
        errno = ENAMETOOLONG;
        return -1;
    }
    strcpy(target, name);
    return 0;
}

int mbctl_btrfs_create_subvolume(int dirfd, const char *name) {
    struct btrfs_ioctl_vol_args args;
    memset(&args, 0, sizeof(args));
    if (copy_name(args.name, sizeof(args.name), name) != 0) return -1;
    return ioctl(dirfd, BTRFS_IOC_SUBVOL_CREATE, &args);
}

int mbctl_btrfs_snapshot(int source, int dirfd, const char *name, int read_only) {
    struct btrfs_ioctl_vol_args_v2 args;
    memset(&args, 0, sizeof(args));
    args.fd = source;
    args.flags = read_only ? BTRFS_SUBVOL_RDONLY : 0;
    if (copy_name(args.name, sizeof(args.name), name) != 0) return -1;
    return ioctl(dirfd, BTRFS_IOC_SNAP_CREATE_V2, &args);
}

int mbctl_btrfs_set_read_only(int fd) {
    __u64 flags = BTRFS_SUBVOL_RDONLY;
    return ioctl(fd, BTRFS_IOC_SUBVOL_SETFLAGS, &flags);
}

int mbctl_btrfs_destroy_subvolume(int dirfd, const char *name) {
    struct btrfs_ioctl_vol_args args;
    memset(&args, 0, sizeof(args));
    if (copy_name(args.name, sizeof(args.name), name) != 0) return -1;
    return ioctl(dirfd, BTRFS_IOC_SNAP_DESTROY, &args);
}

int mbctl_clone_file(int destination, int source) {
    return ioctl(destination, FICLONE, source);
}

dev_t mbctl_makedev(unsigned int major, unsigned int minor) {
    return makedev(major, minor);
}
