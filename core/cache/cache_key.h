// What a cached result is filed under: a SHA-256 digest of the task as it runs -- its executor,
// its input after dependency outputs were substituted (core/inputs), the dependency outputs a
// callback worker receives -- and the namespace; or of a key the client gives and the namespace.
// The input is digested in a canonical form (object members sorted by name, every value typed
// and length-prefixed), so equal JSON gives equal keys whatever the order of its members.
// CacheKeyBuilder reuses its buffer and digest context: one per thread (the scheduler's strand).
#pragma once

#include <array>
#include <boost/json/value.hpp>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/hash/hash.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace batchd::core {

struct CacheKey {
  std::array<uint8_t, 32> digest{};

  bool operator==(const CacheKey&) const = default;
  template <typename H>
  friend H AbslHashValue(H h, const CacheKey& k) {
    // Already uniform: the first 8 bytes are as good a hash as any.
    uint64_t prefix = 0;
    for (int i = 0; i < 8; ++i) prefix = (prefix << 8) | k.digest[i];
    return H::combine(std::move(h), prefix);
  }
  // 64 lower-case hex digits, as ListCache / InvalidateCache spell a key.
  std::string Hex() const;
};

// One dependency output a callback worker receives (nullptr: the dependency produced none).
struct DigestedDependency {
  absl::string_view id;
  const boost::json::value* output = nullptr;
};

class CacheKeyBuilder {
 public:
  CacheKeyBuilder();
  ~CacheKeyBuilder();
  CacheKeyBuilder(const CacheKeyBuilder&) = delete;
  CacheKeyBuilder& operator=(const CacheKeyBuilder&) = delete;

  // The key of a task run by `executor` with `input`; `dependencies` only for executors that
  // receive them (callback workers), in the order the task lists them.
  CacheKey ForTask(absl::string_view name_space, absl::string_view executor,
                   const boost::json::value& input,
                   absl::Span<const DigestedDependency> dependencies = {});
  // The key of a client's own key string.
  CacheKey ForClientKey(absl::string_view name_space, absl::string_view key);

 private:
  CacheKey Digest();
  void Append(const boost::json::value& v);
  void AppendBytes(absl::string_view bytes);  // length-prefixed
  void AppendU64(uint64_t v);

  std::string buffer_;
  struct Sha;  // OpenSSL's context, kept out of this header
  std::unique_ptr<Sha> sha_;
};

}  // namespace batchd::core
