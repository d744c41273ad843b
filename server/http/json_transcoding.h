// JSON <-> protobuf for the HTTP API, with protobuf's own canonical JSON mapping: a request
// message built from a route's body, path variables and query parameters; messages printed
// with every field (defaults too, so a client never has to guess a missing 0); gRPC statuses
// as google.rpc.Status JSON with the HTTP status that maps from their code.
#pragma once

#include <google/protobuf/message.h>
#include <grpcpp/support/status.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "server/http/http_routes.h"

namespace batchd::server::http_api {

// The request of `match.route`: the body as the route says ("*": the whole message; a field:
// that field; "": none allowed), then the path variables, then the query's parameters (by
// proto or JSON name; repeated fields take the parameter repeated), then `last_event_id` into
// the route's resume field unless the query set it. INVALID_ARGUMENT naming what is wrong: not
// JSON, an unknown field (protobuf's message, with its path), a parameter the message lacks.
absl::StatusOr<std::unique_ptr<google::protobuf::Message>> BuildRequest(
    const RouteMatch& match, absl::string_view query, absl::string_view body,
    absl::string_view last_event_id);

// An empty message of the protobuf type named `full_name` (a generated one); nullptr if none.
std::unique_ptr<google::protobuf::Message> NewMessage(absl::string_view full_name);

// Canonical JSON, every field printed; "" only if protobuf cannot print it.
std::string MessageToJson(const google::protobuf::Message& message);

// The HTTP status a gRPC code maps to (google.api's mapping: INVALID_ARGUMENT 400, NOT_FOUND
// 404, UNAUTHENTICATED 401, UNAVAILABLE 503, ...).
int HttpStatusFor(grpc::StatusCode code);

// google.rpc.Status as JSON: the details the service attached (BadRequest field violations),
// or just the code and message.
std::string StatusToJson(const grpc::Status& status);

}  // namespace batchd::server::http_api
