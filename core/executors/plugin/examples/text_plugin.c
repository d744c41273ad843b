/* An example batchd plugin in plain C (load with --plugin=/path/to/libbatchd_text_plugin.so):
 *   upper:     input "some text" or {"text": "some text"} -> "SOME TEXT" (ASCII letters only;
 *              other bytes, UTF-8 included, are kept as they are)
 *   wordcount: the same input -> {"words": N}, N = runs of bytes other than ASCII whitespace;
 *              sends "counting N bytes\n" as partial output first (StreamTaskOutput)
 * Stateless and reentrant: batchd may call execute from several threads at once.
 *
 * Its JSON reading is deliberately small: it reads the top-level string, or the "text" member
 * of a top-level object (skipping other members), and fails the task with a message naming
 * the field for anything else. batchd always passes valid JSON, so it does not validate more
 * than it needs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/executors/plugin/batchd_plugin.h"

typedef struct {
  const char* p;
  const char* end;
} reader;

enum { kMaxDepth = 64 };

static void skip_ws(reader* r) {
  while (r->p < r->end && (*r->p == ' ' || *r->p == '\t' || *r->p == '\n' || *r->p == '\r')) {
    ++r->p;
  }
}

static int hex4(const char* p, unsigned* out) {
  unsigned v = 0;
  for (int i = 0; i < 4; ++i) {
    char c = p[i];
    v <<= 4;
    if (c >= '0' && c <= '9') {
      v |= (unsigned)(c - '0');
    } else if (c >= 'a' && c <= 'f') {
      v |= (unsigned)(c - 'a' + 10);
    } else if (c >= 'A' && c <= 'F') {
      v |= (unsigned)(c - 'A' + 10);
    } else {
      return -1;
    }
  }
  *out = v;
  return 0;
}

static size_t put_utf8(unsigned cp, char* out) {
  if (cp < 0x80) {
    out[0] = (char)cp;
    return 1;
  }
  if (cp < 0x800) {
    out[0] = (char)(0xC0 | (cp >> 6));
    out[1] = (char)(0x80 | (cp & 0x3F));
    return 2;
  }
  if (cp < 0x10000) {
    out[0] = (char)(0xE0 | (cp >> 12));
    out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[2] = (char)(0x80 | (cp & 0x3F));
    return 3;
  }
  out[0] = (char)(0xF0 | (cp >> 18));
  out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
  out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
  out[3] = (char)(0x80 | (cp & 0x3F));
  return 4;
}

/* Reads the JSON string at r->p (which is at its opening quote). With out != NULL, stores the
 * decoded bytes in a malloc'ed buffer (decoded text is never longer than its JSON form).
 * Returns 0, or -1 on malformed input. */
static int read_string(reader* r, char** out, size_t* out_len) {
  ++r->p; /* the opening quote */
  char* buf = NULL;
  size_t n = 0;
  if (out != NULL) {
    buf = malloc((size_t)(r->end - r->p) + 1);
    if (buf == NULL) return -1;
  }
  while (r->p < r->end && *r->p != '"') {
    char c = *r->p++;
    if (c != '\\') {
      if (buf != NULL) buf[n++] = c;
      continue;
    }
    if (r->p >= r->end) break;
    char e = *r->p++;
    static const char kEscapes[] = "\"\\/bfnrt";
    static const char kDecoded[] = "\"\\/\b\f\n\r\t";
    const char* simple = e != '\0' ? strchr(kEscapes, e) : NULL;
    if (simple != NULL) {
      if (buf != NULL) buf[n++] = kDecoded[simple - kEscapes];
      continue;
    }
    if (e != 'u' || r->end - r->p < 4) goto malformed;
    unsigned cp = 0;
    if (hex4(r->p, &cp) != 0) goto malformed;
    r->p += 4;
    if (cp >= 0xD800 && cp <= 0xDBFF) { /* a surrogate pair: \uD83D\uDE00 */
      unsigned low = 0;
      if (r->end - r->p < 6 || r->p[0] != '\\' || r->p[1] != 'u' || hex4(r->p + 2, &low) != 0 ||
          low < 0xDC00 || low > 0xDFFF) {
        goto malformed;
      }
      r->p += 6;
      cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
    }
    if (buf != NULL) n += put_utf8(cp, buf + n);
  }
  if (r->p >= r->end) goto malformed;
  ++r->p; /* the closing quote */
  if (out != NULL) {
    buf[n] = '\0';
    *out = buf;
    *out_len = n;
  }
  return 0;
malformed:
  free(buf);
  return -1;
}

/* Skips one JSON value of any kind. Returns 0, or -1 on malformed or too deeply nested input. */
static int skip_value(reader* r, int depth) {
  skip_ws(r);
  if (r->p >= r->end || depth > kMaxDepth) return -1;
  char open = *r->p;
  if (open == '"') return read_string(r, NULL, NULL);
  if (open != '{' && open != '[') {
    const char* start = r->p;
    while (r->p < r->end && strchr("+-.0123456789abcdefghijklmnopqrstuvwxyzE", *r->p) != NULL &&
           *r->p != '\0') {
      ++r->p;
    }
    return r->p > start ? 0 : -1;
  }
  char close = open == '{' ? '}' : ']';
  ++r->p;
  skip_ws(r);
  if (r->p < r->end && *r->p == close) {
    ++r->p;
    return 0;
  }
  for (;;) {
    if (open == '{') {
      skip_ws(r);
      if (r->p >= r->end || *r->p != '"' || read_string(r, NULL, NULL) != 0) return -1;
      skip_ws(r);
      if (r->p >= r->end || *r->p++ != ':') return -1;
    }
    if (skip_value(r, depth + 1) != 0) return -1;
    skip_ws(r);
    if (r->p >= r->end) return -1;
    char c = *r->p++;
    if (c == close) return 0;
    if (c != ',') return -1;
  }
}

