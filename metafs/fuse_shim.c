/*
 * metafs FUSE shim: what pyfuse3 cannot ask the kernel for.
 *
 * Loaded with RTLD_GLOBAL before pyfuse3 creates its session (metafs/fuse_shim.py), this
 * library takes the place of libfuse's fuse_session_new() and fuse_reply_open() for pyfuse3,
 * and passes everything on to libfuse:
 *
 * 1. OPENDIR is answered ENOSYS here, in C.  The kernel then stops sending OPENDIR and
 *    RELEASEDIR altogether, and opens every directory with FOPEN_KEEP_CACHE|FOPEN_CACHE_DIR
 *    (its "no opendir" defaults): a listing is read once and then served from the kernel's
 *    cache until the directory changes (the kernel resets it on its own changes and on a new
 *    mtime; the daemon invalidates it for changes of its own).  A walk of a photo's .meta tree
 *    costs no requests at all once warm, instead of four per folder.
 * 2. Without OPENDIR there is no file handle: READDIRPLUS and FSYNCDIR arrive with fh = 0, and
 *    pyfuse3 hands handlers only the fh.  They get the inode number as fh instead.
 * 3. A file opened read-only is opened with FOPEN_NOFLUSH: closing it sends no FLUSH (metafs
 *    has nothing to do on the close of a reader; writers still get theirs).
 * 4. RELEASE of a handle whose fh has bit 62 set (METAFS_NO_RELEASE) is answered here: the
 *    daemon gives readers of tag files such an fh, naming the inode, and keeps no state for
 *    them, so their release would be a round trip through Python for nothing.
 *
 * 5. OPEN of a file the daemon marked clean (metafs_mark_clean) for reading only is answered
 *    here too, with fh = METAFS_NO_RELEASE | inode, FOPEN_KEEP_CACHE and FOPEN_NOFLUSH: the
 *    kernel serves the reads from its page cache, so a warm `grep -r` over tag files or a
 *    viewer reading photos through the mount costs no round trip through Python.  A mark
 *    holds for one generation: the daemon ends them all (metafs_marks_stale) whenever
 *    anything may have changed what a file shows, and marks an inode again at the next open
 *    it answers itself with the kernel's pages kept.  Marks live only in the thread that
 *    runs the session (pyfuse3's trio loop), which is the one that sets them.
 * 6. Requests that items 4, 5 and 7 answer never reach Python's loop: fuse_session_receive_buf
 *    (which pyfuse3 calls once its trio loop saw the device readable) answers them here and
 *    goes on with the next request while more come within a millisecond, for at most
 *    BUDGET_NS; then it returns -EINTR, which pyfuse3 takes as "nothing read, wait again".
 *    Any other request is returned to pyfuse3 at once.  (Each wake-up of the trio loop costs
 *    more than the request itself: a warm `grep -r` would otherwise pay it per file.)
 *
 * 7. GETXATTR and LISTXATTR of an inode the daemon marked generated (metafs_mark_generated:
 *    a .meta folder, a tag file, .originals, .metafs: nodes with no extended attributes,
 *    which the daemon answers ENODATA and an empty list) are answered here with the same,
 *    so `ls -l` of a big folder does not pay a round trip through Python for each .meta
 *    entry's ACL lookup.  A generated inode number stays generated (never reused).
 *
 * 8. In a read-only mount (the daemon sets metafs_no_open before the session is made) OPEN
 *    and FLUSH are answered ENOSYS.  The kernel then opens and closes files without asking
 *    (its "no open" defaults, FOPEN_KEEP_CACHE, and no RELEASE either): a warm `grep -r`
 *    or a viewer's reads cost no request at all, not even one answered here.  READ then
 *    comes with fh = 0 and gets METAFS_NO_RELEASE | inode instead, as a reader item 5
 *    opened.  No writer can exist there, so nothing is lost with FLUSH; the daemon drops
 *    the kernel's pages of whatever changes in SOURCE (the watcher), as for item 5.
 *
 * 9. STATFS is answered here with statvfs() of SOURCE (metafs_statfs_source, set by the daemon
 *    before the session is made), as the daemon answers it: `grep -r` and `find` ask for it
 *    on their way through folders.
 *
 * 10. GETATTR of a generated folder (a .meta folder or one inside it) is answered here with
 *    the attributes the daemon last gave for it (in a GETATTR, LOOKUP or READDIRPLUS reply,
 *    which pass through here), while they are current: given with the long timeout (the
 *    watcher sees every change) and no mark has ended since (metafs_marks_stale, which
 *    every change ends).  The kernel asks for them again after each listing it read from
 *    the daemon (it marks the folder's atime stale), so the second `grep -r` over a tree
 *    asked the daemon once a folder.  A fixed table: an inode that is not there is asked.
 *
 * Between requests answered here the thread polls without sleeping for SPIN_NS before it
 * waits (and stops as soon as the trio loop has anything else to do, metafs_set_loop_fd): a sleeping thread is woken through the scheduler of another CPU, which costs more
 * than answering the request (a warm `grep -r` went from 33 to 21 us a file).
 *
 * The daemon reads metafs_shim_active after mounting: 1 means the session went through here
 * and readdir's fh is an inode.  Without the shim (not built, or a pyfuse3 bound at load time)
 * nothing changes and metafs works as before, one request more per folder and file.
 */
