/* The image code's heavy libraries (libarchive, libcurl, libcrypto) are
 * loaded on first use, not at every start of cell: together they add
 * ~15 ms of library set-up to each exec, which every lifecycle command
 * would pay (twice, with the sealed re-exec). Include this after the
 * libraries' own headers; calls then go through the tables below. */
#ifndef CELL_IMAGES_DL_H
#define CELL_IMAGES_DL_H

#include <archive.h>
#include <archive_entry.h>
#include <curl/curl.h>
#include <openssl/evp.h>

#define IMG_DL_FIELD(f) __typeof__(&f) f;
#define IMG_DL_ARCHIVE(X) \
	X(archive_entry_filetype) \
	X(archive_entry_gid) \
	X(archive_entry_hardlink) \
	X(archive_entry_mode) \
	X(archive_entry_mtime) \
	X(archive_entry_mtime_nsec) \
	X(archive_entry_pathname) \
	X(archive_entry_rdev) \
	X(archive_entry_size) \
	X(archive_entry_symlink) \
	X(archive_entry_uid) \
	X(archive_entry_xattr_next) \
	X(archive_entry_xattr_reset) \
	X(archive_errno) \
	X(archive_error_string) \
	X(archive_filter_bytes) \
	X(archive_read_data) \
	X(archive_read_data_block) \
	X(archive_read_free) \
	X(archive_read_new) \
	X(archive_read_next_header) \
	X(archive_read_open_fd) \
	X(archive_read_open_memory) \
	X(archive_read_support_filter_bzip2) \
	X(archive_read_support_filter_gzip) \
	X(archive_read_support_filter_lzma) \
	X(archive_read_support_filter_none) \
	X(archive_read_support_filter_xz) \
	X(archive_read_support_filter_zstd) \
	X(archive_read_support_format_raw) \
	X(archive_read_support_format_tar)
struct img_dl_archive { IMG_DL_ARCHIVE(IMG_DL_FIELD) };
/* libarchive.so.13, loaded once; a missing library aborts with a message naming it */
const struct img_dl_archive *img_dl_archive(void);
#define IMG_DL_CURL(X) \
	X(curl_easy_cleanup) \
	X(curl_easy_escape) \
	X(curl_easy_getinfo) \
	X(curl_easy_init) \
	X(curl_easy_perform) \
	X(curl_easy_setopt) \
	X(curl_easy_strerror) \
	X(curl_free) \
	X(curl_global_cleanup) \
	X(curl_global_init) \
	X(curl_slist_append) \
	X(curl_slist_free_all)
struct img_dl_curl { IMG_DL_CURL(IMG_DL_FIELD) };
/* libcurl.so.4, loaded once; a missing library aborts with a message naming it */
const struct img_dl_curl *img_dl_curl(void);
#define IMG_DL_CRYPTO(X) \
	X(EVP_DigestFinal_ex) \
	X(EVP_DigestInit_ex) \
	X(EVP_DigestUpdate) \
	X(EVP_MD_CTX_free) \
	X(EVP_MD_CTX_new) \
	X(EVP_sha256)
struct img_dl_crypto { IMG_DL_CRYPTO(IMG_DL_FIELD) };
/* libcrypto.so.3, loaded once; a missing library aborts with a message naming it */
const struct img_dl_crypto *img_dl_crypto(void);

#ifndef IMG_DL_NO_REDIRECT
/* every call below goes through the tables (the typecheck macros of
 * curl's header are replaced too) */
