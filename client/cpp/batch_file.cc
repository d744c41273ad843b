#include "client/cpp/batch_file.h"

#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <system_error>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "core/base/status_macros.h"

namespace batchd::client {
namespace {

namespace v1 = batchd::v1;

absl::StatusOr<std::string> ReadAll(std::istream& in, absl::string_view source) {
  std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  if (in.bad()) return absl::DataLossError(absl::StrCat(source, ": read failed"));
  return text;
}

absl::StatusOr<std::string> ReadFile(absl::string_view path) {
  std::error_code ignored;
  if (std::filesystem::is_directory(std::string(path), ignored)) {
    // libstdc++ throws when it reads a directory; say what is wrong instead.
    return absl::InvalidArgumentError(absl::StrCat("batch file '", path, "' is a directory"));
  }
  errno = 0;
  std::ifstream in{std::string(path), std::ios::binary};
  if (!in.is_open()) {
    // libstdc++ opens through fopen(), which leaves the cause in errno.
    const int error = errno != 0 ? errno : ENOENT;
    return absl::Status(absl::ErrnoToStatusCode(error),
                        absl::StrCat("cannot open batch file '", path,
                                     "': ", std::generic_category().message(error)));
  }
  return ReadAll(in, absl::StrCat("batch file '", path, "'"));
}

// The parser reports syntax errors as "<what>\n<input around it>\n<caret line>". The input
// excerpt may itself contain line breaks, which would misplace the caret, so it is flattened
// (one character for one, keeping the caret aligned) and both lines are indented.
std::string DescribeParseError(absl::string_view message) {
  message = absl::StripPrefix(absl::StripTrailingAsciiWhitespace(message), ": ");
  const size_t first = message.find('\n');
  const size_t last = message.rfind('\n');
  if (first == absl::string_view::npos || first == last) return std::string(message);
  std::string excerpt(message.substr(first + 1, last - first - 1));
  std::replace_if(
      excerpt.begin(), excerpt.end(), [](char c) { return c == '\n' || c == '\r' || c == '\t'; },
      ' ');
  absl::StripTrailingAsciiWhitespace(&excerpt);
  return absl::StrCat(message.substr(0, first), "\n  ", excerpt, "\n  ", message.substr(last + 1));
}

}  // namespace

absl::StatusOr<v1::SubmitBatchRequest> ParseBatchJson(absl::string_view json,
                                                      absl::string_view source) {
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  v1::SubmitBatchRequest request;
  const auto status = google::protobuf::util::JsonStringToMessage(
      google::protobuf::StringPiece(json.data(), json.size()), &request, options);
  if (!status.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        source, ": invalid batch JSON: ", DescribeParseError(status.message().ToString())));
  }
  return request;
}

absl::StatusOr<v1::SubmitBatchRequest> LoadBatchFile(absl::string_view path,
                                                     std::istream& stdin_stream) {
  const bool from_stdin = path == "-";
  const std::string source = from_stdin ? "<stdin>" : std::string(path);
  ASSIGN_OR_RETURN(const std::string text,
                   from_stdin ? ReadAll(stdin_stream, source) : ReadFile(path));
  return ParseBatchJson(text, source);
}

v1::ProcessBatchRequest ToProcessBatchRequest(const v1::SubmitBatchRequest& batch) {
  v1::ProcessBatchRequest request;
  request.set_request_id(batch.request_id());
  *request.mutable_tasks() = batch.tasks();
  if (batch.has_options()) *request.mutable_options() = batch.options();
  *request.mutable_labels() = batch.labels();
  return request;
}

v1::ResolveExecutionOrderRequest ToResolveRequest(const v1::SubmitBatchRequest& batch) {
  v1::ResolveExecutionOrderRequest request;
  *request.mutable_tasks() = batch.tasks();
  return request;
}

}  // namespace batchd::client
