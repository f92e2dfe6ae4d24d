#define _GNU_SOURCE
#include "CAltoLinux.h"
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <string.h>
#include <sys/fanotify.h>
#include <sys/file.h>
#include <linux/openat2.h>
#include <pthread.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <signal.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/vfs.h>
#include <sys/xattr.h>
#include <unistd.h>

#ifndef FAN_PRE_ACCESS
#define FAN_PRE_ACCESS 0x00100000
#endif
#ifndef FAN_EVENT_INFO_TYPE_RANGE
#define FAN_EVENT_INFO_TYPE_RANGE 6
#endif
#ifndef FAN_MARK_IGNORE
#define FAN_MARK_IGNORE 0x00000400
#endif
#ifndef FAN_MARK_EVICTABLE
#define FAN_MARK_EVICTABLE 0x00000200
#endif
#define ALTO_FAN_DENY_ERRNO(e) (FAN_DENY | ((((unsigned)(e)) & 0xff) << 24))

struct alto_fanotify_range {
    struct fanotify_event_info_header header;
    uint32_t pad;
    uint64_t offset;
    uint64_t count;
};

const int alto_o_noatime = O_NOATIME;
const int alto_o_path = O_PATH;

int alto_punch_hole(int fd, off_t offset, off_t length) {
    return fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, offset, length);
}

ssize_t alto_getxattr(const char *path, const char *name, void *value, size_t size) {
    return getxattr(path, name, value, size);
}

ssize_t alto_fgetxattr(int fd, const char *name, void *value, size_t size) {
    return fgetxattr(fd, name, value, size);
}

int alto_fsetxattr(int fd, const char *name, const void *value, size_t size) {
    return fsetxattr(fd, name, value, size, 0);
}

int alto_fremovexattr(int fd, const char *name) {
    return fremovexattr(fd, name);
}

int alto_openat_read_noatime(int dirfd, const char *name) {
    int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOATIME);
    if (fd < 0 && errno == EPERM) {
        fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    }
    return fd;
}

int alto_set_lease(int fd, int type) { return fcntl(fd, F_SETLEASE, type); }
int alto_lease_write(void) { return F_WRLCK; }
int alto_lease_none(void) { return F_UNLCK; }

int alto_lock_whole(int fd, int locked) {
    struct flock lock = { .l_type = locked ? F_WRLCK : F_UNLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0 };
    int result;
    do {
        result = fcntl(fd, locked ? F_OFD_SETLKW : F_OFD_SETLK, &lock);
    } while (result != 0 && errno == EINTR);
    return result;
}

int alto_has_foreign_lock(int fd) {
    struct flock probe = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0 };
    if (fcntl(fd, F_OFD_GETLK, &probe) == 0 && probe.l_type != F_UNLCK) {
        return 1;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        return errno == EWOULDBLOCK;
    }
    flock(fd, LOCK_UN);
    return 0;
}

int alto_fanotify_init(void) {
    return fanotify_init(FAN_CLASS_PRE_CONTENT | FAN_CLOEXEC | FAN_UNLIMITED_QUEUE,
                         O_RDWR | O_LARGEFILE | O_CLOEXEC);
}

int alto_fanotify_mark_mount(int group, const char *path) {
    return fanotify_mark(group, FAN_MARK_ADD | FAN_MARK_MOUNT, FAN_PRE_ACCESS | FAN_OPEN_PERM, AT_FDCWD, path);
}

int alto_fanotify_ignore(int group, int file) {
    return fanotify_mark(group, FAN_MARK_ADD | FAN_MARK_INODE | FAN_MARK_IGNORE | FAN_MARK_EVICTABLE,
                         FAN_PRE_ACCESS | FAN_OPEN_PERM, file, NULL);
}

int alto_fanotify_ignore_until_removed(int group, int file) {
    return fanotify_mark(group, FAN_MARK_ADD | FAN_MARK_INODE | FAN_MARK_IGNORE | FAN_MARK_IGNORED_SURV_MODIFY,
                         FAN_PRE_ACCESS | FAN_OPEN_PERM, file, NULL);
}

