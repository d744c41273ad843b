#include "server/journal/journal_check.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "core/journal/journal_events.h"
#include "core/journal/journal_store.h"
#include "server/journal/batch_record_codec.h"

namespace batchd::server {

JournalCheck CheckJournal(const std::string& data_dir) {
  JournalCheck check;
  absl::StatusOr<std::unique_ptr<core::JournalStore>> store =
      core::JournalStore::Open(data_dir, core::Durability::kNormal);
  if (!store.ok()) {
    check.lines.push_back(std::string(store.status().message()));
    return check;
  }
  size_t damaged = 0;
  if (absl::Status s = (*store)->QuickCheck(); !s.ok()) {
    ++damaged;
    check.lines.push_back(std::string(s.message()));
  }
  absl::StatusOr<core::JournalContents> contents = (*store)->LoadAll();
  if (!contents.ok()) {
    check.lines.push_back(std::string(contents.status().message()));
    return check;
  }
  for (const core::StoredBatch& batch : contents->batches) {
    absl::Status status = batch.damage;
    if (status.ok()) status = DecodeBatchContent(batch.record.content).status();
    if (status.ok()) status = core::DecodeJournalEvents(batch.events).status();
    if (!status.ok()) {
      ++damaged;
      check.lines.push_back(absl::StrCat("batch ", batch.record.id, ": ", status.ToString()));
    }
  }
  for (const std::string& orphan : contents->orphan_damage) {
    ++damaged;
    check.lines.push_back(orphan);
  }
  for (const std::string& limit : contents->limit_damage) {
    ++damaged;
    check.lines.push_back(limit);
  }
  for (const std::string& entry : contents->cache_damage) {
    ++damaged;
    check.lines.push_back(entry);
  }
  check.intact = damaged == 0;
  check.lines.push_back(absl::StrCat(
      "journal ", (*store)->path(), ": ", contents->batches.size(), " batches, ",
      contents->event_records, " event records",
      contents->limits.empty() ? "" : absl::StrCat(", ", contents->limits.size(), " limit changes"),
      contents->cache.empty() ? "" : absl::StrCat(", ", contents->cache.size(), " cache entries"),
      contents->unchecked_records > 0 ? absl::StrCat(" (", contents->unchecked_records,
                                                     " written before checksums, not verifiable)")
                                      : "",
      check.intact ? ": intact" : absl::StrCat(": ", damaged, " damaged")));
  return check;
}

}  // namespace batchd::server
