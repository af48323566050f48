/* images/ internals shared between its files: the store, digests,
 * descriptors, layer unpacking and the import flow every source uses. */
#ifndef CELL_IMAGES_INTERNAL_H
#define CELL_IMAGES_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "images.h"

#define DIGEST_LEN 71                 /* "sha256:" + 64 hex */
#define MANIFEST_MAX (4u << 20)
#define CONFIG_MAX (8u << 20)
#define LAYERS_MAX 256

/* ---- digest.c */
struct hasher;
bool digest_valid(const char *d);
struct hasher *hasher_new(void);
void hasher_update(struct hasher *h, const void *buf, size_t len);
/* Finish into "sha256:<hex>" and free h. */
void hasher_final(struct hasher *h, char out[DIGEST_LEN + 1]);
void hasher_free(struct hasher *h);
void digest_buf(const void *buf, size_t len, char out[DIGEST_LEN + 1]);

/* ---- store.c: <store>/{lock,blobs/sha256,layers/sha256,refs,bundles,tmp} */
struct store {
	int dirfd;
	int lockfd;
	char *path;
};

/* Open (creating it) and lock the store: imports and bundles share it
 * (LOCK_SH), removal and pruning hold it alone (LOCK_EX). */
int store_open(const char *path, int lock, struct store *s, struct cell_err *err);
void store_close(struct store *s);
static inline void store_closep(struct store *s) { store_close(s); }
#define _cleanup_store_ __attribute__((cleanup(store_closep)))

/* A descriptor from a manifest or index, type-checked. */
struct desc {
	char media_type[128];
	char digest[DIGEST_LEN + 1];
	int64_t size;
};
int desc_parse(const json_t *j, const char *what, struct desc *d, struct cell_err *err);

struct progress {
	const struct cell_image_opts *o;
	struct cell_image_progress p;
};
void img_progress_report(struct progress *pr, uint64_t bytes);

bool store_has_blob(struct store *s, const char *digest);
/* Copy fd into blobs/ through tmp/, hashing; refuse more than `size`
 * bytes (size < 0: no limit) and a digest other than `digest` (NULL:
 * any). `out` gets the real digest, may be NULL. */
int store_put_blob(struct store *s, int fd, const char *digest, int64_t size, struct progress *pr,
		   char *out, struct cell_err *err);
/* The same, fed piecewise (a registry's body). */
struct blob_writer;
struct blob_writer *blob_writer_open(struct store *s, const char *digest, int64_t size,
				     struct progress *pr, struct cell_err *err);
int blob_writer_write(struct blob_writer *w, const void *buf, size_t len, struct cell_err *err);
int blob_writer_commit(struct blob_writer *w, char *out, struct cell_err *err);
void blob_writer_free(struct blob_writer *w);
int store_put_blob_mem(struct store *s, const void *buf, size_t len, char out[DIGEST_LEN + 1],
		       struct cell_err *err);
int store_read_blob(struct store *s, const char *digest, size_t max, char **out, size_t *len,
		    struct cell_err *err);
int store_open_blob(struct store *s, const char *digest, struct cell_err *err);
/* layers/sha256/<hex> unpacked from the blob, unless already there. */
int store_layer_ensure(struct store *s, const char *digest, struct progress *pr, bool *unpacked,
		       struct cell_err *err);
int store_set_ref(struct store *s, const char *name, const char *digest, struct cell_err *err);
/* NAME[:TAG], sha256:HEX or a unique hex prefix → name and manifest digest. */
int store_resolve(struct store *s, const char *ref, char name[512], char digest[DIGEST_LEN + 1],
		  struct cell_err *err);
/* Call fn(arg, name, digest) for every name; a non-zero return stops. */
int store_refs_each(struct store *s, int (*fn)(void *arg, const char *name, const char *digest),
		    void *arg, struct cell_err *err);
int store_gc(struct store *s, unsigned *removed, struct cell_err *err);
/* rm -rf dirfd/name without following symlinks or crossing mounts. */
int img_rm_tree(int dirfd, const char *name, struct cell_err *err);
/* A fresh private directory tmp/<prefix>.XXXXXX; *name is relative to the store. */
int store_mktemp(struct store *s, const char *prefix, char **name, struct cell_err *err);

/* ---- manifest.c */
struct manifest {
	struct desc config;
	struct desc *layers;
	size_t n_layers;
	json_t *doc;
};
void manifest_free(struct manifest *m);
bool media_is_index(const char *mt);
/* Parse a stored manifest blob (not an index). */
int manifest_load(struct store *s, const char *digest, struct manifest *m, struct cell_err *err);
/* Pick the linux/amd64 entry of an index document. */
int index_pick(const json_t *index, const char *what, const char *tag, struct desc *out,
	       struct cell_err *err);
/* The image config's os/architecture must be linux/amd64. */
int config_check_platform(const json_t *config, struct cell_err *err);

/* ---- import.c: the flow shared by layouts, archives and registries */
struct blob_source {
	/* Put blob d into the store, verified against d. */
	int (*fetch)(void *arg, struct store *s, const struct desc *d, struct progress *pr,
		     struct cell_err *err);
	void *arg;
};
/* Fetch the manifest (an index: its linux/amd64 entry), config and layers,
 * unpack the layers, then name the image: the image appears whole or
 * not at all. */
int import_manifest(struct store *s, const struct blob_source *src, const struct desc *top,
		    const char *name, const struct cell_image_opts *o, struct cell_image_result *res,
		    struct cell_err *err);
int import_name(const char *given, const char *from_source, const char *path, char *out, size_t len,
		struct cell_err *err);
/* After a failed import: drop what no image uses, if nobody else is importing. */
void import_cleanup(const char *store);

/* ---- layout.c */
int layout_import(struct store *s, int layoutfd, const char *path, const char *name,
		  const struct cell_image_opts *o, struct cell_image_result *res, struct cell_err *err);

/* Open path inside rootfd, symlinks resolved as if rootfd were "/". */
int img_open_in_root(int rootfd, const char *path, int flags);

/* ---- user.c: process.user (and HOME) from the image config's User */
int img_user_resolve(int rootfd, const char *spec, json_t *process, struct cell_err *err);

/* ---- archive.c */
int archive_import(struct store *s, const char *path, const char *name,
		   const struct cell_image_opts *o, struct cell_image_result *res, struct cell_err *err);

/* ---- unpack.c */
struct archive;
/* A libarchive reader of fd: tar (or, raw, the decompressed stream) in
 * plain, gzip, zstd, xz or bzip2, with no external filter programs. */
struct archive *img_tar_reader(int fd, bool raw);
void img_archive_freep(struct archive **a);
#define _cleanup_archive_ __attribute__((cleanup(img_archive_freep)))
/* Unpack a layer blob (tar, tar+gzip, tar+zstd) into destfd, turning
 * whiteouts into overlayfs whiteouts; refuses entries escaping destfd. */
int img_layer_unpack(int blobfd, int destfd, const char *what, struct progress *pr, struct cell_err *err);
/* Extract a plain tar (an OCI or docker archive) of regular files and
 * directories only into destfd, with the same escape checks. */
int img_tar_extract_plain(const char *path, int destfd, struct cell_err *err);
/* Open parent directories of a relative, normalised path beneath rootfd
 * without following symlinks (creating missing ones when `create`). */
int img_path_normalize(const char *in, char *out, size_t len);
int img_open_beneath(int rootfd, const char *path, bool create, const char **base,
			struct cell_err *err);

#endif