int alto_fanotify_unignore(int group, int file) {
    return fanotify_mark(group, FAN_MARK_REMOVE | FAN_MARK_INODE | FAN_MARK_IGNORE, FAN_PRE_ACCESS | FAN_OPEN_PERM, file, NULL);
}

int alto_fanotify_respond(int group, int file, int allow, int error) {
    struct fanotify_response response = {
        .fd = file,
        .response = allow ? FAN_ALLOW : ALTO_FAN_DENY_ERRNO(error),
    };
    return write(group, &response, sizeof response) == sizeof response ? 0 : -1;
}

int alto_fanotify_is_open(const struct alto_fanotify_event *event) {
    return (event->mask & FAN_OPEN_PERM) != 0;
}

int alto_fanotify_next(const void *buffer, size_t length, size_t *position, struct alto_fanotify_event *event) {
    if (*position >= length) {
        return 0;
    }
    const struct fanotify_event_metadata *metadata = (const void *)((const char *)buffer + *position);
    size_t left = length - *position;
    if (!FAN_EVENT_OK(metadata, left)) {
        return 0;
    }
    memset(event, 0, sizeof *event);
    event->fd = metadata->fd;
    event->pid = metadata->pid;
    event->mask = metadata->mask;
    const char *info = (const char *)(metadata + 1);
    const char *end = (const char *)metadata + metadata->event_len;
    while (info + sizeof(struct fanotify_event_info_header) <= end) {
        const struct fanotify_event_info_header *header = (const void *)info;
        if (header->len == 0) {
            break;
        }
        if (header->info_type == FAN_EVENT_INFO_TYPE_RANGE && info + sizeof(struct alto_fanotify_range) <= end) {
            const struct alto_fanotify_range *range = (const void *)info;
            event->offset = range->offset;
            event->count = range->count;
            event->has_range = 1;
        }
        info += header->len;
    }
    *position += metadata->event_len;
    return 1;
}

/* sendmsg of `data` with `fd` attached (unless -1), to `address` when it is not NULL (a datagram socket). */
static ssize_t alto_send_message(int socket, void *address, socklen_t address_length, int fd, const void *data, size_t length) {
    struct iovec vector = { .iov_base = (void *)data, .iov_len = length };
    union {
        char bytes[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } control;
    memset(&control, 0, sizeof control);
    struct msghdr message = { .msg_name = address, .msg_namelen = address_length, .msg_iov = &vector, .msg_iovlen = 1 };
    if (fd >= 0) {
        message.msg_control = control.bytes;
        message.msg_controllen = sizeof control.bytes;
        struct cmsghdr *header = CMSG_FIRSTHDR(&message);
        header->cmsg_level = SOL_SOCKET;
        header->cmsg_type = SCM_RIGHTS;
        header->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(header), &fd, sizeof(int));
    }
    ssize_t sent;
    do {
        sent = sendmsg(socket, &message, MSG_NOSIGNAL);
    } while (sent < 0 && errno == EINTR);
    return sent;
}

ssize_t alto_send_fd(int socket, int fd, const void *data, size_t length) {
    return alto_send_message(socket, NULL, 0, fd, data, length);
}

