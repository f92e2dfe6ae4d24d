#ifndef ALTO_CALTOLINUX_H
#define ALTO_CALTOLINUX_H

#include <sys/types.h>

/* Linux file calls that Glibc's Swift module does not export: extended attributes, hole punching, O_NOATIME. */
int alto_punch_hole(int fd, off_t offset, off_t length);
ssize_t alto_getxattr(const char *path, const char *name, void *value, size_t size);
int alto_fsetxattr(int fd, const char *name, const void *value, size_t size);
int alto_fremovexattr(int fd, const char *name);
int alto_removexattr(const char *path, const char *name);
/* Opens a file for reading without updating its access time where the caller may (owner or CAP_FOWNER), and
   normally where it may not; never follows a final symbolic link. */
int alto_openat_read_noatime(int dirfd, const char *name);

#endif
