#include "core/scheduling/admission_ledger.h"

#include <utility>

#include "absl/hash/hash.h"
#include "absl/strings/str_cat.h"

namespace batchd::core {

AdmissionLedger::Answer AdmissionLedger::AnswerFor(const std::string& request_id,
                                                   const Entry& entry, size_t content_hash) {
  if (entry.content_hash != content_hash) {
    return absl::AlreadyExistsError(
        absl::StrCat("request_id '", request_id, "' was already used for batch ",
                     entry.twin.batch->id(), " with different content; use a new request_id"));
  }
  return entry.twin;
}

AdmissionLedger::Answer AdmissionLedger::Find(const std::string& request_id,
                                              std::string_view content) const {
  if (request_id.empty()) return std::nullopt;
  absl::MutexLock lock(&mu_);
  auto it = by_request_id_.find(request_id);
  if (it == by_request_id_.end()) return std::nullopt;
  return AnswerFor(request_id, it->second, absl::HashOf(content));
}

AdmissionLedger::Answer AdmissionLedger::Claim(std::shared_ptr<Batch> batch,
                                               std::string_view content,
                                               std::shared_ptr<Admission> admission) {
  const std::string& request_id = batch->request_id();
  if (request_id.empty()) return std::nullopt;
  const size_t hash = absl::HashOf(content);
  absl::MutexLock lock(&mu_);
  auto [it, inserted] = by_request_id_.try_emplace(request_id);
  if (!inserted) return AnswerFor(request_id, it->second, hash);
  it->second = Entry{hash, Twin{std::move(batch), std::move(admission)}};
  return std::nullopt;
}

void AdmissionLedger::Restore(std::shared_ptr<Batch> batch, std::string_view content) {
  if (batch->request_id().empty()) return;
  const size_t hash = absl::HashOf(content);
  absl::MutexLock lock(&mu_);
  const std::string& request_id = batch->request_id();
  by_request_id_[request_id] =
      Entry{hash, Twin{std::move(batch), Admission::Decided(absl::OkStatus())}};
}

void AdmissionLedger::Forget(const Batch& batch) {
  if (batch.request_id().empty()) return;
  absl::MutexLock lock(&mu_);
  auto it = by_request_id_.find(batch.request_id());
  if (it != by_request_id_.end() && it->second.twin.batch.get() == &batch) {
    by_request_id_.erase(it);
  }
}

size_t AdmissionLedger::size() const {
  absl::MutexLock lock(&mu_);
  return by_request_id_.size();
}

}  // namespace batchd::core
