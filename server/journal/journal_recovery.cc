#include "server/journal/journal_recovery.h"

#include <spdlog/spdlog.h>

#include <utility>

#include "core/journal/journal_events.h"
#include "server/journal/batch_record_codec.h"

namespace batchd::server {

namespace {

// Tasks AddTasks added, from their durable form into the events the scheduler replays.
absl::Status DecodeAddedTasks(std::vector<core::JournalEvent>& events) {
  for (core::JournalEvent& e : events) {
    if (e.kind != core::JournalEventKind::kAdded) continue;
    absl::StatusOr<std::vector<core::TaskSpec>> tasks = DecodeAddedContent(e.content);
    if (!tasks.ok()) return tasks.status();
    e.added_tasks = std::make_shared<std::vector<core::TaskSpec>>(*std::move(tasks));
  }
  return absl::OkStatus();
}

}  // namespace

RecoveryCounts RecoverBatches(std::vector<core::StoredBatch> stored, core::Scheduler& scheduler) {
  RecoveryCounts counts;
  for (core::StoredBatch& batch : stored) {
    const std::string id = batch.record.id;
    if (!batch.damage.ok()) {
      // A record that fails its checksum is never replayed: what it says cannot be trusted.
      ++counts.failed;
      spdlog::error("journal: batch {} not recovered (kept for a later start): {}", id,
                    batch.damage.ToString());
      continue;
    }
    absl::StatusOr<core::BatchSpec> spec = DecodeBatchContent(batch.record.content);
    absl::StatusOr<std::vector<core::JournalEvent>> events =
        core::DecodeJournalEvents(batch.events);
    absl::Status status = !spec.ok() ? spec.status() : events.status();
    if (status.ok()) status = DecodeAddedTasks(*events);
    if (status.ok()) {
      status = scheduler.Restore(
          core::RecoveredBatch{*std::move(spec), std::move(batch.record), *std::move(events)});
    }
    if (status.ok()) {
      ++counts.restored;
    } else {
      ++counts.failed;
      spdlog::error("journal: batch {} not recovered (kept for a later start): {}", id,
                    status.ToString());
    }
  }
  return counts;
}

}  // namespace batchd::server
