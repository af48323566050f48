/* images/: OCI image layouts, archives and registries → a local
 * content-addressed store → bundles (config.json + an overlayfs rootfs).
 * cli/ calls only this header. */
#ifndef CELL_IMAGES_H
#define CELL_IMAGES_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>

#include "../runtime/err.h"

#define CELL_STORE_DEFAULT "/var/lib/cell"

/* What a long import or pull is doing, for a progress line. */
struct cell_image_progress {
	const char *phase;           /* "copy", "unpack", "fetch" */
	unsigned layer, layers;      /* 1-based layer number of layers; 0 = not a layer */
	uint64_t bytes, total;       /* done and expected bytes of this step (total 0 = unknown) */
};

struct cell_image_opts {
	const char *name;            /* NAME[:TAG] to store the image as; NULL = from the source */
	void (*progress)(void *arg, const struct cell_image_progress *p);
	void *progress_arg;
	long timeout;                /* pull: seconds without progress before giving up; 0 = 60 */
};

/* What an import or pull stored. */
struct cell_image_result {
	char name[512];              /* NAME:TAG */
	char digest[72];             /* the manifest's sha256:... */
	unsigned layers;
	unsigned unpacked;           /* layers unpacked now, the rest were in the store */
};

/* Import PATH: an OCI layout directory, an OCI archive, a docker-archive
 * (docker/podman save) or a plain rootfs tar (tar, tar.gz, tar.zst). */
int cell_image_import(const char *store, const char *path, const struct cell_image_opts *o,
		      struct cell_image_result *res, struct cell_err *err);

/* Pull REF (HOST[:PORT]/NAME[:TAG|@DIGEST]) over the OCI distribution API. */
int cell_image_pull(const char *store, const char *ref, const struct cell_image_opts *o,
		    struct cell_image_result *res, struct cell_err *err);

/* Every stored image: [{name, digest, size, created, layers}], sorted by name. */
int cell_image_list(const char *store, json_t **out, struct cell_err *err);

/* One image (NAME[:TAG], sha256:DIGEST or a unique digest prefix):
 * {name, digest, manifest, config, layers: [{digest, size, unpacked}]}. */
int cell_image_inspect(const char *store, const char *ref, json_t **out, struct cell_err *err);

/* Forget an image; its blobs and layers go unless another image or a
 * bundle still uses them. */
int cell_image_remove(const char *store, const char *ref, struct cell_err *err);

/* Remove what no image or live bundle uses: blobs, layers, stale bundles,
 * leftovers of interrupted imports. *removed counts the items. */
int cell_image_prune(const char *store, unsigned *removed, struct cell_err *err);

/* Make DIR a bundle of REF: DIR/config.json from the image config and
 * DIR/rootfs an overlayfs of the stored layers with a private upper dir.
 * DIR must be absent or empty. */
int cell_image_bundle(const char *store, const char *ref, const char *dir, struct cell_err *err);

/* A fresh bundle for container ID under the store (for `run --image`);
 * *dir is its path (caller frees). */
int cell_image_bundle_temp(const char *store, const char *ref, const char *id, char **dir,
			   struct cell_err *err);

/* Undo cell_image_bundle: unmount DIR/rootfs, remove the upper dir and
 * what the bundle made. A DIR that is not an image bundle (or, with
 * temp_only, not one of cell_image_bundle_temp) is left alone. */
int cell_image_bundle_release(const char *dir, bool temp_only, struct cell_err *err);

/* A microVM's bzImage → the ELF vmlinux it carries, decompressed once and
 * kept in STORE/kernels by the bzImage's sha256, so that the guest enters
 * through PVH and skips decompressing itself.  Returns 1 with *elf_fd (a
 * read-only fd of the cached vmlinux) and *path (caller frees); 0 when
 * the kernel boots as it is (an ELF already, not a bzImage, a payload
 * that is not a PVH vmlinux or in a format not read here); -1 when the
 * store fails.  name: the kernel's field, for messages. */
int cell_image_kernel(const char *store, int kernel_fd, const char *name, int *elf_fd, char **path,
		      struct cell_err *err);

/* "busybox" → "busybox:latest"; checks the characters. */
int cell_image_ref_normalize(const char *in, char *out, size_t len, struct cell_err *err);

#endif
