#include "core/scheduling/limit_changes.h"

#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>
#include <utility>

#include "core/limits/limit_records.h"

namespace batchd::core {

LimitChanges::LimitChanges(Strand strand, LimitGate& gate, Journal* journal,
                           absl::AnyInvocable<void()> applied)
    : strand_(std::move(strand)), gate_(gate), journal_(journal), applied_(std::move(applied)) {}

void LimitChanges::Set(LimitSpec spec, SetDone done) {
  Change change;
  change.spec = std::move(spec);
  change.set_done = std::move(done);
  Enqueue(std::move(change));
}

void LimitChanges::Delete(std::string key, DeleteDone done) {
  Change change;
  change.spec.key = std::move(key);
  change.deletes = true;
  change.delete_done = std::move(done);
  Enqueue(std::move(change));
}

void LimitChanges::Enqueue(Change change) {
  queue_.push_back(std::move(change));
  StartFront();
}

void LimitChanges::StartFront() {
  // An answer may ask for another change (re-entering here): `storing_` keeps one in the journal.
  while (!queue_.empty() && !storing_) {
    Change& change = queue_.front();
    // Checked against the limits in force now, after every earlier change took effect.
    absl::Status check =
        change.deletes ? gate_.CheckDelete(change.spec.key) : gate_.CheckSet(change.spec);
    if (check.ok() && journal_ == nullptr) {
      FinishFront(absl::OkStatus());
      continue;
    }
    if (!check.ok()) {
      Change failed = std::move(change);
      queue_.pop_front();
      Answer(failed, std::move(check));
      continue;
    }
    LimitRecord record =
        change.deletes ? LimitDeletedRecord(change.spec.key) : LimitSetRecord(change.spec);
    storing_ = true;
    // May answer at once (a closed or failing journal): the post keeps this loop flat.
    journal_->StoreLimit(std::move(record), [this](absl::Status stored) {
      boost::asio::post(strand_, [this, stored = std::move(stored)]() mutable {
        storing_ = false;
        FinishFront(std::move(stored));
        StartFront();
      });
    });
    return;
  }
}

void LimitChanges::FinishFront(absl::Status stored) {
  Change change = std::move(queue_.front());
  queue_.pop_front();
  if (stored.ok()) {
    const std::string key = change.spec.key;
    stored = change.deletes ? gate_.Delete(key) : gate_.Set(change.spec);
    if (stored.ok()) {
      spdlog::info("limit '{}' {}", key, change.deletes ? "deleted" : "set");
      applied_();
    } else {
      // Checked before it was stored and nothing else changes limits meanwhile: a bug.
      spdlog::error("limit '{}' stored but not applied: {}", key, stored.ToString());
    }
  }
  Answer(change, std::move(stored));
}

void LimitChanges::Answer(Change& change, absl::Status status) {
  if (change.deletes) {
    change.delete_done(std::move(status));
    return;
  }
  if (!status.ok()) {
    change.set_done(std::move(status));
    return;
  }
  std::optional<LimitState> state = gate_.Get(change.spec.key);
  if (!state.has_value()) {
    change.set_done(absl::InternalError("limit '" + change.spec.key + "' set but not found"));
    return;
  }
  change.set_done(*std::move(state));
}

}  // namespace batchd::core
