/* The C ABI between batchd and executor plugins (shared objects loaded with --plugin). Plain C
 * so plugins can be written in C, C++, Rust, Zig or anything that can export a C symbol.
 * Threading: execute runs on a bounded pool of blocking threads; cancel runs on the scheduler's
 * thread and must not block. Details below. */
#ifndef BATCHD_PLUGIN_H_
#define BATCHD_PLUGIN_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Bumped on any incompatible change to the structs below. batchd refuses to load a plugin whose
 * descriptor carries another version ("plugin <file>: ABI version N, this batchd supports 1").
 */
#define BATCHD_PLUGIN_ABI_VERSION 1

/* The one symbol batchd looks up (dlsym) in every plugin. */
#define BATCHD_PLUGIN_ENTRY_SYMBOL "batchd_plugin_entry"

#if defined(__GNUC__) || defined(__clang__)
#define BATCHD_PLUGIN_EXPORT __attribute__((visibility("default")))
#else
#define BATCHD_PLUGIN_EXPORT
#endif

/* One attempt of one task, owned by batchd. The plugin reports the attempt's outcome by calling
 * complete() exactly once: from execute itself or later, from any thread. The completion (and
 * the input passed to execute) stays valid until complete() is called and must not be touched
 * afterwards; calling complete() twice is undefined behaviour. */
typedef struct batchd_completion batchd_completion;
struct batchd_completion {
  /* success != 0: `text` is the task's output as JSON text (any JSON value; invalid JSON fails
   * the task with "plugin <name>: returned invalid JSON: ...").
   * success == 0: `text` is the task's error message, used as is (not JSON).
   * non_retryable != 0 (failures only): fail the task now, whatever its retry policy says; use
   * it for bad input that no retry can fix.
   * batchd copies `text` before complete() returns: the plugin keeps ownership of its buffer.
   * Thread-safe; never blocks. */
  void (*complete)(batchd_completion* self, int success, const char* text, size_t len,
                   int non_retryable);
  /* Nonzero once batchd cancelled this attempt (timeout, batch cancelled). Blocking code may
   * poll it to stop early. A cancelled attempt must still be completed; its report is
   * ignored. Thread-safe. */
  int (*is_cancelled)(const batchd_completion* self);
  /* Free for the plugin (e.g. its per-attempt state, for cancel); batchd never reads it. */
  void* plugin_data;
  /* batchd's; do not touch. */
  void* batchd_data;
  /* Sends `text` (UTF-8; other bytes are replaced) as partial output of the attempt, before
   * complete(): readers follow it with StreamTaskOutput (an LLM's tokens, progress lines).
   * batchd copies it. Thread-safe; never blocks. Ignored once the attempt is cancelled.
   * Appended to ABI version 1: a batchd built from a header without it has no such member, so a
   * plugin that may be loaded by one must not call it. */
  void (*output)(batchd_completion* self, const char* text, size_t len);
};

/* What a plugin provides. Returned by batchd_plugin_entry(); must stay valid (usually a static
 * const object) until the plugin is unloaded. */
typedef struct batchd_plugin_v1 {
  /* BATCHD_PLUGIN_ABI_VERSION. The first member in every version of this struct, so batchd can
   * read it before it trusts the rest. */
  uint32_t abi_version;
  /* Short, for logs and error messages, e.g. "text". */
  const char* name;
  /* NULL-terminated list of executor names, each distinct from every other executor of the
   * daemon (batchd refuses to start on a collision and names both providers). */
  const char* const* executors;

  /* Optional (may be NULL). Called once, on the daemon's main thread, before any execute.
   * `config` is a NUL-terminated string (empty in this version). Return 0 on success and set
   * *plugin_ctx (passed to every other call; may stay NULL); nonzero stops the daemon from
   * starting. */
  int (*init)(const char* config, void** plugin_ctx);
  /* Optional. Called once when the daemon stops, after every execute call has returned. Stop
   * any threads of your own here: no completion may be called after it returns. */
  void (*shutdown)(void* plugin_ctx);

  /* Required. Runs one attempt of a task of `executor` (one of `executors`, NUL-terminated).
   * `input_json` is the task's input as JSON text, `input_len` bytes plus a terminating NUL;
   * valid until complete() is called. `attempt` counts retries made so far (0 on the first
   * try). Runs on one of batchd's plugin threads (--plugin-threads per plugin), never on the
   * scheduler's thread: it may block, but a blocked call holds a thread that other attempts
   * of this plugin then queue for. Called concurrently from several threads. */
  void (*execute)(void* plugin_ctx, const char* executor, const char* input_json, size_t input_len,
                  uint32_t attempt, batchd_completion* completion);
  /* Optional. batchd no longer wants the attempt of `completion` (still valid during this
   * call). Called only for attempts whose execute was entered or is about to be (an attempt
   * cancelled while still queued is dropped without ever reaching the plugin), so it may
   * arrive before execute got far; it may also race with the plugin's own complete() from
   * another thread. Runs on the scheduler's thread: must return quickly and never block (set
   * a flag, signal a condition). The attempt must still be completed exactly once. Blocking
   * code that has no other way to stop can simply poll completion->is_cancelled. */
  void (*cancel)(void* plugin_ctx, batchd_completion* completion);
} batchd_plugin_v1;

/* The entry point every plugin exports:
 *   BATCHD_PLUGIN_EXPORT const batchd_plugin_v1* batchd_plugin_entry(void); */
typedef const batchd_plugin_v1* (*batchd_plugin_entry_fn)(void);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* BATCHD_PLUGIN_H_ */
