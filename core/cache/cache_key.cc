#include "core/cache/cache_key.h"

#include <openssl/evp.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <utility>
#include <vector>

#include "spdlog/spdlog.h"

namespace batchd::core {
namespace {

namespace json = boost::json;

// Distinct leading tags: a task's key can never equal a client key's.
constexpr char kTaskTag = 'T';
constexpr char kClientTag = 'K';
constexpr absl::string_view kVersion = "batchd-cache-v1";

// OpenSSL without SHA-256 (or failing it) is a broken installation, not an input error.
[[noreturn]] void Die(const char* what) {
  spdlog::critical("cache key: {}", what);
  std::abort();
}

}  // namespace

struct CacheKeyBuilder::Sha {
  EVP_MD* md = nullptr;  // fetched once: an implicit fetch per digest costs more than the digest
  EVP_MD_CTX* ctx = nullptr;
};

std::string CacheKey::Hex() const {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(digest.size() * 2);
  for (uint8_t b : digest) {
    out.push_back(kDigits[b >> 4]);
    out.push_back(kDigits[b & 0xf]);
  }
  return out;
}

CacheKeyBuilder::CacheKeyBuilder() : sha_(std::make_unique<Sha>()) {
  sha_->md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  sha_->ctx = EVP_MD_CTX_new();
  if (sha_->md == nullptr || sha_->ctx == nullptr) Die("OpenSSL has no SHA-256");
}

CacheKeyBuilder::~CacheKeyBuilder() {
  EVP_MD_CTX_free(sha_->ctx);
  EVP_MD_free(sha_->md);
}

CacheKey CacheKeyBuilder::ForTask(absl::string_view name_space, absl::string_view executor,
                                  const json::value& input,
                                  absl::Span<const DigestedDependency> dependencies) {
  buffer_.clear();
  buffer_.append(kVersion.data(), kVersion.size());
  buffer_.push_back(kTaskTag);
  AppendBytes(name_space);
  AppendBytes(executor);
  Append(input);
  AppendU64(dependencies.size());
  for (const DigestedDependency& d : dependencies) {
    AppendBytes(d.id);
    if (d.output == nullptr) {
      buffer_.push_back('-');  // no output: distinct from a null one
    } else {
      Append(*d.output);
    }
  }
  return Digest();
}

CacheKey CacheKeyBuilder::ForClientKey(absl::string_view name_space, absl::string_view key) {
  buffer_.clear();
  buffer_.append(kVersion.data(), kVersion.size());
  buffer_.push_back(kClientTag);
  AppendBytes(name_space);
  AppendBytes(key);
  return Digest();
}

CacheKey CacheKeyBuilder::Digest() {
  CacheKey key;
  unsigned int size = 0;
  const bool ok = EVP_DigestInit_ex2(sha_->ctx, sha_->md, nullptr) == 1 &&
                  EVP_DigestUpdate(sha_->ctx, buffer_.data(), buffer_.size()) == 1 &&
                  EVP_DigestFinal_ex(sha_->ctx, key.digest.data(), &size) == 1;
  if (!ok || size != key.digest.size()) Die("SHA-256 failed");
  return key;
}

void CacheKeyBuilder::AppendU64(uint64_t v) {
  char bytes[8];
  std::memcpy(bytes, &v, sizeof v);
  buffer_.append(bytes, sizeof bytes);
}

void CacheKeyBuilder::AppendBytes(absl::string_view bytes) {
  AppendU64(bytes.size());
  buffer_.append(bytes.data(), bytes.size());
}

void CacheKeyBuilder::Append(const json::value& v) {
  switch (v.kind()) {
    case json::kind::null:
      buffer_.push_back('n');
      return;
    case json::kind::bool_:
      buffer_.push_back(v.get_bool() ? 't' : 'f');
      return;
    case json::kind::int64:
      buffer_.push_back('i');
      AppendU64(static_cast<uint64_t>(v.get_int64()));
      return;
    case json::kind::uint64:
      buffer_.push_back('u');
      AppendU64(v.get_uint64());
      return;
    case json::kind::double_: {
      buffer_.push_back('d');
      const double d = v.get_double();
      uint64_t bits = 0;
      std::memcpy(&bits, &d, sizeof bits);
      AppendU64(bits);
      return;
    }
    case json::kind::string: {
      buffer_.push_back('s');
      const json::string& s = v.get_string();
      AppendBytes(absl::string_view(s.data(), s.size()));
      return;
    }
    case json::kind::array: {
      const json::array& a = v.get_array();
      buffer_.push_back('[');
      AppendU64(a.size());
      for (const json::value& e : a) Append(e);
      return;
    }
    case json::kind::object: {
      const json::object& o = v.get_object();
      buffer_.push_back('{');
      AppendU64(o.size());
      if (o.size() <= 1) {
        for (const auto& m : o) {
          AppendBytes(absl::string_view(m.key().data(), m.key().size()));
          Append(m.value());
        }
        return;
      }
      std::vector<const json::key_value_pair*> members;
      members.reserve(o.size());
      for (const auto& m : o) members.push_back(&m);
      std::sort(members.begin(), members.end(),
                [](const auto* a, const auto* b) { return a->key() < b->key(); });
      for (const json::key_value_pair* m : members) {
        AppendBytes(absl::string_view(m->key().data(), m->key().size()));
        Append(m->value());
      }
      return;
    }
  }
}

}  // namespace batchd::core