/* The text to work on: the input string, or the input object's "text". On failure returns
 * NULL and sets *error to a message naming the field. */
static char* extract_text(const char* json, size_t len, size_t* text_len, const char** error) {
  reader r = {json, json + len};
  char* text = NULL;
  skip_ws(&r);
  if (r.p < r.end && *r.p == '"') {
    if (read_string(&r, &text, text_len) != 0) goto malformed;
  } else if (r.p < r.end && *r.p == '{') {
    ++r.p;
    skip_ws(&r);
    if (r.p < r.end && *r.p == '}') {
      ++r.p;
    } else {
      for (;;) {
        skip_ws(&r);
        char* key = NULL;
        size_t key_len = 0;
        if (r.p >= r.end || *r.p != '"' || read_string(&r, &key, &key_len) != 0) goto malformed;
        int is_text = key_len == 4 && memcmp(key, "text", 4) == 0;
        free(key);
        skip_ws(&r);
        if (r.p >= r.end || *r.p++ != ':') goto malformed;
        skip_ws(&r);
        if (is_text) {
          if (r.p >= r.end || *r.p != '"') {
            *error = "input.text must be a string";
            free(text);
            return NULL;
          }
          free(text); /* a repeated key: the last one wins, as in most JSON readers */
          text = NULL;
          if (read_string(&r, &text, text_len) != 0) goto malformed;
        } else if (skip_value(&r, 1) != 0) {
          goto malformed;
        }
        skip_ws(&r);
        if (r.p >= r.end) goto malformed;
        char c = *r.p++;
        if (c == '}') break;
        if (c != ',') goto malformed;
      }
    }
    if (text == NULL) {
      *error = "input.text is missing (input is a string or {\"text\": string})";
      return NULL;
    }
  } else {
    *error = "input must be a string or {\"text\": string}";
    return NULL;
  }
  skip_ws(&r);
  if (r.p != r.end) goto malformed;
  return text;
malformed:
  free(text);
  *error = "input is not JSON this plugin can read";
  return NULL;
}

static void fail(batchd_completion* completion, const char* executor, const char* error) {
  char message[256];
  int n = snprintf(message, sizeof message, "%s: %s", executor, error);
  if (n < 0) n = 0;
  if ((size_t)n >= sizeof message) n = (int)sizeof message - 1;
  completion->complete(completion, 0, message, (size_t)n, /*non_retryable=*/1);
}

/* The text uppercased, as a JSON string (malloc'ed). */
static char* upper_json(const char* text, size_t len, size_t* out_len) {
  char* out = malloc(len * 6 + 3); /* worst case: every byte a \u00XX escape */
  if (out == NULL) return NULL;
  size_t n = 0;
  out[n++] = '"';
  for (size_t i = 0; i < len; ++i) {
    unsigned char c = (unsigned char)text[i];
    if (c >= 'a' && c <= 'z') c = (unsigned char)(c - 'a' + 'A');
    if (c == '"' || c == '\\') {
      out[n++] = '\\';
      out[n++] = (char)c;
    } else if (c < 0x20) {
      n += (size_t)sprintf(out + n, "\\u%04x", c);
    } else {
      out[n++] = (char)c;
    }
  }
  out[n++] = '"';
  *out_len = n;
  return out;
}

static size_t count_words(const char* text, size_t len) {
  size_t words = 0;
  int in_word = 0;
  for (size_t i = 0; i < len; ++i) {
    char c = text[i];
    int space = c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
    if (!space && !in_word) ++words;
    in_word = !space;
  }
  return words;
}

static void text_execute(void* plugin_ctx, const char* executor, const char* input_json,
                         size_t input_len, uint32_t attempt, batchd_completion* completion) {
  (void)plugin_ctx;
  (void)attempt;
  const char* error = NULL;
  size_t text_len = 0;
  char* text = extract_text(input_json, input_len, &text_len, &error);
  if (text == NULL) {
    fail(completion, executor, error);
    return;
  }
  if (strcmp(executor, "upper") == 0) {
    size_t out_len = 0;
    char* out = upper_json(text, text_len, &out_len);
    free(text);
    if (out == NULL) {
      completion->complete(completion, 0, "upper: out of memory", 20, 0);
      return;
    }
    completion->complete(completion, 1, out, out_len, 0);
    free(out); /* batchd copied it */
    return;
  }
  char progress[64];
  int p = snprintf(progress, sizeof progress, "counting %zu bytes\n", text_len);
  completion->output(completion, progress, (size_t)p);
  size_t words = count_words(text, text_len);
  free(text);
  char out[64];
  int n = snprintf(out, sizeof out, "{\"words\": %zu}", words);
  completion->complete(completion, 1, out, (size_t)n, 0);
}

static const char* const kExecutors[] = {"upper", "wordcount", NULL};

static const batchd_plugin_v1 kPlugin = {
    .abi_version = BATCHD_PLUGIN_ABI_VERSION,
    .name = "text",
    .executors = kExecutors,
    .init = NULL,
    .shutdown = NULL,
    .execute = text_execute,
    .cancel = NULL, /* every call completes before execute returns */
};

BATCHD_PLUGIN_EXPORT const batchd_plugin_v1* batchd_plugin_entry(void) { return &kPlugin; }
