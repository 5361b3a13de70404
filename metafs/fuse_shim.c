/*
 * metafs FUSE shim: three things pyfuse3 cannot ask the kernel for.
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
#include <string.h>

int metafs_shim_active = 0;
/* What this build does beyond 1-3 above, for the daemon to check: bit 0, item 4. */
int metafs_shim_features = 1;

#define METAFS_NO_RELEASE (1ULL << 62)

typedef struct fuse_session *(*session_new_fn)(struct fuse_args *,
                                               const struct fuse_lowlevel_ops *, size_t,
                                               void *);
typedef int (*reply_open_fn)(fuse_req_t, const struct fuse_file_info *);

static struct fuse_lowlevel_ops ops;  /* pyfuse3's table with our three entries */
static void (*next_readdirplus)(fuse_req_t, fuse_ino_t, size_t, off_t, struct fuse_file_info *);
static void (*next_fsyncdir)(fuse_req_t, fuse_ino_t, int, struct fuse_file_info *);
static void (*next_release)(fuse_req_t, fuse_ino_t, struct fuse_file_info *);

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
    if (fi->fh & METAFS_NO_RELEASE) {
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
        || op->release == NULL)
        return next(args, op, op_size, userdata);
    memcpy(&ops, op, sizeof(ops));
    next_readdirplus = op->readdirplus;
    next_fsyncdir = op->fsyncdir;
    next_release = op->release;
    ops.opendir = opendir_nosys;
    ops.releasedir = NULL;
    ops.readdirplus = readdirplus_by_inode;
    ops.release = release_unless_stateless;
    if (next_fsyncdir != NULL)
        ops.fsyncdir = fsyncdir_by_inode;
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
