/* Manifests, indexes and descriptors of the OCI image-spec (and Docker's
 * schema 2, which has the same shape): type-checked before anything in
 * them is used, since they come from untrusted archives and registries. */
#define _GNU_SOURCE
#include "internal.h"
#include "../runtime/cleanup.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static const char *const index_types[] = {
	"application/vnd.oci.image.index.v1+json",
	"application/vnd.docker.distribution.manifest.list.v2+json",
};
static const char *const manifest_types[] = {
	"application/vnd.oci.image.manifest.v1+json",
	"application/vnd.docker.distribution.manifest.v2+json",
};

bool media_is_index(const char *mt)
{
	for (size_t i = 0; i < CELL_ARRAY_SIZE(index_types); i++)
		if (!strcmp(mt, index_types[i]))
			return true;
	return false;
}

static bool media_is_manifest(const char *mt)
{
	for (size_t i = 0; i < CELL_ARRAY_SIZE(manifest_types); i++)
		if (!strcmp(mt, manifest_types[i]))
			return true;
	return false;
}

int desc_parse(const json_t *j, const char *what, struct desc *d, struct cell_err *err)
{
	const json_t *mt = json_object_get(j, "mediaType"), *dg = json_object_get(j, "digest"),
		     *sz = json_object_get(j, "size");

	if (!json_is_object(j))
		return cell_err_set(err, 0, "%s: not a descriptor object", what);
	if (!json_is_string(dg) || !digest_valid(json_string_value(dg)))
		return cell_err_set(err, 0, "%s.digest: missing or not sha256:<64 hex digits>", what);
	if (!json_is_integer(sz) || json_integer_value(sz) < 0)
		return cell_err_set(err, 0, "%s.size: missing or negative", what);
	if (mt && (!json_is_string(mt) || strlen(json_string_value(mt)) >= sizeof(d->media_type)))
		return cell_err_set(err, 0, "%s.mediaType: not a string", what);
	snprintf(d->media_type, sizeof(d->media_type), "%s", mt ? json_string_value(mt) : "");
	memcpy(d->digest, json_string_value(dg), DIGEST_LEN + 1);
	d->size = json_integer_value(sz);
	return 0;
}

void manifest_free(struct manifest *m)
{
	free(m->layers);
	json_decref(m->doc);
	*m = (struct manifest){ 0 };
}

int manifest_load(struct store *s, const char *digest, struct manifest *m, struct cell_err *err)
{
	_cleanup_free_ char *text = NULL;
	json_error_t jerr;
	const json_t *layers, *mt;
	size_t len;
	char what[64];

	*m = (struct manifest){ 0 };
	if (store_read_blob(s, digest, MANIFEST_MAX, &text, &len, err) < 0)
		return -1;
	snprintf(what, sizeof(what), "manifest %.19s", digest);
	m->doc = json_loadb(text, len, 0, &jerr);
	if (!json_is_object(m->doc)) {
		cell_err_set(err, 0, "%s: not a JSON object (%s)", what, jerr.text);
		goto fail;
	}
	mt = json_object_get(m->doc, "mediaType");
	if (mt && (!json_is_string(mt) || !media_is_manifest(json_string_value(mt)))) {
		cell_err_set(err, 0, "%s: mediaType %s is not an image manifest", what,
			     json_is_string(mt) ? json_string_value(mt) : "(not a string)");
		goto fail;
	}
	if (desc_parse(json_object_get(m->doc, "config"), "manifest.config", &m->config, err) < 0)
		goto fail_wrap;
	layers = json_object_get(m->doc, "layers");
	if (!json_is_array(layers) || json_array_size(layers) > LAYERS_MAX) {
		cell_err_set(err, 0, "%s: layers: not an array of at most %d", what, LAYERS_MAX);
		goto fail;
	}
	m->n_layers = json_array_size(layers);
	m->layers = calloc(m->n_layers + 1, sizeof(*m->layers));
	if (!m->layers) {
		cell_err_set(err, ENOMEM, "%s", what);
		goto fail;
	}
	for (size_t i = 0; i < m->n_layers; i++) {
		char lw[32];
		snprintf(lw, sizeof(lw), "layers[%zu]", i);
		if (desc_parse(json_array_get(layers, i), lw, &m->layers[i], err) < 0)
			goto fail_wrap;
	}
	return 0;
fail_wrap:
	cell_err_wrap(err, "%s", what);
fail:
	manifest_free(m);
	return -1;
}

static bool platform_is(const json_t *p, const char *os, const char *arch)
{
	const char *o = json_string_value(json_object_get(p, "os"));
	const char *a = json_string_value(json_object_get(p, "architecture"));

	return o && a && !strcmp(o, os) && !strcmp(a, arch);
}

int index_pick(const json_t *index, const char *what, const char *tag, struct desc *out,
	       struct cell_err *err)
{
	const json_t *ms = json_object_get(index, "manifests"), *m;
	size_t i, n_images = 0, pick = (size_t)-1;
	char seen[256] = "";

	if (!json_is_array(ms) || json_array_size(ms) == 0)
		return cell_err_set(err, 0, "%s: manifests: not a non-empty array", what);
	json_array_foreach(ms, i, m) {
		const json_t *plat = json_object_get(m, "platform");
		const char *ref = json_string_value(json_object_get(json_object_get(m, "annotations"),
								     "org.opencontainers.image.ref.name"));
		if (tag && ref && !strcmp(ref, tag)) {
			pick = i;
			break;
		}
		if (!plat || platform_is(plat, "linux", "amd64")) {
			if (pick == (size_t)-1)
				pick = i;
			n_images++;
		} else if (strlen(seen) < 200) {
			size_t l = strlen(seen);
			snprintf(seen + l, sizeof(seen) - l, "%s%s/%s", l ? ", " : "",
				 json_string_value(json_object_get(plat, "os")) ?: "?",
				 json_string_value(json_object_get(plat, "architecture")) ?: "?");
		}
	}
	if (pick == (size_t)-1)
		return cell_err_set(err, 0, "%s has no linux/amd64 image (only %s)", what, seen);
	if (n_images > 1 && !tag)
		return cell_err_set(err, 0, "%s lists %zu images; choose one with --name NAME:TAG", what,
				    n_images);
	if (desc_parse(json_array_get(ms, pick), "manifests[]", out, err) < 0)
		return cell_err_wrap(err, "%s", what);
	return 0;
}

int config_check_platform(const json_t *config, struct cell_err *err)
{
	const char *o = json_string_value(json_object_get(config, "os"));
	const char *a = json_string_value(json_object_get(config, "architecture"));

	if (!o || !a)
		return cell_err_set(err, 0, "image config: os and architecture must be strings");
	if (strcmp(o, "linux") || strcmp(a, "amd64"))
		return cell_err_set(err, 0, "image is for %s/%s, this host runs linux/amd64", o, a);
	return 0;
}