ssize_t alto_receive_fd(int socket, int *fd, void *data, size_t length) {
    struct iovec vector = { .iov_base = data, .iov_len = length };
    union {
        char bytes[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } control;
    struct msghdr message = { .msg_iov = &vector, .msg_iovlen = 1, .msg_control = control.bytes,
                              .msg_controllen = sizeof control.bytes };
    ssize_t received;
    do {
        received = recvmsg(socket, &message, MSG_CMSG_CLOEXEC);
    } while (received < 0 && errno == EINTR);
    *fd = -1;
    for (struct cmsghdr *header = CMSG_FIRSTHDR(&message); header; header = CMSG_NXTHDR(&message, header)) {
        if (header->cmsg_level == SOL_SOCKET && header->cmsg_type == SCM_RIGHTS) {
            memcpy(fd, CMSG_DATA(header), sizeof(int));
        }
    }
    return received;
}

int alto_peer_pid(int socket) {
    struct ucred credentials;
    socklen_t size = sizeof credentials;
    if (getsockopt(socket, SOL_SOCKET, SO_PEERCRED, &credentials, &size) != 0) {
        return -1;
    }
    return credentials.pid;
}

int alto_fanotify_fail_stranded(int group, int limit, int error) {
    int answered = 0;
    for (int fd = 0; fd < limit; fd++) {
        struct fanotify_response response = { .fd = fd, .response = ALTO_FAN_DENY_ERRNO(error) };
        // Several stranded events may share a number only if the reader closed one before reading the next, so
        // a number is tried again until no event waits on it.
        while (write(group, &response, sizeof response) == sizeof response) {
            answered++;
        }
    }
    return answered;
}

int alto_fanotify_fail_queued(int group, int error) {
    int flags = fcntl(group, F_GETFL);
    if (flags < 0 || fcntl(group, F_SETFL, flags | O_NONBLOCK) != 0) {
        return -1;
    }
    int answered = 0;
    char buffer[16384] __attribute__((aligned(8)));
    for (;;) {
        ssize_t length = read(group, buffer, sizeof buffer);
        if (length <= 0) {
            if (length < 0 && errno == EINTR) continue;
            break;
        }
        size_t position = 0;
        struct alto_fanotify_event event;
        while (alto_fanotify_next(buffer, (size_t)length, &position, &event)) {
            if (event.fd < 0) continue;
            if (alto_fanotify_respond(group, event.fd, 0, error) == 0) answered++;
            close(event.fd);
        }
    }
    fcntl(group, F_SETFL, flags);
    return answered;
}

pid_t alto_spawn(const char *path, char *const argv[], char *const envp[], const int *fds, int count, int new_session,
                 const char *log) {
    // The descriptors are first moved above every target number, so that placing one cannot overwrite another.
    int moved[16];
    if (count < 0 || count > 16) {
        errno = EINVAL;
        return -1;
    }
    for (int i = 0; i < count; i++) {
        moved[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, 3 + count);
        if (moved[i] < 0) {
            int saved = errno;
            while (i-- > 0) close(moved[i]);
            errno = saved;
            return -1;
        }
    }
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attributes;
    posix_spawn_file_actions_init(&actions);
    posix_spawnattr_init(&attributes);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    if (log) {
        posix_spawn_file_actions_addopen(&actions, 1, log, O_WRONLY | O_CREAT | O_APPEND, 0600);
        posix_spawn_file_actions_adddup2(&actions, 1, 2);
    }
    for (int i = 0; i < count; i++) {
        posix_spawn_file_actions_adddup2(&actions, moved[i], 3 + i);
    }
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawnattr_setsigmask(&attributes, &none);
    posix_spawnattr_setsigdefault(&attributes, &all);
    short flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
    if (new_session) {
        flags |= POSIX_SPAWN_SETSID;
    }
    posix_spawnattr_setflags(&attributes, flags);
    pid_t pid = -1;
    int failure = posix_spawn(&pid, path, &actions, &attributes, argv, envp);
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attributes);
    for (int i = 0; i < count; i++) {
        close(moved[i]);
    }
    if (failure != 0) {
        errno = failure;
        return -1;
    }
    return pid;
}

int alto_notify_service_manager(const char *state, int fd) {
    const char *path = getenv("NOTIFY_SOCKET");
    if (path == NULL || path[0] == 0) {
        return 0;
    }
    struct sockaddr_un address;
    memset(&address, 0, sizeof address);
    address.sun_family = AF_UNIX;
    size_t length = strlen(path);
    if (length >= sizeof address.sun_path) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(address.sun_path, path, length);
    if (address.sun_path[0] == '@') {
        address.sun_path[0] = 0;
    }
    int socket_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (socket_fd < 0) {
        return -1;
    }
    ssize_t sent = alto_send_message(socket_fd, &address, (socklen_t)(offsetof(struct sockaddr_un, sun_path) + length), fd,
                                     state, strlen(state));
    int saved = errno;
    close(socket_fd);
    errno = saved;
    return sent < 0 ? -1 : 1;
}

