#define _GNU_SOURCE
#include "CAltoLinux.h"
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <sys/xattr.h>

int alto_punch_hole(int fd, off_t offset, off_t length) {
    return fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, offset, length);
}

ssize_t alto_getxattr(const char *path, const char *name, void *value, size_t size) {
    return getxattr(path, name, value, size);
}

int alto_fsetxattr(int fd, const char *name, const void *value, size_t size) {
    return fsetxattr(fd, name, value, size, 0);
}

int alto_fremovexattr(int fd, const char *name) {
    return fremovexattr(fd, name);
}

int alto_removexattr(const char *path, const char *name) {
    return removexattr(path, name);
}

int alto_openat_read_noatime(int dirfd, const char *name) {
    int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOATIME);
    if (fd < 0 && errno == EPERM) {
        fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    }
    return fd;
}
