/*
 * N-API surface of the native mining kernel: `shaNi` (boolean) and
 * `scan(work: Uint32Array(12), start: number, count: number): number` (offset of the first candidate or -1).
 * Plain C against node_api.h, so no C++ runtime and no extra npm package are needed to build it.
 */
#include <node_api.h>

#include "kernel.h"

/* Probed once at load: CPUID traps to the hypervisor in a VM and costs microseconds per call. */
static int has_sha_ni = 0;

/* Keeps one call well under a millisecond even at ~15 M hashes/s, and bounds the loop counter. */
#define MAX_COUNT (1u << 30)

static napi_value throw_type(napi_env env, const char* msg) {
  napi_throw_type_error(env, NULL, msg);
  return NULL;
}

static napi_value scan(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 3)
    return throw_type(env, "scan(work, start, count) takes three arguments");

  napi_typedarray_type type;
  size_t length;
  void* data;
  bool is_typed = false;
  napi_is_typedarray(env, argv[0], &is_typed);
  if (!is_typed) return throw_type(env, "work must be a Uint32Array");
  if (napi_get_typedarray_info(env, argv[0], &type, &length, &data, NULL, NULL) != napi_ok ||
      type != napi_uint32_array || length != JBC_WORK_WORDS)
    return throw_type(env, "work must be a Uint32Array of 12 words");

  uint32_t start, count;
  if (napi_get_value_uint32(env, argv[1], &start) != napi_ok ||
      napi_get_value_uint32(env, argv[2], &count) != napi_ok)
    return throw_type(env, "start and count must be numbers");
  if (count > MAX_COUNT) return throw_type(env, "count too large");
  if (!has_sha_ni) {
    napi_throw_error(env, NULL, "this CPU has no SHA extensions");
    return NULL;
  }

  const int64_t found = jbc_scan_sha_ni((const uint32_t*)data, start, count);
  napi_value result;
  napi_create_int64(env, found, &result);
  return result;
}

NAPI_MODULE_INIT() {
  napi_value fn, flag;
  has_sha_ni = jbc_cpu_has_sha_ni();
  napi_create_function(env, "scan", NAPI_AUTO_LENGTH, scan, NULL, &fn);
  napi_set_named_property(env, exports, "scan", fn);
  napi_get_boolean(env, has_sha_ni != 0, &flag);
  napi_set_named_property(env, exports, "shaNi", flag);
  return exports;
}
