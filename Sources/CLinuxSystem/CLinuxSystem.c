#define _GNU_SOURCE
#include "CLinuxSystem.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

const uint64_t MBCTL_RESOLVE_IN_ROOT = RESOLVE_IN_ROOT;
const uint64_t MBCTL_RESOLVE_NO_MAGICLINKS = RESOLVE_NO_MAGICLINKS;
const uint64_t MBCTL_RESOLVE_NO_SYMLINKS = RESOLVE_NO_SYMLINKS;
const uint64_t MBCTL_RESOLVE_NO_XDEV = RESOLVE_NO_XDEV;
const int MBCTL_O_PATH = O_PATH;

int mbctl_openat2(int dirfd, const char *path, uint64_t flags, uint64_t mode, uint64_t resolve) {
    struct open_how how = {.flags = flags, .mode = mode, .resolve = resolve};
    return (int)syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
}

dev_t mbctl_makedev(unsigned int major, unsigned int minor) {
    return makedev(major, minor);
}
