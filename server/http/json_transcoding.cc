#include "server/http/json_transcoding.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/util/json_util.h>

#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "google/rpc/status.pb.h"
#include "server/observability/log_setup.h"

namespace batchd::server::http_api {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;

const FieldDescriptor* FindField(const Descriptor& type, absl::string_view name) {
  const std::string key(name);
  if (const FieldDescriptor* f = type.FindFieldByName(key)) return f;
  return type.FindFieldByCamelcaseName(key);
}

absl::Status InvalidBody(const Descriptor& type, absl::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrCat("the request body is not a valid ", type.full_name(), " in JSON: ", why));
}

absl::Status ParseInto(absl::string_view json, Message& message) {
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  const auto status = google::protobuf::util::JsonStringToMessage(
      google::protobuf::StringPiece(json.data(), json.size()), &message, options);
  if (!status.ok()) {
    return InvalidBody(*message.GetDescriptor(), std::string(status.message()));
  }
  return absl::OkStatus();
}

// Sets the string field at `path` ("batch_id", "limit.key") of `message` to `value`.
absl::Status Bind(Message& message, absl::string_view path, const std::string& value) {
  Message* at = &message;
  const std::vector<absl::string_view> names = absl::StrSplit(path, '.');
  for (size_t i = 0; i < names.size(); ++i) {
    const FieldDescriptor* field = FindField(*at->GetDescriptor(), names[i]);
    if (field == nullptr || field->is_repeated()) {
      return absl::InternalError(absl::StrCat("route variable ", path, " names no field"));
    }
    if (i + 1 < names.size()) {
      if (field->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE) {
        return absl::InternalError(absl::StrCat("route variable ", path, " names no message"));
      }
      at = at->GetReflection()->MutableMessage(at, field);
    } else {
      if (field->cpp_type() != FieldDescriptor::CPPTYPE_STRING) {
        return absl::InternalError(absl::StrCat("route variable ", path, " is not a string"));
      }
      at->GetReflection()->SetString(at, field, value);
    }
  }
  return absl::OkStatus();
}

// The query's parameters as one JSON object of `type`'s fields.
absl::StatusOr<std::string> QueryToJson(const Descriptor& type, absl::string_view query,
                                        std::vector<std::string>* seen) {
  struct Param {
    const FieldDescriptor* field;
    std::vector<std::string> values;
  };
  std::vector<Param> params;
  for (absl::string_view pair : absl::StrSplit(query, '&', absl::SkipEmpty())) {
    const size_t eq = pair.find('=');
    std::string name, value;
    if (!PercentDecode(pair.substr(0, eq), true, name) ||
        !PercentDecode(eq == absl::string_view::npos ? "" : pair.substr(eq + 1), true, value)) {
      return absl::InvalidArgumentError(
          absl::StrCat("query parameter '", pair, "' has a malformed %-escape"));
    }
    const FieldDescriptor* field = FindField(type, name);
    if (field == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(
          "unknown query parameter '", name, "': ", type.full_name(), " has no such field"));
    }
    if (field->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
      return absl::InvalidArgumentError(absl::StrCat(
          "query parameter '", name, "' is a message field: it cannot be set in the query"));
    }
    Param* param = nullptr;
    for (Param& p : params) {
      if (p.field == field) param = &p;
    }
    if (param == nullptr) param = &params.emplace_back(Param{field, {}});
    if (!field->is_repeated() && !param->values.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("query parameter '", name, "' is given twice but is not repeated"));
    }
    param->values.push_back(std::move(value));
  }
  std::string json = "{";
  for (const Param& p : params) {
    if (json.size() > 1) json += ",";
    AppendJsonString(p.field->json_name(), json);
    json += ":";
    if (p.field->is_repeated()) json += "[";
    for (size_t i = 0; i < p.values.size(); ++i) {
      if (i > 0) json += ",";
      const std::string& v = p.values[i];
      if (p.field->cpp_type() == FieldDescriptor::CPPTYPE_BOOL && (v == "true" || v == "false")) {
        json += v;
      } else {
        AppendJsonString(v, json);  // numbers as strings: protobuf's JSON parser takes them
      }
    }
    if (p.field->is_repeated()) json += "]";
    if (seen != nullptr) seen->push_back(std::string(p.field->name()));
  }
  json += "}";
  return json;
}

}  // namespace

std::unique_ptr<Message> NewMessage(absl::string_view full_name) {
  const Descriptor* type =
      google::protobuf::DescriptorPool::generated_pool()->FindMessageTypeByName(
          std::string(full_name));
  if (type == nullptr) return nullptr;
  const Message* prototype =
      google::protobuf::MessageFactory::generated_factory()->GetPrototype(type);
  if (prototype == nullptr) return nullptr;
  return std::unique_ptr<Message>(prototype->New());
}

