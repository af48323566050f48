/* The image config's User ("name", "uid", "name:group", "uid:gid") made
 * numeric against the image's own /etc/passwd and /etc/group, read inside
 * the rootfs so a symlink in the image cannot point at the host's files. */
#define _GNU_SOURCE
#include "internal.h"
#include "../runtime/cleanup.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DB_MAX (1u << 20)

static char *read_db(int rootfd, const char *name)
{
	_cleanup_close_ int fd = img_open_in_root(rootfd, name, O_RDONLY);
	char *buf;
	size_t n = 0;
	ssize_t r;

	if (fd < 0 || !(buf = malloc(DB_MAX + 1)))
		return NULL;
	while (n < DB_MAX && (r = read(fd, buf + n, DB_MAX - n)) > 0)
		n += r;
	buf[n] = '\0';
	return buf;
}

static bool parse_id(const char *s, unsigned long *out)
{
	char *end;

	if (!*s || *s < '0' || *s > '9')
		return false;
	errno = 0;
	*out = strtoul(s, &end, 10);
	return !*end && !errno && *out <= 0xfffffffeUL;
}

/* Find a line whose field 0 is `name` (or field 2 is `id` when name is
 * NULL); fields[] points into the (modified) line. */
static bool db_find(char *db, const char *name, unsigned long id, char **fields, int nf)
{
	for (char *save = NULL, *line = db ? strtok_r(db, "\n", &save) : NULL; line;
	     line = strtok_r(NULL, "\n", &save)) {
		int i = 0;
		char *p = line;
		unsigned long v;

		for (fields[i++] = p; i < nf && (p = strchr(p, ':')); fields[i++] = ++p)
			*p = '\0';
		if (i < nf)
			continue;
		if (name ? !strcmp(fields[0], name) : (parse_id(fields[2], &v) && v == id))
			return true;
	}
	return false;
}

int img_user_resolve(int rootfd, const char *spec, json_t *process, struct cell_err *err)
{
	_cleanup_free_ char *user = strdup(spec ? spec : ""), *pw = read_db(rootfd, "etc/passwd"),
			    *gr = read_db(rootfd, "etc/group");
	char *group = user ? strchr(user, ':') : NULL, *f[7];
	unsigned long uid = 0, gid = 0;
	bool have_gid = false;
	const char *name = NULL, *home = "/";
	json_t *u, *extra = json_array();

	if (!user)
		return cell_err_set(err, ENOMEM, "user");
	if (group)
		*group++ = '\0';
	if (*user) {
		bool numeric = parse_id(user, &uid);
		if (db_find(pw, numeric ? NULL : user, uid, f, 7)) {
			parse_id(f[2], &uid);
			have_gid = parse_id(f[3], &gid);
			name = f[0];
			home = f[5];
		} else if (!numeric) {
			json_decref(extra);
			return cell_err_set(err, 0, "image config: User \"%s\": no such user in the image's /etc/passwd",
					    spec);
		}
	}
	if (group && *group) {
		_cleanup_free_ char *g2 = gr ? strdup(gr) : NULL;
		if (!parse_id(group, &gid)) {
			if (!db_find(g2, group, 0, f, 4) || !parse_id(f[2], &gid)) {
				json_decref(extra);
				return cell_err_set(err, 0, "image config: User \"%s\": no such group in the image's /etc/group",
						    spec);
			}
		}
	} else if (!have_gid) {
		gid = 0;
	}
	/* supplementary groups: every group of /etc/group that lists the user */
	if (name && gr) {
		for (char *save = NULL, *line = strtok_r(gr, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
			char *fl[4], *p = line, *m;
			int i = 0;
			unsigned long g;

			for (fl[i++] = p; i < 4 && (p = strchr(p, ':')); fl[i++] = ++p)
				*p = '\0';
			if (i < 4 || !parse_id(fl[2], &g) || g == gid)
				continue;
			for (char *s2 = NULL, *mm = strtok_r(fl[3], ",", &s2); (m = mm); mm = strtok_r(NULL, ",", &s2))
				if (!strcmp(m, name) && json_array_size(extra) < 64)
					json_array_append_new(extra, json_integer(g));
		}
	}
	u = json_pack("{s:I, s:I}", "uid", (json_int_t)uid, "gid", (json_int_t)gid);
	if (json_array_size(extra))
		json_object_set(u, "additionalGids", extra);
	json_decref(extra);
	json_object_set_new(process, "user", u);
	/* HOME as the image's passwd says, unless the image sets it */
	{
		json_t *env = json_object_get(process, "env"), *v;
		size_t i;
		bool has = false;
		char buf[4200];
		json_array_foreach(env, i, v)
			has |= !strncmp(json_string_value(v) ?: "", "HOME=", 5);
		if (!has && strlen(home) < 4096) {
			snprintf(buf, sizeof(buf), "HOME=%s", *home ? home : "/");
			json_array_append_new(env, json_string(buf));
		}
	}
	return 0;
}
