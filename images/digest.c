/* sha256 digests of blobs (libcrypto) and their "sha256:<hex>" form. */
#include "internal.h"

#include <openssl/evp.h>

#include "dl.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct hasher {
	EVP_MD_CTX *ctx;
};

bool digest_valid(const char *d)
{
	if (!d || strncmp(d, "sha256:", 7) || strlen(d) != DIGEST_LEN)
		return false;
	for (const char *p = d + 7; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return false;
	return true;
}

struct hasher *hasher_new(void)
{
	struct hasher *h = calloc(1, sizeof(*h));

	if (!h)
		return NULL;
	h->ctx = EVP_MD_CTX_new();
	if (!h->ctx || EVP_DigestInit_ex(h->ctx, EVP_sha256(), NULL) != 1) {
		hasher_free(h);
		return NULL;
	}
	return h;
}

void hasher_update(struct hasher *h, const void *buf, size_t len)
{
	EVP_DigestUpdate(h->ctx, buf, len);
}

void hasher_final(struct hasher *h, char out[DIGEST_LEN + 1])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned n = 0;

	EVP_DigestFinal_ex(h->ctx, md, &n);
	strcpy(out, "sha256:");
	for (unsigned i = 0; i < n && i < 32; i++)
		snprintf(out + 7 + 2 * i, 3, "%02x", md[i]);
	hasher_free(h);
}

void hasher_free(struct hasher *h)
{
	if (!h)
		return;
	EVP_MD_CTX_free(h->ctx);
	free(h);
}

void digest_buf(const void *buf, size_t len, char out[DIGEST_LEN + 1])
{
	struct hasher *h = hasher_new();

	if (!h) {
		out[0] = '\0';
		return;
	}
	hasher_update(h, buf, len);
	hasher_final(h, out);
}
