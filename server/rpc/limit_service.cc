#include "server/rpc/limit_service.h"

#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/limits/limit_spec.h"
#include "core/limits/limit_table.h"
#include "core/model/field_violation.h"
#include "server/convert/limit_convert.h"
#include "server/convert/status_convert.h"
#include "server/rpc/finished_reactor.h"

namespace batchd::server {
namespace {

void StateToProto(const core::Clock& clock, const core::LimitState& state, v1::LimitStatus* out) {
  LimitStateToProto(state, clock.SteadyNow(), clock.WallNow(), out);
}

}  // namespace

LimitService::LimitService(core::Scheduler& scheduler, const core::Clock& clock,
                           const AuthCheck& auth, ConversionPool& conversions)
    : scheduler_(scheduler), clock_(clock), auth_(auth), conversions_(conversions) {}

grpc::ServerUnaryReactor* LimitService::SetLimit(grpc::CallbackServerContext* context,
                                                 const v1::SetLimitRequest* request,
                                                 v1::SetLimitResponse* response) {
  if (auto* rejected = auth_.RejectUnary(context)) return rejected;
  absl::StatusOr<core::LimitSpec> spec = LimitSpecFromProto(request->limit());
  if (!spec.ok()) return FinishUnary(context, ToGrpcStatus(spec.status()));
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  scheduler_.SetLimit(*std::move(spec),
                      [this, reactor, response](absl::StatusOr<core::LimitState> state) {
                        conversions_.Post([this, reactor, response, state = std::move(state)] {
                          if (!state.ok()) return reactor->Finish(ToGrpcStatus(state.status()));
                          StateToProto(clock_, *state, response->mutable_status());
                          reactor->Finish(grpc::Status::OK);
                        });
                      });
  return reactor;
}

grpc::ServerUnaryReactor* LimitService::ListLimits(grpc::CallbackServerContext* context,
                                                   const v1::ListLimitsRequest* /*request*/,
                                                   v1::ListLimitsResponse* response) {
  if (auto* rejected = auth_.RejectUnary(context)) return rejected;
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  scheduler_.ListLimits([this, reactor, response](std::vector<core::LimitState> states) {
    conversions_.Post([this, reactor, response, states = std::move(states)] {
      response->mutable_limits()->Reserve(static_cast<int>(states.size()));
      const core::SteadyTime steady_now = clock_.SteadyNow();
      const core::WallTime wall_now = clock_.WallNow();
      for (const core::LimitState& state : states) {
        LimitStateToProto(state, steady_now, wall_now, response->add_limits());
      }
      reactor->Finish(grpc::Status::OK);
    });
  });
  return reactor;
}

grpc::ServerUnaryReactor* LimitService::DeleteLimit(grpc::CallbackServerContext* context,
                                                    const v1::DeleteLimitRequest* request,
                                                    v1::DeleteLimitResponse* /*response*/) {
  if (auto* rejected = auth_.RejectUnary(context)) return rejected;
  if (request->key().empty()) {
    return FinishUnary(context, ToGrpcStatus(core::InvalidField("key", "key is empty")));
  }
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  scheduler_.DeleteLimit(request->key(), [this, reactor](absl::Status deleted) {
    conversions_.Post([reactor, status = ToGrpcStatus(deleted)] { reactor->Finish(status); });
  });
  return reactor;
}

}  // namespace batchd::server