int alto_pidfd_open(pid_t pid) {
    return (int)syscall(SYS_pidfd_open, pid, 0);
}

int alto_open_beneath(int dirfd, const char *path, int flags, int cross_mounts) {
    struct open_how how = {
        .flags = (uint64_t)(flags | O_CLOEXEC | O_NOFOLLOW),
        .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | (cross_mounts ? 0 : RESOLVE_NO_XDEV),
    };
    if (how.flags & O_CREAT) {
        how.mode = 0600;
    }
    int fd;
    do {
        fd = (int)syscall(SYS_openat2, dirfd, path, &how, sizeof how);
    } while (fd < 0 && errno == EAGAIN);
    return fd;
}

static int alto_termination_pipe[2] = {-1, -1};

static void alto_note_termination(int signal) {
    (void)signal;
    int saved = errno;
    char byte = 1;
    (void)write(alto_termination_pipe[1], &byte, 1);
    errno = saved;
}

int alto_termination_fd(void) {
    // A handler rather than signalfd: signalfd sees a signal only when every thread blocks it, and the Swift
    // runtime's threads are already running; whichever thread the kernel picks, the handler writes to the pipe.
    // Called once, by the guard's one thread, before it watches anything.
    if (alto_termination_pipe[0] >= 0) {
        return alto_termination_pipe[0];
    }
    if (pipe2(alto_termination_pipe, O_CLOEXEC | O_NONBLOCK) != 0) {
        return -1;
    }
    struct sigaction action;
    memset(&action, 0, sizeof(action));
    action.sa_handler = alto_note_termination;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESTART;
    // A parent may have left the signals blocked or ignored (both are inherited): take them back for this thread.
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGINT);
    if (sigaction(SIGTERM, &action, NULL) != 0 || sigaction(SIGINT, &action, NULL) != 0
        || pthread_sigmask(SIG_UNBLOCK, &signals, NULL) != 0) {
        close(alto_termination_pipe[0]);
        close(alto_termination_pipe[1]);
        alto_termination_pipe[0] = alto_termination_pipe[1] = -1;
        return -1;
    }
    return alto_termination_pipe[0];
}

int alto_file_system_id(int fd, uint64_t *fsid) {
    struct statfs info;
    if (fstatfs(fd, &info) != 0) return -1;
    uint64_t high = (uint32_t)info.f_fsid.__val[0], low = (uint32_t)info.f_fsid.__val[1];
    *fsid = high << 32 | low;
    return 0;
}

int alto_file_handle(int fd, int *type, unsigned char *bytes, unsigned int capacity, uint64_t *fsid) {
    struct file_handle *handle = malloc(sizeof(struct file_handle) + capacity);
    if (handle == NULL) return -1;
    handle->handle_bytes = capacity;
    int mount_id;
    if (name_to_handle_at(fd, "", handle, &mount_id, AT_EMPTY_PATH) != 0 || alto_file_system_id(fd, fsid) != 0) {
        int saved = errno;
        free(handle);
        errno = saved;
        return -1;
    }
    *type = handle->handle_type;
    unsigned int length = handle->handle_bytes;
    memcpy(bytes, handle->f_handle, length);
    free(handle);
    return (int)length;
}

int alto_open_handle(int mount_fd, int type, const unsigned char *bytes, unsigned int length) {
    struct file_handle *handle = malloc(sizeof(struct file_handle) + length);
    if (handle == NULL) return -1;
    handle->handle_bytes = length;
    handle->handle_type = type;
    memcpy(handle->f_handle, bytes, length);
    int fd = open_by_handle_at(mount_fd, handle, O_PATH | O_CLOEXEC);
    int saved = errno;
    free(handle);
    errno = saved;
    return fd;
}