#define _GNU_SOURCE
#define FUSE_USE_VERSION 34
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>

int metafs_shim_active = 0;
/* What this build does beyond 1-3 above, for the daemon to check: bit 0, item 4;
 * bit 1, item 5; bit 2, item 7; bit 3, item 8; bit 4, item 9; bit 5, item 10. */
int metafs_shim_features = 63;
/* Item 8: set by the daemon before the session is made (a read-only mount). */
int metafs_no_open = 0;
/* Item 9: SOURCE, set by the daemon before the session is made (NULL: the daemon answers). */
static char *statfs_source;
/* Opens answered by item 5 (for .metafs/status). */
unsigned long metafs_shim_opens = 0;

#define METAFS_NO_RELEASE (1ULL << 62)

typedef struct fuse_session *(*session_new_fn)(struct fuse_args *,
                                               const struct fuse_lowlevel_ops *, size_t,
                                               void *);
typedef int (*reply_open_fn)(fuse_req_t, const struct fuse_file_info *);

static struct fuse_lowlevel_ops ops;  /* pyfuse3's table with our three entries */
static void (*next_readdirplus)(fuse_req_t, fuse_ino_t, size_t, off_t, struct fuse_file_info *);
static void (*next_fsyncdir)(fuse_req_t, fuse_ino_t, int, struct fuse_file_info *);
static void (*next_release)(fuse_req_t, fuse_ino_t, struct fuse_file_info *);
static void (*next_open)(fuse_req_t, fuse_ino_t, struct fuse_file_info *);
static void (*next_getxattr)(fuse_req_t, fuse_ino_t, const char *, size_t);
static void (*next_listxattr)(fuse_req_t, fuse_ino_t, size_t);
static void (*next_read)(fuse_req_t, fuse_ino_t, size_t, off_t, struct fuse_file_info *);
static void (*next_getattr)(fuse_req_t, fuse_ino_t, struct fuse_file_info *);

/* Item 7: generated[ino] != 0 for inodes without extended attributes. */
static unsigned char *generated;
static size_t generated_len;

int metafs_mark_generated(unsigned long ino)
{
    if (ino >= generated_len) {
        size_t len = generated_len ? generated_len : 4096;
        while (len <= ino)
            len *= 2;
        unsigned char *grown = realloc(generated, len);
        if (grown == NULL)
            return 0;
        memset(grown + generated_len, 0, len - generated_len);
        generated = grown;
        generated_len = len;
    }
    generated[ino] = 1;
    return 1;
}

static int is_generated(uint64_t ino)
{
    return ino < generated_len && generated[ino];
}

static void getxattr_unless_generated(fuse_req_t req, fuse_ino_t ino, const char *name,
                                      size_t size)
{
    if (is_generated(ino)) {
        fuse_reply_err(req, ENODATA);
        return;
    }
    next_getxattr(req, ino, name, size);
}

static void listxattr_unless_generated(fuse_req_t req, fuse_ino_t ino, size_t size)
{
    if (is_generated(ino)) {
        if (size == 0)
            fuse_reply_xattr(req, 0);
        else
            fuse_reply_buf(req, NULL, 0);
        return;
    }
    next_listxattr(req, ino, size);
}

/* Item 5: marks[ino] == generation while the inode is clean (inode numbers are never
 * reused by the daemon; generation 0 is never current). */
static unsigned int *marks;
static size_t marks_len;
static unsigned int generation = 1;

