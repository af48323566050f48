/* dlopen of the image code's libraries, once, on first use. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include <archive.h>
#include <archive_entry.h>
#include <curl/curl.h>
#include <openssl/evp.h>

#define IMG_DL_NO_REDIRECT
#include "dl.h"

/* The libraries are package dependencies: failing to load one is a broken
 * installation, reported and fatal. */
static void *dl_sym(void *h, const char *lib, const char *sym)
{
	void *p = h ? dlsym(h, sym) : NULL;

	if (!p) {
		fprintf(stderr, "cell: cannot load %s from %s: %s\n", sym, lib, dlerror());
		abort();
	}
	return p;
}

/* One library: its table, filled once by dlopen and dlsym of each name. */
#define IMG_DL_FIELD_LOAD(f) t->f = dl_sym(h, lib, #f);
#define IMG_DL_LIBRARY(name, soname, LIST)                                   \
	static struct img_dl_##name dl_##name;                               \
	static pthread_once_t once_##name = PTHREAD_ONCE_INIT;               \
	static void load_##name(void)                                        \
	{                                                                    \
		const char *lib = soname;                                    \
		struct img_dl_##name *t = &dl_##name;                        \
		void *h = dlopen(lib, RTLD_NOW | RTLD_LOCAL);                \
		LIST(IMG_DL_FIELD_LOAD)                                      \
	}                                                                    \
	const struct img_dl_##name *img_dl_##name(void)                      \
	{                                                                    \
		pthread_once(&once_##name, load_##name);                     \
		return &dl_##name;                                           \
	}

IMG_DL_LIBRARY(archive, "libarchive.so.13", IMG_DL_ARCHIVE)
IMG_DL_LIBRARY(curl, "libcurl.so.4", IMG_DL_CURL)
IMG_DL_LIBRARY(crypto, "libcrypto.so.3", IMG_DL_CRYPTO)
