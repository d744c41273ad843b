#include "server/http/http_routes.h"

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"

namespace batchd::server::http_api {
namespace {

// Custom-verb routes come before the plain ones their last variable would also match.
constexpr Route kRoutes[] = {
    {"POST", "/v1/batches:process", "/batchd.v1.BatchService/ProcessBatch",
     "batchd.v1.ProcessBatchRequest", "batchd.v1.ProcessBatchResponse", "*", false, "", ""},
    {"POST", "/v1/batches", "/batchd.v1.BatchService/SubmitBatch", "batchd.v1.SubmitBatchRequest",
     "batchd.v1.SubmitBatchResponse", "*", false, "", ""},
    {"GET", "/v1/batches", "/batchd.v1.BatchService/ListBatches", "batchd.v1.ListBatchesRequest",
     "batchd.v1.ListBatchesResponse", "", false, "", ""},
    {"POST", "/v1/batches/{batch_id}:cancel", "/batchd.v1.BatchService/CancelBatch",
     "batchd.v1.CancelBatchRequest", "batchd.v1.CancelBatchResponse", "*", false, "", ""},
    {"POST", "/v1/batches/{batch_id}:close", "/batchd.v1.BatchService/CloseBatch",
     "batchd.v1.CloseBatchRequest", "batchd.v1.CloseBatchResponse", "*", false, "", ""},
    {"GET", "/v1/batches/{batch_id}", "/batchd.v1.BatchService/GetBatch",
     "batchd.v1.GetBatchRequest", "batchd.v1.GetBatchResponse", "", false, "", ""},
    {"GET", "/v1/batches/{batch_id}/progress:watch", "/batchd.v1.BatchService/WatchProgress",
     "batchd.v1.WatchProgressRequest", "batchd.v1.WatchProgressResponse", "", true, "", ""},
    {"GET", "/v1/batches/{batch_id}/progress", "/batchd.v1.BatchService/GetProgress",
     "batchd.v1.GetProgressRequest", "batchd.v1.GetProgressResponse", "", false, "", ""},
    {"GET", "/v1/batches/{batch_id}/results", "/batchd.v1.BatchService/StreamResults",
     "batchd.v1.StreamResultsRequest", "batchd.v1.StreamResultsResponse", "", true, "sequence",
     "after_sequence"},
    {"GET", "/v1/batches/{batch_id}/tasks", "/batchd.v1.BatchService/ListTasks",
     "batchd.v1.ListTasksRequest", "batchd.v1.ListTasksResponse", "", false, "", ""},
    {"POST", "/v1/batches/{batch_id}/tasks", "/batchd.v1.BatchService/AddTasks",
     "batchd.v1.AddTasksRequest", "batchd.v1.AddTasksResponse", "*", false, "", ""},
    {"POST", "/v1/batches/{batch_id}/tasks/{task_id}:cancel", "/batchd.v1.BatchService/CancelTask",
     "batchd.v1.CancelTaskRequest", "batchd.v1.CancelTaskResponse", "*", false, "", ""},
    {"POST", "/v1/batches/{batch_id}/tasks/{task_id}:complete",
     "/batchd.v1.BatchService/CompleteTask", "batchd.v1.CompleteTaskRequest",
     "batchd.v1.CompleteTaskResponse", "*", false, "", ""},
    {"GET", "/v1/batches/{batch_id}/tasks/{task_id}/output",
     "/batchd.v1.BatchService/StreamTaskOutput", "batchd.v1.StreamTaskOutputRequest",
     "batchd.v1.StreamTaskOutputResponse", "", true, "", ""},
    {"POST", "/v1/executionOrder:resolve", "/batchd.v1.BatchService/ResolveExecutionOrder",
     "batchd.v1.ResolveExecutionOrderRequest", "batchd.v1.ResolveExecutionOrderResponse", "*",
     false, "", ""},
    {"POST", "/v1/assignments:preview", "/batchd.v1.BatchService/AssignTasks",
     "batchd.v1.AssignTasksRequest", "batchd.v1.AssignTasksResponse", "*", false, "", ""},
    {"GET", "/v1/executors", "/batchd.v1.BatchService/ListExecutors",
     "batchd.v1.ListExecutorsRequest", "batchd.v1.ListExecutorsResponse", "", false, "", ""},
    {"GET", "/v1/workers", "/batchd.v1.WorkerService/ListWorkers", "batchd.v1.ListWorkersRequest",
     "batchd.v1.ListWorkersResponse", "", false, "", ""},
    {"GET", "/v1/limits", "/batchd.v1.LimitService/ListLimits", "batchd.v1.ListLimitsRequest",
     "batchd.v1.ListLimitsResponse", "", false, "", ""},
    {"PUT", "/v1/limits/{limit.key}", "/batchd.v1.LimitService/SetLimit",
     "batchd.v1.SetLimitRequest", "batchd.v1.SetLimitResponse", "limit", false, "", ""},
    {"DELETE", "/v1/limits/{key}", "/batchd.v1.LimitService/DeleteLimit",
     "batchd.v1.DeleteLimitRequest", "batchd.v1.DeleteLimitResponse", "", false, "", ""},
    {"GET", "/v1/cache/stats", "/batchd.v1.CacheService/GetCacheStats",
     "batchd.v1.GetCacheStatsRequest", "batchd.v1.GetCacheStatsResponse", "", false, "", ""},
    {"POST", "/v1/cache:invalidate", "/batchd.v1.CacheService/InvalidateCache",
     "batchd.v1.InvalidateCacheRequest", "batchd.v1.InvalidateCacheResponse", "*", false, "", ""},
};

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Matches `segments` of the request against `route`'s template.
bool Matches(const Route& route, const std::vector<absl::string_view>& segments,
             std::vector<std::pair<std::string, std::string>>& bindings) {
  absl::string_view path = route.path;
  absl::string_view verb;
  const size_t last_slash = path.rfind('/');
  if (const size_t colon = path.find(':', last_slash); colon != absl::string_view::npos) {
    verb = path.substr(colon);  // ":cancel"
    path = path.substr(0, colon);
  }
  const std::vector<absl::string_view> parts = absl::StrSplit(path.substr(1), '/');
  if (parts.size() != segments.size()) return false;
  bindings.clear();
  for (size_t i = 0; i < parts.size(); ++i) {
    absl::string_view segment = segments[i];
    if (i + 1 == parts.size()) {
      if (!verb.empty()) {
        if (!absl::EndsWith(segment, verb) || segment.size() == verb.size()) return false;
        segment.remove_suffix(verb.size());
      }
    }
    const absl::string_view part = parts[i];
    if (part.size() > 2 && part.front() == '{' && part.back() == '}') {
      std::string value;
      if (segment.empty() || !PercentDecode(segment, false, value)) return false;
      bindings.emplace_back(std::string(part.substr(1, part.size() - 2)), std::move(value));
    } else if (part != segment) {
      return false;
    }
  }
  return true;
}

}  // namespace

absl::Span<const Route> Routes() { return kRoutes; }

bool PercentDecode(absl::string_view in, bool plus_is_space, std::string& out) {
  out.clear();
  out.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    const char c = in[i];
    if (c == '%') {
      if (i + 2 >= in.size()) return false;
      const int hi = HexValue(in[i + 1]);
      const int lo = HexValue(in[i + 2]);
      if (hi < 0 || lo < 0) return false;
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  return true;
}

RouteMatch MatchRoute(absl::string_view method, absl::string_view path) {
  RouteMatch match;
  if (path.empty() || path.front() != '/') return match;
  const std::vector<absl::string_view> segments = absl::StrSplit(path.substr(1), '/');
  std::vector<std::pair<std::string, std::string>> bindings;
  for (const Route& route : kRoutes) {
    if (!Matches(route, segments, bindings)) continue;
    if (route.method == method) {
      match.route = &route;
      match.bindings = std::move(bindings);
      match.allowed_methods.clear();
      return match;
    }
    bool listed = false;
    for (absl::string_view m : match.allowed_methods) listed = listed || m == route.method;
    if (!listed) match.allowed_methods.push_back(route.method);
  }
  return match;
}

}  // namespace batchd::server::http_api
