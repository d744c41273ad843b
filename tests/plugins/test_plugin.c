/* A plugin exercising the corners of the ABI for tests: invalid output, failures without a
 * message, completion from another thread, cancellation of a blocked call. Its counters are
 * exported so tests can see what happened inside it. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/executors/plugin/batchd_plugin.h"

static atomic_int g_waiting;      /* wait_cancel calls blocked right now */
static atomic_int g_cancel_calls; /* cancel() calls */
static atomic_int g_async_live;   /* async threads not yet finished */

BATCHD_PLUGIN_EXPORT int test_plugin_waiting(void) { return atomic_load(&g_waiting); }
BATCHD_PLUGIN_EXPORT int test_plugin_cancel_calls(void) { return atomic_load(&g_cancel_calls); }

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

typedef struct {
  batchd_completion* completion;
  const char* input;
  size_t len;
} async_call;

/* Completes with the input as output, from a thread of the plugin's own. */
static void* async_main(void* arg) {
  async_call* call = arg;
  sleep_ms(5);
  call->completion->complete(call->completion, 1, call->input, call->len, 0);
  free(call);
  atomic_fetch_sub(&g_async_live, 1);
  return NULL;
}

static void test_execute(void* plugin_ctx, const char* executor, const char* input_json,
                         size_t input_len, uint32_t attempt, batchd_completion* completion) {
  (void)plugin_ctx;
  (void)attempt;
  if (strcmp(executor, "garbage") == 0) {
    completion->complete(completion, 1, "not json", 8, 0);
  } else if (strcmp(executor, "fail_empty") == 0) {
    completion->complete(completion, 0, NULL, 0, 0);
  } else if (strcmp(executor, "wait_cancel") == 0) {
    atomic_fetch_add(&g_waiting, 1);
    for (int i = 0; i < 60000 && !completion->is_cancelled(completion); ++i) sleep_ms(1);
    atomic_fetch_sub(&g_waiting, 1);
    completion->complete(completion, 0, "stopped", 7, 0);
  } else {
    async_call* call = malloc(sizeof *call);
    call->completion = completion;
    call->input = input_json; /* valid until complete() */
    call->len = input_len;
    atomic_fetch_add(&g_async_live, 1);
    pthread_t thread;
    pthread_create(&thread, NULL, async_main, call);
    pthread_detach(thread);
  }
}

static void test_cancel(void* plugin_ctx, batchd_completion* completion) {
  (void)plugin_ctx;
  (void)completion;
  atomic_fetch_add(&g_cancel_calls, 1);
}

static void test_shutdown(void* plugin_ctx) {
  (void)plugin_ctx;
  while (atomic_load(&g_async_live) > 0) sleep_ms(1);
}

static const char* const kExecutors[] = {"garbage", "fail_empty", "wait_cancel", "async", NULL};

static const batchd_plugin_v1 kPlugin = {
    .abi_version = BATCHD_PLUGIN_ABI_VERSION,
    .name = "test",
    .executors = kExecutors,
    .shutdown = test_shutdown,
    .execute = test_execute,
    .cancel = test_cancel,
};

BATCHD_PLUGIN_EXPORT const batchd_plugin_v1* batchd_plugin_entry(void) { return &kPlugin; }
