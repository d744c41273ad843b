// The JSON API's routes: each maps an HTTP method and a path template, in the gRPC-JSON
// transcoding convention (google.api.http), onto one batchd.v1 RPC. The one table the
// gateway serves, the README's API table and the tests all follow.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace batchd::server::http_api {

struct Route {
  absl::string_view method;  // "GET", "POST", "PUT", "DELETE"
  // Literal segments, "{field}" or "{field.sub}" variables (one segment each), and an optional
  // ":verb" custom method after the last one.
  absl::string_view path;
  absl::string_view rpc;            // "/batchd.v1.BatchService/SubmitBatch"
  absl::string_view request_type;   // full protobuf name, e.g. "batchd.v1.SubmitBatchRequest"
  absl::string_view response_type;  // of each message, for streams
  // "*": the body is the whole request; a field name: the body is that field; "": no body
  // (query parameters set the other fields).
  absl::string_view body;
  bool server_streaming = false;
  // For streams: the response field whose value is the SSE event id (Last-Event-ID resumes by
  // setting `resume_field` of the request to it); "" for none.
  absl::string_view event_id_field;
  absl::string_view resume_field;
};

absl::Span<const Route> Routes();

struct RouteMatch {
  const Route* route = nullptr;                               // nullptr: none matched
  std::vector<std::pair<std::string, std::string>> bindings;  // path variables, decoded
  // When no route matched the method but some matched the path: the methods that would.
  std::vector<absl::string_view> allowed_methods;
};

// The route for `method` and `path` (without the query); percent-escapes in variables are
// decoded after the path is split, so a task id may hold '/' (as %2F) or ':'.
RouteMatch MatchRoute(absl::string_view method, absl::string_view path);

// "%2Fa+b" -> "/a b" when `plus_is_space` (query strings), else "/a+b". false when an escape is
// malformed.
bool PercentDecode(absl::string_view in, bool plus_is_space, std::string& out);

}  // namespace batchd::server::http_api
