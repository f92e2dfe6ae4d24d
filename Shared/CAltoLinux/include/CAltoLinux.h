#ifndef ALTO_CALTOLINUX_H
#define ALTO_CALTOLINUX_H

#include <stdint.h>
#include <sys/types.h>

/* Linux file calls that Glibc's Swift module does not export: extended attributes, hole punching, O_NOATIME,
   leases, fanotify pre-content events and descriptor passing. */
int alto_punch_hole(int fd, off_t offset, off_t length);
ssize_t alto_getxattr(const char *path, const char *name, void *value, size_t size);
ssize_t alto_fgetxattr(int fd, const char *name, void *value, size_t size);
int alto_fsetxattr(int fd, const char *name, const void *value, size_t size);
int alto_fremovexattr(int fd, const char *name);
/* Open flags that need _GNU_SOURCE, which Swift's Glibc module does not define. */
extern const int alto_o_noatime;
extern const int alto_o_path;

/* Opens a file for reading without updating its access time where the caller may (owner or CAP_FOWNER), and
   normally where it may not; never follows a final symbolic link. */
int alto_openat_read_noatime(int dirfd, const char *name);

/* F_SETLEASE (fcntl is variadic, so Swift cannot call it). `type` is F_WRLCK or F_UNLCK. */
int alto_set_lease(int fd, int type);
/* Nonzero when another process holds a POSIX, OFD or flock lock on the file that would conflict with writing. */
int alto_has_foreign_lock(int fd);
int alto_lease_write(void);
/* Takes (waiting) or gives up an open-file-description write lock on the whole file (F_OFD_SETLKW), which the
   recalls of one stub by different processes take turns on. */
int alto_lock_whole(int fd, int locked);
int alto_lease_none(void);

/* fanotify pre-content and open permission events (pre-content needs Linux 6.14 or later; Debian's headers predate them). */
int alto_fanotify_init(void);
int alto_fanotify_mark_mount(int group, const char *path);
/* Stops events for one inode until it is modified or evicted from the inode cache. */
int alto_fanotify_ignore(int group, int file);
/* Stops events for one inode, writes included, until alto_fanotify_unignore. */
int alto_fanotify_ignore_until_removed(int group, int file);
/* Removes an inode's ignore mark, so a file just made a stub is watched again. */
int alto_fanotify_unignore(int group, int file);
int alto_fanotify_respond(int group, int file, int allow, int error);

/* One pre-content event, as read from the group. */
struct alto_fanotify_event {
    int fd;
    int pid;
    uint64_t mask;
    uint64_t offset;
    uint64_t count;
    int has_range;
};
/* True for an open of a watched file (FAN_OPEN_PERM); false for a read or write of a range (FAN_PRE_ACCESS). */
int alto_fanotify_is_open(const struct alto_fanotify_event *event);
/* Decodes the event at `*position` of `buffer[0..<length]` and advances `*position`; returns 0 when none is left. */
int alto_fanotify_next(const void *buffer, size_t length, size_t *position, struct alto_fanotify_event *event);

/* Sends or receives one file descriptor with a few bytes of data over a Unix socket (SCM_RIGHTS). */
ssize_t alto_send_fd(int socket, int fd, const void *data, size_t length);
ssize_t alto_receive_fd(int socket, int *fd, void *data, size_t length);
/* The process id of a Unix socket's peer, or -1. */
int alto_peer_pid(int socket);
/* Answers, with `error`, the permission events a reader that is gone took from `group` and never answered: they wait
   on descriptor numbers of the dead reader's table, so each number below `limit` is tried. Only while no other
   process reads the group. Returns how many were answered. */
int alto_fanotify_fail_stranded(int group, int limit, int error);
/* Reads every event queued in `group` without waiting and answers each with `error`: before a group is let go,
   since the kernel lets every read still waiting in a released group through, onto the stubs' holes. Only while no
   other process reads the group. Returns how many were answered. */
int alto_fanotify_fail_queued(int group, int error);

/* Starts `path` with `argv` and `envp` (NULL-terminated), with `fds[i]` as descriptor 3 + i, standard input from
   /dev/null, standard output and error appended to `log` when it is not NULL, every signal at its default and
   unblocked, and in a session of its own when `new_session` is nonzero. Returns the process id, or -1 with errno. */
pid_t alto_spawn(const char *path, char *const argv[], char *const envp[], const int *fds, int count, int new_session,
                 const char *log);
/* Tells the service manager that started this process (systemd's NOTIFY_SOCKET) `state`, such as "READY=1" or
   "FDSTORE=1\nFDNAME=x", passing `fd` with it unless it is -1. Returns 0 when no manager listens, 1 when sent, -1. */
int alto_notify_service_manager(const char *state, int fd);

/* A descriptor that becomes readable when process `pid` exits (pidfd_open). */
int alto_pidfd_open(pid_t pid);

/* openat2 confined to the tree below `dirfd`: no "..", absolute path or symbolic link (in any component) leads out,
   and no other mount is entered unless `cross_mounts`. Returns the descriptor, or -1 with errno (EXDEV; ELOOP for a
   symbolic link). */
int alto_open_beneath(int dirfd, const char *path, int flags, int cross_mounts);

/* The kernel's handle of an open file (name_to_handle_at): it names the inode, not a path, so it finds a stub a user
   renamed. Writes its type, up to `capacity` bytes and the file system's id; returns the byte count, or -1 with errno. */
int alto_file_handle(int fd, int *type, unsigned char *bytes, unsigned int capacity, uint64_t *fsid);
/* Opens (O_PATH) the file a handle names on the file system of `mount_fd`, or -1 with errno: ESTALE when that inode is
   gone. Needs CAP_DAC_READ_SEARCH. */
int alto_open_handle(int mount_fd, int type, const unsigned char *bytes, unsigned int length);
/* The id of the file system an open file is on (statfs's f_fsid), or -1 with errno. */
int alto_file_system_id(int fd, uint64_t *fsid);

/* Returns a descriptor that becomes readable once SIGTERM or SIGINT arrives, in whichever thread (a handler writes to a pipe). */
int alto_termination_fd(void);

#endif
