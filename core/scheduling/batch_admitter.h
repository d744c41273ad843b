// The admission of submitted batches, on the submitter's thread (the strand never waits for
// it): compiles and validates a batch, issues its identity, answers a retried submission (same
// request_id) with the batch it already admitted, refuses batches over the limit of unfinished
// ones and, with a journal, admits a batch only once its record is durable. It also rebuilds the
// batches read back from the journal at start-up. It counts the unfinished batches (admitted or
// resumed); whoever runs them says when one finishes. Thread-safe.
#pragma once

#include <atomic>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "core/executors/executor_registry.h"
#include "core/journal/journal.h"
#include "core/journal/journal_events.h"
#include "core/model/batch_spec.h"
#include "core/scheduling/admission.h"
#include "core/scheduling/admission_ledger.h"
#include "core/scheduling/batch.h"
#include "core/scheduling/batch_ids.h"
#include "core/time/clock.h"

namespace batchd::core {

struct SubmitResult {
  std::string batch_id;
  // Task ids by execution layer when requested, valid while keep_alive lives.
  std::vector<std::vector<std::string_view>> layers;
  std::shared_ptr<const void> keep_alive;
  // Resolved once the batch is accepted (its record durable) or refused (it never runs).
  std::shared_ptr<Admission> admission;
  // True when request_id named a batch admitted before: nothing new was admitted.
  bool duplicate = false;
};

// A batch read back from the journal at start-up, its request decoded by the server.
struct RecoveredBatch {
  BatchSpec spec;
  BatchRecord record;
  std::vector<JournalEvent> events;
};

class BatchAdmitter {
 public:
  using BatchPtr = std::shared_ptr<Batch>;
  // Called once with each admitted batch, from any thread: the submitter's without a journal,
  // the journal's once the record is durable (before the submission's admission resolves, so
  // whatever the submitter asks next finds the batch).
  using Admitted = absl::AnyInvocable<void(BatchPtr)>;

  // `journal` may be null; else it must outlive this.
  // `limits` (may be null: no limit is configured) is what batches' limits are checked against,
  // `secrets` (may be null: none is defined; else it must outlive this) their secret references.
  BatchAdmitter(const Clock& clock, ExecutorRegistry& registry, Journal* journal,
                size_t max_active_batches, Admitted admitted, const LimitCatalog* limits = nullptr,
                const SecretStore* secrets = nullptr);

  // See Scheduler::Submit. A twin (same request_id and content) is answered with duplicate set
  // and admits nothing, even at the limit.
  absl::StatusOr<SubmitResult> Submit(BatchSpec spec, bool with_layers, std::string content);
  // Calls `done` once the submitted batch is accepted or refused (at once without a journal).
  static void WhenDurable(const SubmitResult& submitted,
                          absl::AnyInvocable<void(absl::Status)> done);

  // Start-up: the batch of `record` rebuilt from `spec` (its executors made on demand when
  // nobody serves them yet), its request_id claimed and its sequence never issued again. It is
  // not counted: call Resumed when it is unfinished. A batch referring to a secret no longer
  // defined is refused (INVALID_ARGUMENT naming it): defined again, it is recovered at a later
  // start.
  absl::StatusOr<BatchPtr> Restore(BatchSpec spec, const BatchRecord& record);

  // A recovered batch resumes unfinished: it counts as active.
  void Resumed() { active_.fetch_add(1); }
  // A batch counted as active finished.
  void Finished() { active_.fetch_sub(1); }
  // A finished batch was evicted: its request_id may be used again.
  void Forget(const Batch& batch) { ledger_.Forget(batch); }
  size_t active() const { return active_.load(); }

 private:
  absl::StatusOr<SubmitResult> Admit(BatchSpec spec, bool with_layers, std::string content);
  static SubmitResult Describe(const BatchPtr& batch, bool with_layers);
  static SubmitResult DescribeTwin(const AdmissionLedger::Twin& twin, bool with_layers);
  // From the journal's thread: the batch's record is durable (it is admitted) or refused.
  void OnRecordStored(const BatchPtr& batch, const std::shared_ptr<Admission>& admission,
                      absl::Status stored);

  const Clock& clock_;
  ExecutorRegistry& registry_;
  Journal* const journal_;
  const size_t max_active_batches_;
  Admitted admitted_;
  const LimitCatalog* const limits_;
  const SecretStore* const secrets_;

  std::atomic<size_t> active_{0};  // admitted or resumed, and not finished
  BatchIdIssuer ids_;
  AdmissionLedger ledger_;
};

}  // namespace batchd::core
