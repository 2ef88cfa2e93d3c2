#ifndef MBCTL_CCURLSHIM_H
#define MBCTL_CCURLSHIM_H

// curl_easy_setopt and curl_easy_getinfo are variadic C functions, which Swift cannot call.
// These wrappers give each argument type its own non-variadic entry point.

#include <curl/curl.h>

typedef size_t (*mbctl_curl_data_callback)(char *buffer, size_t size, size_t count, void *context);
typedef int (*mbctl_curl_xferinfo_callback)(void *context, curl_off_t dltotal, curl_off_t dlnow,
                                            curl_off_t ultotal, curl_off_t ulnow);
typedef int (*mbctl_curl_seek_callback)(void *context, curl_off_t offset, int origin);

CURLcode mbctl_curl_setopt_long(CURL *handle, CURLoption option, long value);
CURLcode mbctl_curl_setopt_off_t(CURL *handle, CURLoption option, curl_off_t value);
CURLcode mbctl_curl_setopt_string(CURL *handle, CURLoption option, const char *value);
CURLcode mbctl_curl_setopt_pointer(CURL *handle, CURLoption option, void *value);
CURLcode mbctl_curl_setopt_slist(CURL *handle, CURLoption option, struct curl_slist *value);
CURLcode mbctl_curl_setopt_data_callback(CURL *handle, CURLoption option, mbctl_curl_data_callback callback);
CURLcode mbctl_curl_setopt_xferinfo_callback(CURL *handle, mbctl_curl_xferinfo_callback callback);
CURLcode mbctl_curl_setopt_seek_callback(CURL *handle, mbctl_curl_seek_callback callback);

CURLcode mbctl_curl_getinfo_long(CURL *handle, CURLINFO info, long *value);

#endif
