#include "core/scheduling/batch_admitter.h"

#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "core/base/status_macros.h"
#include "spdlog/spdlog.h"

namespace batchd::core {
namespace {

SteadyTime SteadyEquivalent(const Clock& clock, WallTime wall) {
  return clock.SteadyNow() + std::chrono::duration_cast<Duration>(wall - clock.WallNow());
}

}  // namespace

BatchAdmitter::BatchAdmitter(const Clock& clock, ExecutorRegistry& registry, Journal* journal,
                             size_t max_active_batches, Admitted admitted,
                             const LimitCatalog* limits, const SecretStore* secrets)
    : clock_(clock),
      registry_(registry),
      journal_(journal),
      max_active_batches_(max_active_batches),
      admitted_(std::move(admitted)),
      limits_(limits),
      secrets_(secrets) {}

absl::StatusOr<SubmitResult> BatchAdmitter::Submit(BatchSpec spec, bool with_layers,
                                                   std::string content) {
  // A retried submission must find its batch even when the daemon is at its limit.
  ASSIGN_OR_RETURN(const std::optional<AdmissionLedger::Twin> twin,
                   ledger_.Find(spec.request_id, content));
  if (twin.has_value()) return DescribeTwin(*twin, with_layers);
  if (active_.fetch_add(1) >= max_active_batches_) {
    active_.fetch_sub(1);
    return absl::ResourceExhaustedError(absl::StrCat("Too many active batches: the limit is ",
                                                     max_active_batches_,
                                                     " unfinished batches (--max-active-batches)"));
  }
  absl::StatusOr<SubmitResult> result = Admit(std::move(spec), with_layers, std::move(content));
  if (!result.ok() || result->duplicate) active_.fetch_sub(1);
  return result;
}

SubmitResult BatchAdmitter::Describe(const BatchPtr& batch, bool with_layers) {
  SubmitResult result;
  result.batch_id = batch->id();
  if (with_layers) {
    for (const std::vector<uint32_t>& layer : batch->graph().Layers()) {
      std::vector<std::string_view>& ids = result.layers.emplace_back();
      ids.reserve(layer.size());
      for (uint32_t t : layer) ids.push_back(batch->task_id(t));
    }
  }
  result.keep_alive = batch;
  return result;
}

SubmitResult BatchAdmitter::DescribeTwin(const AdmissionLedger::Twin& twin, bool with_layers) {
  SubmitResult result = Describe(twin.batch, with_layers);
  result.admission = twin.admission;
  result.duplicate = true;
  return result;
}

void BatchAdmitter::WhenDurable(const SubmitResult& submitted,
                                absl::AnyInvocable<void(absl::Status)> done) {
  if (submitted.admission == nullptr) return done(absl::OkStatus());
  submitted.admission->WhenResolved(std::move(done));
}

absl::StatusOr<SubmitResult> BatchAdmitter::Admit(BatchSpec spec, bool with_layers,
                                                  std::string content) {
  BatchIdIssuer::Issued issued = ids_.Next();
  Batch::Identity identity;
  identity.seq = issued.seq;
  identity.id = std::move(issued.id);
  identity.created_steady = clock_.SteadyNow();
  identity.created_wall = clock_.WallNow();
  ASSIGN_OR_RETURN(BatchPtr batch, Batch::Create(std::move(spec), registry_, std::move(identity),
                                                 limits_, secrets_));
  SubmitResult result = Describe(batch, with_layers);
  if (journal_ != nullptr) {
    batch->SetJournaled();
    result.admission = std::make_shared<Admission>();
  }
  ASSIGN_OR_RETURN(const std::optional<AdmissionLedger::Twin> twin,
                   ledger_.Claim(batch, content, result.admission));
  if (twin.has_value()) return DescribeTwin(*twin, with_layers);
  if (journal_ == nullptr) {
    admitted_(std::move(batch));
    return result;
  }
  // After the claim: a refusal may come at once and frees the request_id.
  BatchRecord record{batch->seq(), batch->id(), batch->request_id(), batch->created_wall(),
                     std::move(content)};
  journal_->AppendBatch(std::move(record),
                        [this, batch, admission = result.admission](absl::Status stored) {
                          OnRecordStored(batch, admission, std::move(stored));
                        });
  return result;
}

void BatchAdmitter::OnRecordStored(const BatchPtr& batch,
                                   const std::shared_ptr<Admission>& admission,
                                   absl::Status stored) {
  if (stored.ok()) {
    admitted_(batch);
  } else {
    // Refused: it never runs, is never listed, and its request_id may be used again.
    spdlog::debug("batch {} refused: {}", batch->id(), std::string(stored.message()));
    ledger_.Forget(*batch);
    active_.fetch_sub(1);
  }
  admission->Resolve(std::move(stored));
}

absl::StatusOr<BatchAdmitter::BatchPtr> BatchAdmitter::Restore(BatchSpec spec,
                                                               const BatchRecord& record) {
  Batch::Identity identity;
  identity.id = record.id;
  identity.seq = record.seq;
  identity.created_wall = record.created_at;
  identity.created_steady = SteadyEquivalent(clock_, record.created_at);
  spec.request_id = record.request_id;
  // Callback workers reconnect after a restart, but not before recovery runs: executors nobody
  // serves yet are their executors (made now and kept by the batch while it is unfinished), and
  // the tasks wait for them (up to their timeouts).
  spec.options.wait_for_workers = true;
  ASSIGN_OR_RETURN(BatchPtr batch, Batch::Create(std::move(spec), registry_, std::move(identity),
                                                 nullptr, secrets_));
  if (journal_ != nullptr) batch->SetJournaled();
  ids_.Restored(batch->seq());
  ledger_.Restore(batch, record.content);
  return batch;
}

}  // namespace batchd::core
