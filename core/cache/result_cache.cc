#include "core/cache/result_cache.h"

#include <utility>

namespace batchd::core {
namespace {

constexpr size_t kEntryOverhead = 160;  // list node, map slot, key, strings' headers

// About the length of `v`'s JSON text, without writing it: strings and keys as they are (plus
// quotes), numbers as 20 characters at most, and one separator per member or element.
size_t JsonSize(const boost::json::value& v) {
  switch (v.kind()) {
    case boost::json::kind::null:
    case boost::json::kind::bool_:
      return 5;
    case boost::json::kind::int64:
    case boost::json::kind::uint64:
    case boost::json::kind::double_:
      return 20;
    case boost::json::kind::string:
      return v.get_string().size() + 2;
    case boost::json::kind::array: {
      size_t size = 2;
      for (const boost::json::value& e : v.get_array()) size += JsonSize(e) + 1;
      return size;
    }
    case boost::json::kind::object: {
      size_t size = 2;
      for (const auto& m : v.get_object()) size += m.key().size() + 4 + JsonSize(m.value());
      return size;
    }
  }
  return 0;
}

}  // namespace

size_t CacheEntryBytes(const boost::json::value& output, absl::string_view name_space,
                       const CachedFrom& origin) {
  return JsonSize(output) + name_space.size() + origin.batch_id.size() + origin.task_id.size() +
         kEntryOverhead;
}

const CacheEntry* ResultCache::Find(const CacheKey& key, SteadyTime now) {
  auto it = by_key_.find(key);
  if (it == by_key_.end()) {
    ++stats_.misses;
    return nullptr;
  }
  if (it->second->expires <= now) {
    ++stats_.expirations;
    ++stats_.misses;
    Erase(it->second);
    return nullptr;
  }
  lru_.splice(lru_.begin(), lru_, it->second);  // iterators stay valid
  ++stats_.hits;
  return &*it->second;
}

bool ResultCache::Store(const CacheKey& key, absl::string_view name_space,
                        boost::json::value output, std::shared_ptr<const CachedFrom> origin,
                        SteadyTime expires, SteadyTime now) {
  const CacheEntry* stored =
      Insert(key, name_space, std::move(output), std::move(origin), expires, now);
  if (stored == nullptr) return false;
  ++stats_.stored;
  if (observer_ != nullptr) observer_->Stored(*stored);
  return true;
}

bool ResultCache::Restore(const CacheKey& key, absl::string_view name_space,
                          boost::json::value output, std::shared_ptr<const CachedFrom> origin,
                          SteadyTime expires, SteadyTime now) {
  if (Insert(key, name_space, std::move(output), std::move(origin), expires, now) != nullptr) {
    return true;
  }
  // The bounds are smaller than when it was stored: the journal's copy goes too.
  if (observer_ != nullptr) observer_->Dropped(key);
  return false;
}

const CacheEntry* ResultCache::Insert(const CacheKey& key, absl::string_view name_space,
                                      boost::json::value output,
                                      std::shared_ptr<const CachedFrom> origin, SteadyTime expires,
                                      SteadyTime now) {
  const size_t bytes = CacheEntryBytes(output, name_space, *origin);
  if (bytes > options_.max_entry_bytes || bytes > options_.max_bytes) {
    ++stats_.too_large;
    return nullptr;
  }
  // The new entry replaces the old one in the observer's copy too.
  if (auto it = by_key_.find(key); it != by_key_.end()) Erase(it->second, /*told=*/false);
  MakeRoom(bytes, now);
  lru_.push_front(CacheEntry{key, std::string(name_space), std::move(output), std::move(origin),
                             expires, bytes});
  by_key_[key] = lru_.begin();
  stats_.bytes += bytes;
  stats_.entries = lru_.size();
  return &lru_.front();
}

void ResultCache::Erase(Lru::iterator it, bool told) {
  if (told && observer_ != nullptr) observer_->Dropped(it->key);
  stats_.bytes -= it->bytes;
  by_key_.erase(it->key);
  lru_.erase(it);
  stats_.entries = lru_.size();
}

void ResultCache::MakeRoom(size_t incoming, SteadyTime now) {
  // From the cold end: an expired entry goes as an expiration, a live one as an eviction.
  while (!lru_.empty() && stats_.bytes + incoming > options_.max_bytes) {
    const auto coldest = std::prev(lru_.end());
    ++(coldest->expires <= now ? stats_.expirations : stats_.evictions);
    Erase(coldest);
  }
}

size_t ResultCache::InvalidateKey(const CacheKey& key) {
  auto it = by_key_.find(key);
  if (it == by_key_.end()) return 0;
  Erase(it->second);
  ++stats_.invalidations;
  return 1;
}

size_t ResultCache::InvalidateNamespace(absl::string_view name_space) {
  size_t n = 0;
  for (auto it = lru_.begin(); it != lru_.end();) {
    auto next = std::next(it);
    if (it->name_space == name_space) {
      Erase(it, /*told=*/false);
      ++n;
    }
    it = next;
  }
  stats_.invalidations += n;
  // Told even when nothing was here: the observer's copy then agrees whatever it holds.
  if (observer_ != nullptr) observer_->DroppedNamespace(name_space);
  return n;
}

size_t ResultCache::InvalidateAll() {
  if (observer_ != nullptr) observer_->Cleared();
  const size_t n = lru_.size();
  lru_.clear();
  by_key_.clear();
  stats_.bytes = 0;
  stats_.entries = 0;
  stats_.invalidations += n;
  return n;
}

}  // namespace batchd::core
