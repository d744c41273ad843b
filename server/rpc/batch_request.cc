#include "server/rpc/batch_request.h"

#include <string>
#include <utility>

#include "core/base/status_macros.h"
#include "core/model/field_violation.h"
#include "core/scheduling/batch.h"
#include "server/convert/proto_convert.h"

namespace batchd::server {
namespace {

template <typename Request>
absl::StatusOr<core::BatchSpec> CheckedSpec(const Request& request, const RequestLimits& limits,
                                            const core::ExecutorRegistry& registry) {
  RETURN_IF_ERROR(CheckTaskCount(request.tasks(), limits));
  core::FieldViolations violations =
      CheckSizeLimits(request.tasks(), request.options(), request.labels(), limits);
  core::FieldViolations conversion;
  core::BatchSpec spec = BatchSpecFromProto(request, &conversion);
  violations.Merge(std::move(conversion));
  if (violations.empty()) return spec;
  // Refused already: core's checks are run here (not at submit) only to list their
  // violations too. Nothing is created for the check: with wait_for_workers any name is
  // accepted, as the daemon's worker hub makes worker executors on demand.
  const bool wait_for_workers = spec.options.wait_for_workers;
  violations.Merge(core::Batch::Validate(
                       spec,
                       [&](const std::string& name) {
                         return wait_for_workers || registry.Find(name) != nullptr;
                       },
                       [&] { return registry.Names(); })
                       .status());
  return std::move(violations).ToStatus();
}

}  // namespace

absl::StatusOr<core::BatchSpec> BatchSpecFromRequest(const v1::SubmitBatchRequest& request,
                                                     const RequestLimits& limits,
                                                     const core::ExecutorRegistry& registry) {
  return CheckedSpec(request, limits, registry);
}

absl::StatusOr<core::BatchSpec> BatchSpecFromRequest(const v1::ProcessBatchRequest& request,
                                                     const RequestLimits& limits,
                                                     const core::ExecutorRegistry& registry) {
  return CheckedSpec(request, limits, registry);
}

}  // namespace batchd::server