absl::StatusOr<std::unique_ptr<Message>> BuildRequest(const RouteMatch& match,
                                                      absl::string_view query,
                                                      absl::string_view body,
                                                      absl::string_view last_event_id) {
  const Route& route = *match.route;
  std::unique_ptr<Message> request = NewMessage(route.request_type);
  if (request == nullptr) {
    return absl::InternalError(absl::StrCat("no message type ", route.request_type));
  }
  const Descriptor& type = *request->GetDescriptor();
  const bool body_is_blank = body.find_first_not_of(" \t\r\n") == absl::string_view::npos;
  if (route.body.empty()) {
    if (!body_is_blank) {
      return absl::InvalidArgumentError(absl::StrCat(route.method, " ", route.path,
                                                     " takes no request body: set its fields in "
                                                     "the query string"));
    }
  } else if (!body_is_blank) {
    if (route.body == "*") {
      if (absl::Status s = ParseInto(body, *request); !s.ok()) return s;
    } else {
      const FieldDescriptor* field = FindField(type, route.body);
      if (field == nullptr) return absl::InternalError("route body names no field");
      Message* part = request->GetReflection()->MutableMessage(request.get(), field);
      if (absl::Status s = ParseInto(body, *part); !s.ok()) return s;
    }
  }
  for (const auto& [path, value] : match.bindings) {
    if (absl::Status s = Bind(*request, path, value); !s.ok()) return s;
  }
  std::vector<std::string> set_by_query;
  if (!query.empty()) {
    if (route.body == "*") {
      return absl::InvalidArgumentError(absl::StrCat(
          route.method, " ", route.path, " takes its fields in the JSON body, not the query"));
    }
    absl::StatusOr<std::string> json = QueryToJson(type, query, &set_by_query);
    if (!json.ok()) return json.status();
    std::unique_ptr<Message> from_query(request->New());
    google::protobuf::util::JsonParseOptions options;
    const auto status =
        google::protobuf::util::JsonStringToMessage(*json, from_query.get(), options);
    if (!status.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("invalid query parameter: ", std::string(status.message())));
    }
    request->MergeFrom(*from_query);
  }
  if (!last_event_id.empty() && !route.resume_field.empty()) {
    bool set = false;
    for (const std::string& name : set_by_query) set = set || name == route.resume_field;
    if (!set) {
      const FieldDescriptor* field = FindField(type, route.resume_field);
      uint64_t value = 0;
      if (field == nullptr || !absl::SimpleAtoi(last_event_id, &value)) {
        return absl::InvalidArgumentError(absl::StrCat("invalid Last-Event-ID '", last_event_id,
                                                       "': expected the id of an event"));
      }
      request->GetReflection()->SetUInt64(request.get(), field, value);
    }
  }
  return request;
}

std::string MessageToJson(const Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.always_print_primitive_fields = true;
  std::string out;
  if (!google::protobuf::util::MessageToJsonString(message, &out, options).ok()) return "";
  return out;
}

int HttpStatusFor(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK:
      return 200;
    case grpc::StatusCode::CANCELLED:
      return 499;
    case grpc::StatusCode::INVALID_ARGUMENT:
    case grpc::StatusCode::FAILED_PRECONDITION:
    case grpc::StatusCode::OUT_OF_RANGE:
      return 400;
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return 504;
    case grpc::StatusCode::NOT_FOUND:
      return 404;
    case grpc::StatusCode::ALREADY_EXISTS:
    case grpc::StatusCode::ABORTED:
      return 409;
    case grpc::StatusCode::PERMISSION_DENIED:
      return 403;
    case grpc::StatusCode::UNAUTHENTICATED:
      return 401;
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return 429;
    case grpc::StatusCode::UNIMPLEMENTED:
      return 501;
    case grpc::StatusCode::UNAVAILABLE:
      return 503;
    default:  // UNKNOWN, INTERNAL, DATA_LOSS
      return 500;
  }
}

std::string StatusToJson(const grpc::Status& status) {
  google::rpc::Status proto;
  if (status.error_details().empty() || !proto.ParseFromString(status.error_details())) {
    proto.Clear();
    proto.set_code(static_cast<int>(status.error_code()));
    proto.set_message(status.error_message());
  }
  std::string json = MessageToJson(proto);
  if (json.empty()) {  // details protobuf cannot print: code and message still
    proto.clear_details();
    json = MessageToJson(proto);
  }
  return json;
}

}  // namespace batchd::server::http_api