int metafs_mark_clean(unsigned long ino)
{
    if (ino >= marks_len) {
        size_t len = marks_len ? marks_len : 4096;
        while (len <= ino)
            len *= 2;
        unsigned int *grown = realloc(marks, len * sizeof(*marks));
        if (grown == NULL)
            return 0;
        memset(grown + marks_len, 0, (len - marks_len) * sizeof(*marks));
        marks = grown;
        marks_len = len;
    }
    marks[ino] = generation;
    return 1;
}

void metafs_marks_stale(void)
{
    generation++;
    if (generation == 0) {  /* wrapped: old marks would come back to life */
        memset(marks, 0, marks_len * sizeof(*marks));
        generation = 1;
    }
}

static int clean_open(uint64_t ino, uint32_t flags)
{
    return ino < marks_len && marks[ino] == generation && (flags & O_ACCMODE) == O_RDONLY
           && !(flags & (O_TRUNC | O_APPEND | O_CREAT));
}

static void open_if_clean(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    if (clean_open(ino, (uint32_t)fi->flags)) {
        struct fuse_file_info f = *fi;
        f.fh = METAFS_NO_RELEASE | ino;
        f.keep_cache = 1;
        f.direct_io = 0;
        f.noflush = 1;
        metafs_shim_opens++;
        fuse_reply_open(req, &f);
        return;
    }
    next_open(req, ino, fi);
}

/* Item 10 */
#define FOLDERS_KEPT 32768
#define LONG_TIMEOUT 60.0  /* shorter: the watcher does not see every change */
struct folder_attr {
    uint64_t ino;
    unsigned int generation;
    double timeout;
    struct stat st;
};
static struct folder_attr *folders;

static void keep_folder(const struct stat *st, double timeout)
{
    if (!metafs_shim_active || st == NULL || !S_ISDIR(st->st_mode) || timeout < LONG_TIMEOUT
        || !is_generated(st->st_ino))
        return;
    if (folders == NULL && (folders = calloc(FOLDERS_KEPT, sizeof(*folders))) == NULL)
        return;
    struct folder_attr *f = &folders[st->st_ino % FOLDERS_KEPT];
    f->ino = st->st_ino;
    f->generation = generation;
    f->timeout = timeout;
    f->st = *st;
}

static const struct folder_attr *kept_folder(uint64_t ino)
{
    if (folders == NULL)
        return NULL;
    const struct folder_attr *f = &folders[ino % FOLDERS_KEPT];
    return f->ino == ino && f->generation == generation ? f : NULL;
}

static void getattr_if_kept(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    const struct folder_attr *f = kept_folder(ino);
    if (f != NULL) {
        fuse_reply_attr(req, &f->st, f->timeout);
        return;
    }
    next_getattr(req, ino, fi);
}

typedef int (*reply_attr_fn)(fuse_req_t, const struct stat *, double);
typedef int (*reply_entry_fn)(fuse_req_t, const struct fuse_entry_param *);
typedef size_t (*add_plus_fn)(fuse_req_t, char *, size_t, const char *,
                              const struct fuse_entry_param *, off_t);

int fuse_reply_attr(fuse_req_t req, const struct stat *attr, double attr_timeout)
{
    static reply_attr_fn next;
    if (next == NULL)
        next = (reply_attr_fn)dlsym(RTLD_NEXT, "fuse_reply_attr");
    keep_folder(attr, attr_timeout);
    return next(req, attr, attr_timeout);
}

int fuse_reply_entry(fuse_req_t req, const struct fuse_entry_param *e)
{
    static reply_entry_fn next;
    if (next == NULL)
        next = (reply_entry_fn)dlsym(RTLD_NEXT, "fuse_reply_entry");
    if (e != NULL && e->ino != 0)
        keep_folder(&e->attr, e->attr_timeout);
    return next(req, e);
}

size_t fuse_add_direntry_plus(fuse_req_t req, char *buf, size_t bufsize, const char *name,
                              const struct fuse_entry_param *e, off_t off)
{
    static add_plus_fn next;
    if (next == NULL)
        next = (add_plus_fn)dlsym(RTLD_NEXT, "fuse_add_direntry_plus");
    if (e != NULL && e->ino != 0)
        keep_folder(&e->attr, e->attr_timeout);
    return next(req, buf, bufsize, name, e, off);
}

