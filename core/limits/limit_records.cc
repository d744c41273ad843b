#include "core/limits/limit_records.h"

#include <boost/json.hpp>
#include <optional>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "core/limits/limit_file.h"

namespace batchd::core {
namespace {

absl::StatusOr<LimitSpec> Decode(const LimitRecord& record) {
  boost::system::error_code ec;
  const boost::json::value json = boost::json::parse(record.spec, ec);
  if (ec) return absl::DataLossError(absl::StrCat("invalid JSON: ", ec.message()));
  absl::StatusOr<LimitSpec> spec = LimitSpecFromJson(json);
  if (spec.ok() && spec->key != record.key) {
    return absl::DataLossError(
        absl::StrCat("it holds the spec of '", absl::CHexEscape(spec->key), "'"));
  }
  return spec;
}

}  // namespace

LimitRecord LimitSetRecord(const LimitSpec& spec) {
  return LimitRecord{spec.key, boost::json::serialize(LimitSpecToJson(spec))};
}

LimitRecord LimitDeletedRecord(std::string key) { return LimitRecord{std::move(key), ""}; }

std::vector<LimitSpec> ApplyLimitRecords(std::vector<LimitSpec> from_file,
                                         const std::vector<LimitRecord>& records,
                                         std::vector<std::string>* problems) {
  std::vector<std::optional<LimitSpec>> limits;
  limits.reserve(from_file.size() + records.size());
  absl::flat_hash_map<std::string, size_t> index;
  for (LimitSpec& spec : from_file) {
    index[spec.key] = limits.size();
    limits.emplace_back(std::move(spec));
  }
  for (const LimitRecord& record : records) {
    std::optional<LimitSpec> change;  // none: deleted
    if (!record.spec.empty()) {
      absl::StatusOr<LimitSpec> spec = Decode(record);
      if (!spec.ok()) {
        if (problems != nullptr) {
          problems->push_back(absl::StrCat("run-time limit '", absl::CHexEscape(record.key),
                                           "': its journal record does not decode and is "
                                           "ignored: ",
                                           spec.status().message()));
        }
        continue;
      }
      change = *std::move(spec);
    }
    auto [it, added] = index.try_emplace(record.key, limits.size());
    if (added) {
      limits.emplace_back(std::move(change));
    } else {
      limits[it->second] = std::move(change);
    }
  }
  std::vector<LimitSpec> out;
  out.reserve(limits.size());
  for (std::optional<LimitSpec>& spec : limits) {
    if (spec.has_value()) out.push_back(*std::move(spec));
  }
  return out;
}

}  // namespace batchd::core
