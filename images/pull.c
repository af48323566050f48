/* Registries: the OCI distribution API over libcurl. Manifests and blobs
 * go through the same verified store writes as imports; anonymous bearer
 * tokens are fetched when the registry answers 401 with a challenge.
 * Loopback registries are spoken to over plain HTTP, others over HTTPS. */
#define _GNU_SOURCE
#include "internal.h"
#include "../runtime/cleanup.h"

#include <curl/curl.h>

#include "dl.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>

#define TOKEN_MAX (64u << 10)

static const char accept_manifests[] =
	"Accept: application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, "
	"application/vnd.docker.distribution.manifest.v2+json, "
	"application/vnd.docker.distribution.manifest.list.v2+json";

struct registry {
	char base[600];              /* scheme://host[:port] */
	char repo[256];
	char *token;
	long timeout;
	struct cell_err *err;
};

/* Where a response body goes: memory (capped) or a verified blob writer. */
struct sink {
	CURL *c;
	struct registry *r;
	char *buf;
	size_t len, max;
	struct blob_writer *w;
	char challenge[1024];
	char content_type[128];
	char digest_header[DIGEST_LEN + 1];
	bool failed;                 /* our error, already in r->err */
};

static size_t on_body(char *p, size_t sz, size_t n, void *arg)
{
	struct sink *k = arg;
	long code = 0;
	size_t len = sz * n;

	curl_easy_getinfo(k->c, CURLINFO_RESPONSE_CODE, &code);
	if (code < 200 || code >= 300)
		return len; /* an error page: only the status matters */
	if (k->w) {
		if (blob_writer_write(k->w, p, len, k->r->err) < 0) {
			k->failed = true;
			return 0;
		}
		return len;
	}
	if (k->len + len > k->max) {
		cell_err_set(k->r->err, EFBIG, "response larger than %zu bytes", k->max);
		k->failed = true;
		return 0;
	}
	memcpy(k->buf + k->len, p, len);
	k->len += len;
	return len;
}

/* Copy the value of header `name` (case-insensitive) into out. */
static void header_value(const char *line, size_t len, const char *name, char *out, size_t outlen)
{
	size_t n = strlen(name);

	if (len <= n || strncasecmp(line, name, n))
		return;
	line += n;
	len -= n;
	while (len && (*line == ' ' || *line == '\t')) {
		line++;
		len--;
	}
	while (len && (line[len - 1] == '\r' || line[len - 1] == '\n'))
		len--;
	snprintf(out, outlen, "%.*s", (int)len, line);
}

static size_t on_header(char *p, size_t sz, size_t n, void *arg)
{
	struct sink *k = arg;
	size_t len = sz * n;

	header_value(p, len, "www-authenticate:", k->challenge, sizeof(k->challenge));
	header_value(p, len, "content-type:", k->content_type, sizeof(k->content_type));
	header_value(p, len, "docker-content-digest:", k->digest_header, sizeof(k->digest_header));
	return len;
}

static int on_xfer(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ult, curl_off_t uln)
{
	struct progress *pr = arg;

	if (dlnow > 0)
		img_progress_report(pr, dlnow);
	return 0;
}

/* GET url into k; returns the HTTP status, or -1 with r->err set. */
static long http_get(struct registry *r, const char *url, const char *accept, struct sink *k,
		     struct progress *pr)
{
	_cleanup_free_ char *auth = NULL;
	struct curl_slist *h = NULL;
	CURL *c = curl_easy_init();
	CURLcode rc;
	long code = -1;

	if (!c)
		return cell_err_set(r->err, ENOMEM, "curl");
	k->c = c;
	k->r = r;
	if (accept)
		h = curl_slist_append(h, accept);
	if (r->token && asprintf(&auth, "Authorization: Bearer %s", r->token) > 0)
		h = curl_slist_append(h, auth);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, k);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, k);
	/* registries send blobs through redirects to storage; stay on http(s) */
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(c, CURLOPT_MAXREDIRS, 5L);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
	/* a stalled body fails after `timeout` seconds without a byte */
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, r->timeout);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "cell/" CELL_VERSION);
	if (pr) {
		curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_xfer);
		curl_easy_setopt(c, CURLOPT_XFERINFODATA, pr);
		curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	}
	rc = curl_easy_perform(c);
	if (k->failed)
		cell_err_wrap(r->err, "%s", url);
	else if (rc == CURLE_OPERATION_TIMEDOUT)
		cell_err_set(r->err, 0, "%s: no data for %ld s", url, r->timeout);
	else if (rc != CURLE_OK)
		cell_err_set(r->err, 0, "%s: %s", url, curl_easy_strerror(rc));
	else
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	return code;
}

