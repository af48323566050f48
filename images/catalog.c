/* What the store holds, by name: list, inspect, remove, prune. */
#define _GNU_SOURCE
#include "internal.h"
#include "../runtime/cleanup.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

static json_t *load_config(struct store *s, const struct manifest *m)
{
	_cleanup_free_ char *text = NULL;

	if (store_read_blob(s, m->config.digest, CONFIG_MAX, &text, NULL, &(struct cell_err){ 0 }) < 0)
		return NULL;
	return json_loads(text, 0, NULL);
}

static int list_one(void *arg, const char *name, const char *digest)
{
	struct { struct store *s; json_t *arr; } *l = arg;
	struct manifest m;
	json_t *config;
	int64_t size = 0;

	if (manifest_load(l->s, digest, &m, &(struct cell_err){ 0 }) < 0)
		return 0;
	config = load_config(l->s, &m);
	size = m.config.size;
	for (size_t i = 0; i < m.n_layers; i++)
		size += m.layers[i].size;
	json_array_append_new(l->arr, json_pack("{s:s, s:s, s:I, s:s, s:i}", "name", name, "digest", digest,
						"size", (json_int_t)size, "created",
						json_string_value(json_object_get(config, "created")) ?: "",
						"layers", (int)m.n_layers));
	json_decref(config);
	manifest_free(&m);
	return 0;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(json_string_value(json_object_get(*(json_t *const *)a, "name")),
		      json_string_value(json_object_get(*(json_t *const *)b, "name")));
}

int cell_image_list(const char *store, json_t **out, struct cell_err *err)
{
	_cleanup_store_ struct store s = { .dirfd = -1, .lockfd = -1 };
	struct { struct store *s; json_t *arr; } l = { &s, json_array() };
	_cleanup_free_ json_t **v = NULL;
	size_t n;

	if (store_open(store, LOCK_SH, &s, err) < 0 || store_refs_each(&s, list_one, &l, err) < 0) {
		json_decref(l.arr);
		return -1;
	}
	n = json_array_size(l.arr);
	v = calloc(n + 1, sizeof(*v));
	for (size_t i = 0; v && i < n; i++)
		v[i] = json_incref(json_array_get(l.arr, i));
	if (v) {
		qsort(v, n, sizeof(*v), by_name);
		json_array_clear(l.arr);
		for (size_t i = 0; i < n; i++)
			json_array_append_new(l.arr, v[i]);
	}
	*out = l.arr;
	return 0;
}

struct names {
	const char *digest;
	json_t *arr;
};

static int collect_names(void *arg, const char *name, const char *digest)
{
	struct names *n = arg;

	if (!strcmp(digest, n->digest))
		json_array_append_new(n->arr, json_string(name));
	return 0;
}

int cell_image_inspect(const char *store, const char *ref, json_t **out, struct cell_err *err)
{
	_cleanup_store_ struct store s = { .dirfd = -1, .lockfd = -1 };
	char name[512], digest[DIGEST_LEN + 1];
	struct manifest m;
	struct names n;
	json_t *layers;

	if (store_open(store, LOCK_SH, &s, err) < 0 || store_resolve(&s, ref, name, digest, err) < 0 ||
	    manifest_load(&s, digest, &m, err) < 0)
		return -1;
	n = (struct names){ digest, json_array() };
	store_refs_each(&s, collect_names, &n, err);
	layers = json_array();
	for (size_t i = 0; i < m.n_layers; i++) {
		char p[128];
		snprintf(p, sizeof(p), "layers/sha256/%s", m.layers[i].digest + 7);
		json_array_append_new(layers, json_pack("{s:s, s:s, s:I, s:b}", "digest", m.layers[i].digest,
							"mediaType", m.layers[i].media_type, "size",
							(json_int_t)m.layers[i].size, "unpacked",
							faccessat(s.dirfd, p, F_OK, 0) == 0));
	}
	*out = json_pack("{s:s, s:o, s:s, s:O, s:o, s:o}", "name", name, "names", n.arr, "digest", digest,
			 "manifest", m.doc, "config", load_config(&s, &m) ?: json_null(), "layers", layers);
	manifest_free(&m);
	return *out ? 0 : cell_err_set(err, ENOMEM, "inspect");
}

static int unlink_names(void *arg, const char *name, const char *digest)
{
	struct { struct store *s; const char *digest; } *u = arg;
	char f[512];

	if (strcmp(digest, u->digest))
		return 0;
	snprintf(f, sizeof(f), "refs/%s", name);
	for (char *p = f + 5; *p; p++)
		if (*p == '/')
			*p = '+';
	unlinkat(u->s->dirfd, f, 0);
	return 0;
}

int cell_image_remove(const char *store, const char *ref, struct cell_err *err)
{
	_cleanup_store_ struct store s = { .dirfd = -1, .lockfd = -1 };
	char name[512], digest[DIGEST_LEN + 1];
	bool by_digest = !strncmp(ref, "sha256:", 7) || strspn(ref, "0123456789abcdef") == strlen(ref);

	if (store_open(store, LOCK_EX, &s, err) < 0 || store_resolve(&s, ref, name, digest, err) < 0)
		return -1;
	if (by_digest) {
		/* a digest names the image itself: every name of it goes */
		struct { struct store *s; const char *digest; } u = { &s, digest };
		store_refs_each(&s, unlink_names, &u, err);
	} else {
		unlink_names(&(struct { struct store *s; const char *digest; }){ &s, digest }, name, digest);
	}
	return store_gc(&s, NULL, err);
}

int cell_image_prune(const char *store, unsigned *removed, struct cell_err *err)
{
	_cleanup_store_ struct store s = { .dirfd = -1, .lockfd = -1 };

	if (store_open(store, LOCK_EX, &s, err) < 0)
		return -1;
	return store_gc(&s, removed, err);
}