/* Item 8 */
static void nosys(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    (void)ino;
    (void)fi;
    fuse_reply_err(req, ENOSYS);
}

static void read_by_inode(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                          struct fuse_file_info *fi)
{
    struct fuse_file_info f = *fi;
    if (f.fh == 0)
        f.fh = METAFS_NO_RELEASE | ino;
    next_read(req, ino, size, off, &f);
}

/* Item 9 */
int metafs_set_statfs_source(const char *path)
{
    char *copy = strdup(path);
    if (copy == NULL)
        return 0;
    free(statfs_source);
    statfs_source = copy;
    return 1;
}

static void statfs_of_source(fuse_req_t req, fuse_ino_t ino)
{
    (void)ino;
    struct statvfs st;
    if (statvfs(statfs_source, &st) != 0) {
        fuse_reply_err(req, errno);
        return;
    }
    fuse_reply_statfs(req, &st);
}

static void opendir_nosys(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    (void)ino;
    (void)fi;
    fuse_reply_err(req, ENOSYS);
}

static void readdirplus_by_inode(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                                 struct fuse_file_info *fi)
{
    struct fuse_file_info f = *fi;
    f.fh = ino;
    next_readdirplus(req, ino, size, off, &f);
}

static void fsyncdir_by_inode(fuse_req_t req, fuse_ino_t ino, int datasync,
                              struct fuse_file_info *fi)
{
    struct fuse_file_info f = *fi;
    f.fh = ino;
    next_fsyncdir(req, ino, datasync, &f);
}

static void release_unless_stateless(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    if ((fi->fh & METAFS_NO_RELEASE) || (metafs_no_open && fi->fh == 0)) {
        fuse_reply_err(req, 0);
        return;
    }
    next_release(req, ino, fi);
}

struct fuse_session *fuse_session_new(struct fuse_args *args,
                                      const struct fuse_lowlevel_ops *op, size_t op_size,
                                      void *userdata)
{
    session_new_fn next = (session_new_fn)dlsym(RTLD_NEXT, "fuse_session_new");
    if (next == NULL)
        return NULL;
    /* Only a table we fully understand, with the entries we forward, is changed. */
    if (op_size != sizeof(ops) || op->readdirplus == NULL || op->readdir != NULL
        || op->release == NULL || op->open == NULL || op->getxattr == NULL
        || op->listxattr == NULL || op->read == NULL)
        return next(args, op, op_size, userdata);
    memcpy(&ops, op, sizeof(ops));
    next_readdirplus = op->readdirplus;
    next_fsyncdir = op->fsyncdir;
    next_release = op->release;
    next_open = op->open;
    next_getxattr = op->getxattr;
    next_listxattr = op->listxattr;
    next_read = op->read;
    next_getattr = op->getattr;
    ops.opendir = opendir_nosys;
    ops.releasedir = NULL;
    ops.readdirplus = readdirplus_by_inode;
    ops.release = release_unless_stateless;
    ops.open = open_if_clean;
    ops.getxattr = getxattr_unless_generated;
    ops.listxattr = listxattr_unless_generated;
    if (next_fsyncdir != NULL)
        ops.fsyncdir = fsyncdir_by_inode;
    if (statfs_source != NULL)
        ops.statfs = statfs_of_source;
    if (next_getattr != NULL)
        ops.getattr = getattr_if_kept;
    if (metafs_no_open) {
        ops.open = nosys;
        ops.flush = nosys;
        ops.read = read_by_inode;
    }
    struct fuse_session *se = next(args, &ops, sizeof(ops), userdata);
    metafs_shim_active = se != NULL;
    return se;
}

int fuse_reply_open(fuse_req_t req, const struct fuse_file_info *fi)
{
    static reply_open_fn next;
    if (next == NULL)
        next = (reply_open_fn)dlsym(RTLD_NEXT, "fuse_reply_open");
    if (metafs_shim_active && (fi->flags & O_ACCMODE) == O_RDONLY && !(fi->flags & O_TRUNC)) {
        struct fuse_file_info f = *fi;
        f.noflush = 1;
        return next(req, &f);
    }
    return next(req, fi);
}

/* Item 6.  The kernel's request layout (linux/fuse.h, stable ABI; that header clashes with
 * libfuse's own names, so the three parts read here are spelled out). */
