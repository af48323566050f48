/* Scope-bound cleanup so every early return releases what it holds. */
#ifndef CELL_CLEANUP_H
#define CELL_CLEANUP_H

#include <stdlib.h>
#include <unistd.h>
#include <errno.h>
#include <stdio.h>
#include <dirent.h>

static inline void cell_freep(void *p)
{
	free(*(void **)p);
}

static inline void cell_closep(int *fd)
{
	if (*fd >= 0) {
		int saved = errno;
		close(*fd);
		errno = saved;
	}
}

static inline void cell_fclosep(FILE **f)
{
	if (*f)
		fclose(*f);
}

static inline void cell_closedirp(DIR **d)
{
	if (*d)
		closedir(*d);
}

static inline void cell_strvfreep(char ***v)
{
	if (*v) {
		for (char **p = *v; *p; p++)
			free(*p);
		free(*v);
	}
}

#define _cleanup_free_    __attribute__((cleanup(cell_freep)))
#define _cleanup_close_   __attribute__((cleanup(cell_closep)))
#define _cleanup_fclose_  __attribute__((cleanup(cell_fclosep)))
#define _cleanup_closedir_ __attribute__((cleanup(cell_closedirp)))
#define _cleanup_strv_    __attribute__((cleanup(cell_strvfreep)))

/* Hand ownership out of a cleanup-scoped variable. */
#define CELL_STEAL(p) ({ __typeof__(p) _t = (p); (p) = NULL; _t; })
#define CELL_STEAL_FD(fd) ({ int _t = (fd); (fd) = -1; _t; })

#define CELL_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#endif