/* Bearer realm="...",service="...",scope="..." → one of its values. */
static bool challenge_param(const char *ch, const char *key, char *out, size_t len)
{
	char pat[32];
	const char *p, *end;

	snprintf(pat, sizeof(pat), "%s=\"", key);
	p = strcasestr(ch, pat);
	if (!p)
		return false;
	p += strlen(pat);
	end = strchr(p, '"');
	if (!end || (size_t)(end - p) >= len)
		return false;
	snprintf(out, len, "%.*s", (int)(end - p), p);
	return true;
}

static int fetch_token(struct registry *r, const char *challenge)
{
	char realm[512], service[256] = "", scope[512] = "";
	_cleanup_free_ char *url = NULL, *body = malloc(TOKEN_MAX);
	struct sink k = { .buf = body, .max = TOKEN_MAX };
	json_t *doc;
	const char *tok;
	long code;
	CURL *c = curl_easy_init();
	char *es = NULL, *esc = NULL;

	if (strncasecmp(challenge, "Bearer ", 7) || !challenge_param(challenge, "realm", realm, sizeof(realm))) {
		if (c)
			curl_easy_cleanup(c);
		return cell_err_set(r->err, 0, "registry %s asks for credentials (%.64s): only anonymous "
				    "bearer tokens are supported", r->base, challenge[0] ? challenge : "no challenge");
	}
	challenge_param(challenge, "service", service, sizeof(service));
	challenge_param(challenge, "scope", scope, sizeof(scope));
	es = curl_easy_escape(c, service, 0);
	esc = curl_easy_escape(c, scope, 0);
	if (!body || !es || !esc || asprintf(&url, "%s%sservice=%s&scope=%s", realm, strchr(realm, '?') ? "&" : "?",
					       es, esc) < 0)
		url = NULL;
	curl_free(es);
	curl_free(esc);
	curl_easy_cleanup(c);
	if (!url)
		return cell_err_set(r->err, ENOMEM, "token");
	code = http_get(r, url, NULL, &k, NULL);
	if (code < 0)
		return -1;
	if (code != 200)
		return cell_err_set(r->err, 0, "token from %s: HTTP %ld", realm, code);
	doc = json_loadb(body, k.len, 0, NULL);
	tok = json_string_value(json_object_get(doc, "token")) ?: json_string_value(json_object_get(doc, "access_token"));
	if (!tok || strlen(tok) > 8192 || strpbrk(tok, "\r\n")) {
		json_decref(doc);
		return cell_err_set(r->err, 0, "token from %s: no token in the answer", realm);
	}
	free(r->token);
	r->token = strdup(tok);
	json_decref(doc);
	return 0;
}

/* GET with one retry after a bearer token; statuses become messages. */
static int reg_get(struct registry *r, const char *kind, const char *ref, const char *accept,
		   struct sink *k, struct progress *pr)
{
	char url[1200];
	long code;

	snprintf(url, sizeof(url), "%s/v2/%s/%s/%s", r->base, r->repo, kind, ref);
	for (int attempt = 0;; attempt++) {
		size_t keep = k->len;
		code = http_get(r, url, accept, k, pr);
		if (code < 0)
			return -1;
		if (code != 401 || attempt > 0 || r->token)
			break;
		k->len = keep;
		if (fetch_token(r, k->challenge) < 0)
			return cell_err_wrap(r->err, "%s", url);
	}
	if (code == 200)
		return 0;
	if (code == 404)
		return cell_err_set(r->err, 0, "%s: not found (HTTP 404)", url);
	if (code == 401 || code == 403)
		return cell_err_set(r->err, 0, "%s: access denied (HTTP %ld)", url, code);
	return cell_err_set(r->err, 0, "%s: registry answered HTTP %ld", url, code);
}

static bool is_manifest_type(const char *mt)
{
	return media_is_index(mt) || strstr(mt, "manifest") != NULL;
}

static int pull_fetch(void *arg, struct store *s, const struct desc *d, struct progress *pr,
		      struct cell_err *err)
{
	struct registry *r = arg;
	struct sink k = { 0 };
	bool manifest = is_manifest_type(d->media_type);
	int ret;

	r->err = err;
	k.w = blob_writer_open(s, d->digest, d->size, pr, err);
	if (!k.w)
		return -1;
	ret = reg_get(r, manifest ? "manifests" : "blobs", d->digest, manifest ? accept_manifests : NULL, &k, pr);
	if (ret == 0)
		ret = blob_writer_commit(k.w, NULL, err);
	blob_writer_free(k.w);
	return ret;
}