#undef archive_entry_filetype
#define archive_entry_filetype (img_dl_archive()->archive_entry_filetype)
#undef archive_entry_gid
#define archive_entry_gid (img_dl_archive()->archive_entry_gid)
#undef archive_entry_hardlink
#define archive_entry_hardlink (img_dl_archive()->archive_entry_hardlink)
#undef archive_entry_mode
#define archive_entry_mode (img_dl_archive()->archive_entry_mode)
#undef archive_entry_mtime
#define archive_entry_mtime (img_dl_archive()->archive_entry_mtime)
#undef archive_entry_mtime_nsec
#define archive_entry_mtime_nsec (img_dl_archive()->archive_entry_mtime_nsec)
#undef archive_entry_pathname
#define archive_entry_pathname (img_dl_archive()->archive_entry_pathname)
#undef archive_entry_rdev
#define archive_entry_rdev (img_dl_archive()->archive_entry_rdev)
#undef archive_entry_size
#define archive_entry_size (img_dl_archive()->archive_entry_size)
#undef archive_entry_symlink
#define archive_entry_symlink (img_dl_archive()->archive_entry_symlink)
#undef archive_entry_uid
#define archive_entry_uid (img_dl_archive()->archive_entry_uid)
#undef archive_entry_xattr_next
#define archive_entry_xattr_next (img_dl_archive()->archive_entry_xattr_next)
#undef archive_entry_xattr_reset
#define archive_entry_xattr_reset (img_dl_archive()->archive_entry_xattr_reset)
#undef archive_errno
#define archive_errno (img_dl_archive()->archive_errno)
#undef archive_error_string
#define archive_error_string (img_dl_archive()->archive_error_string)
#undef archive_filter_bytes
#define archive_filter_bytes (img_dl_archive()->archive_filter_bytes)
#undef archive_read_data
#define archive_read_data (img_dl_archive()->archive_read_data)
#undef archive_read_data_block
#define archive_read_data_block (img_dl_archive()->archive_read_data_block)
#undef archive_read_free
#define archive_read_free (img_dl_archive()->archive_read_free)
#undef archive_read_new
#define archive_read_new (img_dl_archive()->archive_read_new)
#undef archive_read_next_header
#define archive_read_next_header (img_dl_archive()->archive_read_next_header)
#undef archive_read_open_fd
#define archive_read_open_fd (img_dl_archive()->archive_read_open_fd)
#undef archive_read_open_memory
#define archive_read_open_memory (img_dl_archive()->archive_read_open_memory)
#undef archive_read_support_filter_bzip2
#define archive_read_support_filter_bzip2 (img_dl_archive()->archive_read_support_filter_bzip2)
#undef archive_read_support_filter_gzip
#define archive_read_support_filter_gzip (img_dl_archive()->archive_read_support_filter_gzip)
#undef archive_read_support_filter_lzma
#define archive_read_support_filter_lzma (img_dl_archive()->archive_read_support_filter_lzma)
#undef archive_read_support_filter_none
#define archive_read_support_filter_none (img_dl_archive()->archive_read_support_filter_none)
#undef archive_read_support_filter_xz
#define archive_read_support_filter_xz (img_dl_archive()->archive_read_support_filter_xz)
#undef archive_read_support_filter_zstd
#define archive_read_support_filter_zstd (img_dl_archive()->archive_read_support_filter_zstd)
#undef archive_read_support_format_raw
#define archive_read_support_format_raw (img_dl_archive()->archive_read_support_format_raw)
#undef archive_read_support_format_tar
#define archive_read_support_format_tar (img_dl_archive()->archive_read_support_format_tar)
#undef curl_easy_cleanup
#define curl_easy_cleanup (img_dl_curl()->curl_easy_cleanup)
#undef curl_easy_escape
#define curl_easy_escape (img_dl_curl()->curl_easy_escape)
#undef curl_easy_getinfo
#define curl_easy_getinfo (img_dl_curl()->curl_easy_getinfo)
#undef curl_easy_init
#define curl_easy_init (img_dl_curl()->curl_easy_init)
#undef curl_easy_perform
#define curl_easy_perform (img_dl_curl()->curl_easy_perform)
#undef curl_easy_setopt
#define curl_easy_setopt (img_dl_curl()->curl_easy_setopt)
#undef curl_easy_strerror
#define curl_easy_strerror (img_dl_curl()->curl_easy_strerror)
#undef curl_free
#define curl_free (img_dl_curl()->curl_free)
#undef curl_global_cleanup
#define curl_global_cleanup (img_dl_curl()->curl_global_cleanup)
#undef curl_global_init
#define curl_global_init (img_dl_curl()->curl_global_init)
#undef curl_slist_append
#define curl_slist_append (img_dl_curl()->curl_slist_append)
#undef curl_slist_free_all
#define curl_slist_free_all (img_dl_curl()->curl_slist_free_all)
#undef EVP_DigestFinal_ex
#define EVP_DigestFinal_ex (img_dl_crypto()->EVP_DigestFinal_ex)
#undef EVP_DigestInit_ex
#define EVP_DigestInit_ex (img_dl_crypto()->EVP_DigestInit_ex)
#undef EVP_DigestUpdate
#define EVP_DigestUpdate (img_dl_crypto()->EVP_DigestUpdate)
#undef EVP_MD_CTX_free
#define EVP_MD_CTX_free (img_dl_crypto()->EVP_MD_CTX_free)
#undef EVP_MD_CTX_new
#define EVP_MD_CTX_new (img_dl_crypto()->EVP_MD_CTX_new)
#undef EVP_sha256
#define EVP_sha256 (img_dl_crypto()->EVP_sha256)

#endif
#endif
