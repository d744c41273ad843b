// Fuzz target: a batch file end to end, as `batchctl submit` and the daemon handle it: JSON text
// -> SubmitBatchRequest (client/cpp/batch_file.h) -> the request limits and proto -> core
// conversion of the daemon (server/rpc/batch_request.h) -> Batch::Create
// validation -> the builtin executors' input parsers. Errors must be INVALID_ARGUMENT.
// Single-threaded; the executor registry is built once and only read afterwards.
#include <google/protobuf/util/json_util.h>

#include <boost/json/value.hpp>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/string_view.h"
#include "batchd/v1/batch_service.pb.h"
#include "client/cpp/batch_file.h"
#include "core/executors/builtin_executors.h"
#include "core/executors/executor_registry.h"
#include "core/executors/http/http_request_spec.h"
#include "core/executors/shell/shell_input.h"
#include "core/model/batch_spec.h"
#include "core/model/field_violation.h"
#include "core/process/json_number.h"
#include "core/scheduling/batch.h"
#include "server/convert/proto_convert.h"
#include "server/rpc/batch_request.h"
#include "server/rpc/request_limits.h"
#include "spdlog/spdlog.h"
#include "tests/fuzz/fuzz_check.h"
#include "tests/testing/fake_time.h"

namespace batchd {
namespace {

// The builtin executors (echo, sleep, fail) that Batch::Create resolves names against. Never
// runs anything: the timers are never advanced.
struct Executors {
  Executors() : strand(boost::asio::make_strand(io)), timers(clock, io, strand) {
    FUZZ_CHECK(core::RegisterBuiltinExecutors(registry, clock, timers).ok());
  }
  boost::asio::io_context io;
  testing::FakeTimerService::Strand strand;
  testing::FakeClock clock;
  testing::FakeTimerService timers;
  core::ExecutorRegistry registry;
};

bool IsInvalidArgumentWithMessage(const absl::Status& status) {
  return status.code() == absl::StatusCode::kInvalidArgument && !status.message().empty();
}

// A refusal lists its violations in input order, at most the cap, and counts at least those.
void CheckViolationsInOrder(const absl::Status& status) {
  const std::vector<core::FieldViolation> violations = core::FieldViolationsOf(status);
  FUZZ_CHECK(!violations.empty() && violations.size() <= core::kMaxFieldViolations);
  FUZZ_CHECK(core::FieldViolationCountOf(status) >= violations.size());
  for (size_t i = 1; i < violations.size(); ++i) {
    FUZZ_CHECK(!core::FieldPathBefore(violations[i].field, violations[i - 1].field));
  }
}

// What the client prints back (batchctl's JSON output) must parse again.
void CheckPrintParses(const v1::SubmitBatchRequest& request) {
  std::string printed;
  if (!google::protobuf::util::MessageToJsonString(request, &printed).ok()) return;
  absl::StatusOr<v1::SubmitBatchRequest> again = client::ParseBatchJson(printed, "printed");
  FUZZ_CHECK(again.ok());
}

// google.protobuf.Value <-> boost::json: converting back and forth again is stable.
void CheckValueRoundTrip(const google::protobuf::Value& value) {
  const boost::json::value json = server::ValueToJson(value);
  google::protobuf::Value back;
  server::JsonToValue(json, &back);
  FUZZ_CHECK(server::ValueToJson(back) == json);
}

// The executors parse inputs when a task starts; the parsers must accept or refuse any JSON.
void ParseInputs(const std::vector<boost::json::value>& inputs) {
  for (const boost::json::value& input : inputs) {
    if (absl::StatusOr<core::ShellInput> shell = core::ParseShellInput(input); shell.ok()) {
      FUZZ_CHECK(!shell->argv.empty());
    } else {
      FUZZ_CHECK(IsInvalidArgumentWithMessage(shell.status()));
    }
    if (absl::StatusOr<core::HttpRequestSpec> http = core::ParseHttpRequestSpec(input); http.ok()) {
      FUZZ_CHECK(!http->host.empty());
    } else {
      FUZZ_CHECK(IsInvalidArgumentWithMessage(http.status()));
    }
    core::AsNonNegativeInteger(input);
    if (input.is_object()) {
      for (const auto& member : input.get_object()) core::AsNonNegativeInteger(member.value());
    }
  }
}

void CheckBatch(const core::Batch& batch, size_t tasks) {
  FUZZ_CHECK(batch.size() == tasks);
  FUZZ_CHECK(batch.graph().size() == tasks);
  FUZZ_CHECK(batch.max_concurrent() > 0);
  size_t laid_out = 0;
  for (const std::vector<uint32_t>& layer : batch.graph().Layers()) laid_out += layer.size();
  FUZZ_CHECK(laid_out == tasks);
  for (uint32_t t = 0; t < batch.size(); ++t) {
    FUZZ_CHECK(batch.executor(t) != nullptr);
    FUZZ_CHECK(batch.timeout_ms(t) > 0);
  }
}

}  // namespace
}  // namespace batchd

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace batchd;  // NOLINT(google-build-using-namespace): fuzz entry point
  static Executors* const executors = [] {
    spdlog::set_level(spdlog::level::off);
    return new Executors();
  }();

  const absl::string_view json(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<v1::SubmitBatchRequest> request = client::ParseBatchJson(json, "fuzz.json");
  if (!request.ok()) {
    FUZZ_CHECK(IsInvalidArgumentWithMessage(request.status()));
    FUZZ_CHECK(absl::StartsWith(request.status().message(), "fuzz.json: invalid batch JSON: "));
    return 0;
  }
  CheckPrintParses(*request);
  for (const v1::Task& task : request->tasks()) CheckValueRoundTrip(task.input());

  absl::StatusOr<core::BatchSpec> spec =
      server::BatchSpecFromRequest(*request, server::RequestLimits{}, executors->registry);
  const absl::StatusOr<core::BatchSpec> process_spec = server::BatchSpecFromRequest(
      client::ToProcessBatchRequest(*request), server::RequestLimits{}, executors->registry);
  FUZZ_CHECK(spec.ok() == process_spec.ok());
  if (!spec.ok()) {
    FUZZ_CHECK(IsInvalidArgumentWithMessage(spec.status()));
    FUZZ_CHECK(spec.status() == process_spec.status());
    CheckViolationsInOrder(spec.status());
    return 0;
  }
  const size_t tasks = spec->tasks.size();
  std::vector<boost::json::value> inputs;
  for (const core::TaskSpec& task : spec->tasks) inputs.push_back(task.input);
  ParseInputs(inputs);

  core::Batch::Identity identity;
  identity.id = "fuzz";
  identity.seq = 1;
  absl::StatusOr<std::shared_ptr<core::Batch>> batch =
      core::Batch::Create(*std::move(spec), executors->registry, std::move(identity));
  if (!batch.ok()) {
    FUZZ_CHECK(IsInvalidArgumentWithMessage(batch.status()));
    CheckViolationsInOrder(batch.status());
    return 0;
  }
  CheckBatch(**batch, tasks);
  return 0;
}