struct shim_in_header {
    uint32_t len, opcode;
    uint64_t unique, nodeid;
    uint32_t uid, gid, pid;
    uint16_t total_extlen, padding;
};
struct shim_open_in {
    uint32_t flags, open_flags;
};
struct shim_release_in {
    uint64_t fh;
    uint32_t flags, release_flags;
    uint64_t lock_owner;
};
enum { SHIM_GETATTR = 3, SHIM_OPEN = 14, SHIM_STATFS = 17, SHIM_RELEASE = 18, SHIM_GETXATTR = 22,
       SHIM_LISTXATTR = 23 };
#define BUDGET_NS 20000000L  /* the longest the trio loop waits for its turn */

typedef int (*receive_fn)(struct fuse_session *, struct fuse_buf *);
typedef void (*process_fn)(struct fuse_session *, const struct fuse_buf *);

/* Whether the request in buf is one that open_if_clean, release_unless_stateless, the
 * xattr handlers of item 7, statfs_of_source or getattr_if_kept answer
 * themselves (never one they would hand on to pyfuse3: that must go through its loop). */
static int answered_here(const struct fuse_buf *buf)
{
    if ((buf->flags & FUSE_BUF_IS_FD) || buf->mem == NULL
        || buf->size < sizeof(struct shim_in_header))
        return 0;
    const struct shim_in_header *in = buf->mem;
    const void *arg = (const char *)buf->mem + sizeof(*in);
    if (in->opcode == SHIM_OPEN && buf->size >= sizeof(*in) + sizeof(struct shim_open_in))
        return clean_open(in->nodeid, ((const struct shim_open_in *)arg)->flags);
    if (in->opcode == SHIM_STATFS)
        return statfs_source != NULL;
    if (in->opcode == SHIM_GETATTR)
        return next_getattr != NULL && kept_folder(in->nodeid) != NULL;
    if (in->opcode == SHIM_GETXATTR || in->opcode == SHIM_LISTXATTR)
        return is_generated(in->nodeid);
    if (in->opcode == SHIM_RELEASE && buf->size >= sizeof(*in) + sizeof(struct shim_release_in))
        return (((const struct shim_release_in *)arg)->fh & METAFS_NO_RELEASE) != 0;
    return 0;
}

static long elapsed_ns(const struct timespec *since)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (now.tv_sec - since->tv_sec) * 1000000000L + (now.tv_nsec - since->tv_nsec);
}

#ifndef SPIN_NS
#define SPIN_NS 200000L
#endif

/* The trio loop's epoll descriptor (metafs_set_loop_fd; -1: not known).  Readable when the
 * loop has something else to do (a worker thread finished, the watcher saw a change): the
 * wait below ends then, or a handler waiting on a thread would wait for the next request,
 * which its own caller holds back. */
static int loop_fd = -1;

int metafs_set_loop_fd(int fd)
{
    loop_fd = fd;
    return 1;
}

/* Whether another request arrives within a millisecond, and before the trio loop has other
 * work: polled without sleeping for the first SPIN_NS (see the top of this file; only when
 * the loop's own descriptor is watched too), then waited for. */
static int next_comes(int fuse_fd)
{
    struct pollfd p[2] = {{.fd = fuse_fd, .events = POLLIN}, {.fd = loop_fd, .events = POLLIN}};
    nfds_t n = loop_fd >= 0 ? 2 : 1;
    struct timespec since;
    clock_gettime(CLOCK_MONOTONIC, &since);
    int ready = 0;
    while (loop_fd >= 0 && elapsed_ns(&since) < SPIN_NS && ready == 0)
        ready = poll(p, n, 0);
    if (ready == 0)
        ready = poll(p, n, 1);
    return ready > 0 && (p[0].revents & POLLIN) && !(n == 2 && p[1].revents);
}

int fuse_session_receive_buf(struct fuse_session *se, struct fuse_buf *buf)
{
    static receive_fn next;
    static process_fn process;
    if (next == NULL) {
        next = (receive_fn)dlsym(RTLD_NEXT, "fuse_session_receive_buf");
        process = (process_fn)dlsym(RTLD_NEXT, "fuse_session_process_buf");
    }
    if (!metafs_shim_active || process == NULL)
        return next(se, buf);
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
        int res = next(se, buf);
        if (res <= 0 || !answered_here(buf))
            return res;
        process(se, buf);
        if (elapsed_ns(&start) > BUDGET_NS || !next_comes(fuse_session_fd(se)))
            return -EINTR;
    }
}
