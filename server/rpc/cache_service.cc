#include "server/rpc/cache_service.h"

#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "core/model/batch_spec.h"
#include "core/model/field_violation.h"
#include "server/convert/status_convert.h"
#include "server/rpc/finished_reactor.h"

namespace batchd::server {

grpc::ServerUnaryReactor* CacheService::InvalidateCache(grpc::CallbackServerContext* context,
                                                        const v1::InvalidateCacheRequest* request,
                                                        v1::InvalidateCacheResponse* response) {
  if (auto* rejected = auth_.RejectUnary(context)) return rejected;
  using Scope = core::Scheduler::CacheScope;
  Scope scope = Scope::kAll;
  absl::Status invalid;
  switch (request->scope_case()) {
    case v1::InvalidateCacheRequest::kKey:
      scope = Scope::kKey;
      if (request->key().empty()) {
        invalid = core::InvalidField("key", "key must not be empty");
      } else if (request->key().size() > core::kMaxCacheKeyBytes) {
        invalid = core::InvalidField(
            "key", absl::StrCat("key of ", request->key().size(), " bytes is over the maximum of ",
                                core::kMaxCacheKeyBytes));
      }
      break;
    case v1::InvalidateCacheRequest::kWholeNamespace:
      scope = Scope::kNamespace;
      break;
    case v1::InvalidateCacheRequest::kAll:
      scope = Scope::kAll;
      break;
    case v1::InvalidateCacheRequest::SCOPE_NOT_SET:
      invalid = core::InvalidField("scope", "say what to invalidate: key, whole_namespace or all");
      break;
  }
  if (invalid.ok() && request->namespace_().size() > core::kMaxCacheKeyBytes) {
    invalid = core::InvalidField(
        "namespace", absl::StrCat("namespace of ", request->namespace_().size(),
                                  " bytes is over the maximum of ", core::kMaxCacheKeyBytes));
  }
  if (!invalid.ok()) return FinishUnary(context, ToGrpcStatus(invalid));
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  scheduler_.InvalidateCache(scope, request->namespace_(), request->key(),
                             [reactor, response](size_t removed) {
                               response->set_removed(removed);
                               reactor->Finish(grpc::Status::OK);
                             });
  return reactor;
}

grpc::ServerUnaryReactor* CacheService::GetCacheStats(grpc::CallbackServerContext* context,
                                                      const v1::GetCacheStatsRequest* /*request*/,
                                                      v1::GetCacheStatsResponse* response) {
  if (auto* rejected = auth_.RejectUnary(context)) return rejected;
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  scheduler_.GetCacheStats([reactor, out = response->mutable_stats()](
                               core::CacheGateStats stats, core::ResultCacheOptions options) {
    out->set_hits(stats.store.hits);
    out->set_misses(stats.store.misses);
    out->set_single_flight_joins(stats.joins);
    out->set_stored(stats.store.stored);
    out->set_too_large(stats.store.too_large);
    out->set_evictions(stats.store.evictions);
    out->set_expirations(stats.store.expirations);
    out->set_invalidations(stats.store.invalidations);
    out->set_entries(stats.store.entries);
    out->set_bytes(stats.store.bytes);
    out->set_max_bytes(options.max_bytes);
    out->set_flights(stats.flights);
    reactor->Finish(grpc::Status::OK);
  });
  return reactor;
}

}  // namespace batchd::server