/* HOST[:PORT]/NAME[:TAG|@DIGEST] */
static int parse_ref(const char *ref, struct registry *r, char *tag, size_t taglen, char *name, size_t namelen,
		     struct cell_err *err)
{
	const char *slash = strchr(ref, '/'), *at = strchr(ref, '@'), *colon;
	char host[256], norm[400];
	bool loopback;

	if (!slash || slash == ref || (size_t)(slash - ref) >= sizeof(host))
		return cell_err_set(err, 0, "\"%s\" is not HOST[:PORT]/NAME[:TAG|@DIGEST]", ref);
	snprintf(host, sizeof(host), "%.*s", (int)(slash - ref), ref);
	if (!strchr(host, '.') && !strchr(host, ':') && strcmp(host, "localhost"))
		return cell_err_set(err, 0, "\"%s\": the first part must be a registry host", ref);
	if (at) {
		if (!digest_valid(at + 1))
			return cell_err_set(err, 0, "\"%s\": %s is not sha256:<64 hex digits>", ref, at + 1);
		snprintf(tag, taglen, "%s", at + 1);
		snprintf(norm, sizeof(norm), "%.*s", (int)(at - ref), ref);
	} else {
		if (cell_image_ref_normalize(ref, norm, sizeof(norm), err) < 0)
			return -1;
		colon = strrchr(norm, ':');
		snprintf(tag, taglen, "%s", colon + 1);
	}
	snprintf(name, namelen, "%s%s", norm, at ? ":latest" : "");
	colon = at ? norm + strlen(norm) : strrchr(norm, ':');
	slash = strchr(norm, '/');
	snprintf(r->repo, sizeof(r->repo), "%.*s", (int)(colon - slash - 1), slash + 1);
	if (!r->repo[0] || strstr(r->repo, ".."))
		return cell_err_set(err, 0, "\"%s\": bad repository name", ref);
	loopback = !strncmp(host, "127.", 4) || !strncmp(host, "localhost", 9) || !strncmp(host, "[::1]", 5);
	snprintf(r->base, sizeof(r->base), "%s://%s", loopback ? "http" : "https",
		 strcmp(host, "docker.io") ? host : "registry-1.docker.io");
	return 0;
}

int cell_image_pull(const char *store, const char *ref, const struct cell_image_opts *o,
		    struct cell_image_result *res, struct cell_err *err)
{
	_cleanup_store_ struct store s = { .dirfd = -1, .lockfd = -1 };
	struct registry r = { .timeout = o->timeout > 0 ? o->timeout : 60, .err = err };
	struct blob_source src = { .fetch = pull_fetch, .arg = &r };
	_cleanup_free_ char *body = NULL;
	struct sink k = { .max = MANIFEST_MAX };
	char tag[128], name[512], full[512];
	struct desc top = { 0 };
	int ret = -1;

	if (parse_ref(ref, &r, tag, sizeof(tag), name, sizeof(name), err) < 0)
		return -1;
	if (import_name(o->name, name, ref, full, sizeof(full), err) < 0)
		return -1;
	if (store_open(store, LOCK_SH, &s, err) < 0)
		return -1;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	body = k.buf = malloc(MANIFEST_MAX);
	if (!body) {
		cell_err_set(err, ENOMEM, "pull");
		goto out;
	}
	if (reg_get(&r, "manifests", tag, accept_manifests, &k, NULL) < 0)
		goto out;
	/* the top manifest by tag: its digest is what we computed, and must
	 * be what was asked for or what the registry said */
	if (store_put_blob_mem(&s, body, k.len, top.digest, err) < 0)
		goto out;
	if ((digest_valid(tag) && strcmp(tag, top.digest)) ||
	    (k.digest_header[0] && strcmp(k.digest_header, top.digest))) {
		cell_err_set(err, 0, "manifest %s: content has digest %s", digest_valid(tag) ? tag : k.digest_header,
			     top.digest);
		goto out;
	}
	top.size = k.len;
	snprintf(top.media_type, sizeof(top.media_type), "%s", k.content_type);
	top.media_type[strcspn(top.media_type, ";")] = '\0';
	ret = import_manifest(&s, &src, &top, full, o, res, err);
out:
	free(r.token);
	if (ret < 0) {
		store_close(&s);
		import_cleanup(store);
	}
	curl_global_cleanup();
	return ret;
}
