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

dev_t mbctl_makedev(unsigned int major, unsigned int minor);

/// resolve flags of <linux/openat2.h>, as constants Swift can import.
extern const uint64_t MBCTL_RESOLVE_IN_ROOT;
extern const uint64_t MBCTL_RESOLVE_NO_MAGICLINKS;
extern const uint64_t MBCTL_RESOLVE_NO_SYMLINKS;
extern const uint64_t MBCTL_RESOLVE_NO_XDEV;

/// O_PATH, which Swift's Glibc module does not export.
extern const int MBCTL_O_PATH;

#endif
