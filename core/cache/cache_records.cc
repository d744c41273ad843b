#include "core/cache/cache_records.h"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cstring>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "core/cache/result_cache.h"

namespace batchd::core {
namespace {

std::string KeyBytes(const CacheKey& key) {
  return std::string(reinterpret_cast<const char*>(key.digest.data()), key.digest.size());
}

absl::Status Damaged(const CacheRecord& record, absl::string_view why) {
  return absl::DataLossError(
      absl::StrCat("cache entry ", absl::BytesToHexString(record.key), " in the journal: ", why));
}

}  // namespace

CacheRecord CachePutRecord(const CacheEntry& entry, WallTime expires_at) {
  CacheRecord r;
  r.kind = CacheRecord::Kind::kPut;
  r.key = KeyBytes(entry.key);
  r.name_space = entry.name_space;
  r.expires_at = expires_at;
  boost::json::object content;
  content["batch"] = entry.origin->batch_id;
  content["task"] = entry.origin->task_id;
  content["output"] = entry.output;
  r.entry = boost::json::serialize(content);
  return r;
}

CacheRecord CacheEraseRecord(const CacheKey& key) {
  CacheRecord r;
  r.kind = CacheRecord::Kind::kErase;
  r.key = KeyBytes(key);
  return r;
}

CacheRecord CacheEraseNamespaceRecord(absl::string_view name_space) {
  CacheRecord r;
  r.kind = CacheRecord::Kind::kEraseNamespace;
  r.name_space = std::string(name_space);
  return r;
}

CacheRecord CacheClearRecord() {
  CacheRecord r;
  r.kind = CacheRecord::Kind::kClear;
  return r;
}

absl::StatusOr<StoredCacheEntry> DecodeCachePut(const CacheRecord& record) {
  StoredCacheEntry e;
  if (record.kind != CacheRecord::Kind::kPut) return Damaged(record, "not an entry");
  if (record.key.size() != e.key.digest.size()) {
    return Damaged(record, absl::StrCat("a key of ", record.key.size(), " bytes, not 32"));
  }
  std::memcpy(e.key.digest.data(), record.key.data(), e.key.digest.size());
  boost::system::error_code ec;
  boost::json::value content = boost::json::parse(record.entry, ec);
  const boost::json::object* object = ec ? nullptr : content.if_object();
  const boost::json::value* batch = object != nullptr ? object->if_contains("batch") : nullptr;
  const boost::json::value* task = object != nullptr ? object->if_contains("task") : nullptr;
  boost::json::value* output =
      object != nullptr ? content.get_object().if_contains("output") : nullptr;
  if (batch == nullptr || !batch->is_string() || task == nullptr || !task->is_string() ||
      output == nullptr) {
    return Damaged(record, "not {\"batch\", \"task\", \"output\"} JSON");
  }
  e.origin.batch_id = std::string(batch->get_string().data(), batch->get_string().size());
  e.origin.task_id = std::string(task->get_string().data(), task->get_string().size());
  e.output = std::move(*output);
  e.name_space = record.name_space;
  e.expires_at = record.expires_at;
  return e;
}

}  // namespace batchd::core
