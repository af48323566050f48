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

static struct img_dl_archive dl_archive;
static pthread_once_t once_archive = PTHREAD_ONCE_INIT;

static void load_archive(void)
{
	void *h = dlopen("libarchive.so.13", RTLD_NOW | RTLD_LOCAL);
#define IMG_DL_LOAD(f) dl_archive.f = dl_sym(h, "libarchive.so.13", #f);
	IMG_DL_ARCHIVE(IMG_DL_LOAD)
#undef IMG_DL_LOAD
}

const struct img_dl_archive *img_dl_archive(void)
{
	pthread_once(&once_archive, load_archive);
	return &dl_archive;
}

static struct img_dl_curl dl_curl;
static pthread_once_t once_curl = PTHREAD_ONCE_INIT;

static void load_curl(void)
{
	void *h = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
#define IMG_DL_LOAD(f) dl_curl.f = dl_sym(h, "libcurl.so.4", #f);
	IMG_DL_CURL(IMG_DL_LOAD)
#undef IMG_DL_LOAD
}

const struct img_dl_curl *img_dl_curl(void)
{
	pthread_once(&once_curl, load_curl);
	return &dl_curl;
}

static struct img_dl_crypto dl_crypto;
static pthread_once_t once_crypto = PTHREAD_ONCE_INIT;

static void load_crypto(void)
{
	void *h = dlopen("libcrypto.so.3", RTLD_NOW | RTLD_LOCAL);
#define IMG_DL_LOAD(f) dl_crypto.f = dl_sym(h, "libcrypto.so.3", #f);
	IMG_DL_CRYPTO(IMG_DL_LOAD)
#undef IMG_DL_LOAD
}

const struct img_dl_crypto *img_dl_crypto(void)
{
	pthread_once(&once_crypto, load_crypto);
	return &dl_crypto;
}
