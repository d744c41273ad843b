#include "client/worker/process_task_handler.h"

#include <google/protobuf/util/json_util.h>
#include <sys/wait.h>

#include <optional>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "core/process/child_process.h"
#include "core/process/valid_utf8.h"

namespace batchd::client {
namespace {

constexpr size_t kErrorTailBytes = 1024;
// Beyond the kill grace: time for the killed children to be reaped and their replies sent.
constexpr absl::Duration kShutdownSlack = absl::Seconds(1);

// ": <the end of stderr>", or nothing when stderr was empty.
std::string StderrSuffix(const core::ShellRunResult& result) {
  // stderr_text is the start of stderr; once truncated only stderr_tail holds its end.
  const std::string text =
      core::ToValidUtf8(result.stderr_truncated ? result.stderr_tail : result.stderr_text);
  const absl::string_view tail = absl::StripAsciiWhitespace(core::Utf8Tail(text, kErrorTailBytes));
  return tail.empty() ? "" : absl::StrCat(": ", tail);
}

google::protobuf::Value StdoutValue(const std::string& stdout_text) {
  google::protobuf::Value value;
  if (google::protobuf::util::JsonStringToMessage(stdout_text, &value).ok()) return value;
  absl::string_view text = stdout_text;
  absl::ConsumeSuffix(&text, "\n");
  value.set_string_value(core::ToValidUtf8(text));
  return value;
}

v1::TaskOutcome Failure(std::string error, bool non_retryable) {
  v1::TaskOutcome outcome;
  outcome.set_error(std::move(error));
  outcome.set_non_retryable(non_retryable);
  return outcome;
}

}  // namespace

std::string AssignmentJson(const v1::TaskAssignment& assignment) {
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = true;
  std::string json;
  // Cannot fail: the assignment came off the wire, so its strings are valid UTF-8.
  static_cast<void>(google::protobuf::util::MessageToJsonString(assignment, &json, options));
  json.push_back('\n');
  return json;
}

v1::TaskOutcome ProcessOutcome(const core::ShellRunResult& result, size_t output_limit) {
  const int status = result.wait_status;
  if (WIFEXITED(status) && WEXITSTATUS(status) != 0) {
    return Failure(absl::StrCat("exit code ", WEXITSTATUS(status), StderrSuffix(result)),
                   /*non_retryable=*/false);
  }
  if (WIFSIGNALED(status)) {
    return Failure(absl::StrCat("killed by signal ", WTERMSIG(status), " (",
                                core::SignalName(WTERMSIG(status)), ")", StderrSuffix(result)),
                   /*non_retryable=*/false);
  }
  if (result.stdout_truncated) {
    return Failure(absl::StrCat("stdout exceeds ", output_limit, " bytes"),
                   /*non_retryable=*/true);
  }
  v1::TaskOutcome outcome;
  outcome.set_success(true);
  *outcome.mutable_output() = StdoutValue(result.stdout_text);
  return outcome;
}

ProcessTaskHandler::ProcessTaskHandler(ProcessTaskOptions options)
    : options_(std::move(options)), work_(io_.get_executor()), thread_([this] { io_.run(); }) {}

ProcessTaskHandler::~ProcessTaskHandler() {
  std::vector<std::shared_ptr<core::ShellRun>> runs;
  {
    absl::MutexLock lock(&table_->mu);
    for (const auto& [assignment_id, run] : table_->runs) runs.push_back(run);
  }
  for (const auto& run : runs) run->Cancel();
  {
    absl::MutexLock lock(&table_->mu);
    const auto all_done = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(table_->mu) {
      return table_->runs.empty();
    };
    table_->mu.AwaitWithTimeout(absl::Condition(&all_done),
                                absl::FromChrono(options_.kill_grace) + kShutdownSlack);
  }
  work_.reset();
  io_.stop();
  thread_.join();
  // Whatever still runs is killed and reaped by ShellRun's destructor when the table goes.
  absl::MutexLock lock(&table_->mu);
  table_->runs.clear();
}

void ProcessTaskHandler::StartWithOutput(const v1::TaskAssignment& assignment, Reply reply,
                                         Output output) {
  core::ChildSpec spec;
  spec.argv = options_.argv;
  spec.env = options_.env;
  // What the child needs to add tasks to its own batch (`batchctl add "$BATCHD_BATCH_ID" -`).
  spec.env.push_back(absl::StrCat("BATCHD_BATCH_ID=", assignment.batch_id()));
  spec.env.push_back(absl::StrCat("BATCHD_TASK_ID=", assignment.task_id()));
  spec.pipe_stdin = true;
  absl::StatusOr<core::SpawnedChild> child = core::SpawnChild(spec);
  if (!child.ok()) {
    // Out of processes or descriptors may pass; a missing program will not.
    reply(Failure(std::string(child.status().message()),
                  /*non_retryable=*/!absl::IsUnavailable(child.status())));
    return;
  }
  const std::string& assignment_id = assignment.assignment_id();
  auto finished = [weak_table = std::weak_ptr<RunTable>(table_), assignment_id,
                   output_limit = options_.output_limit,
                   reply = std::move(reply)](const core::ShellRunResult& result) {
    if (std::shared_ptr<RunTable> table = weak_table.lock()) {
      absl::MutexLock lock(&table->mu);
      table->runs.erase(assignment_id);
    }
    reply(result.cancelled ? Failure("cancelled", /*non_retryable=*/false)
                           : ProcessOutcome(result, output_limit));
  };
  auto run = std::make_shared<core::ShellRun>(
      io_, *std::move(child), std::optional<std::string>(AssignmentJson(assignment)),
      core::ShellRunOptions{options_.kill_grace, options_.output_limit,
                            output == nullptr
                                ? std::function<void(std::string_view)>()
                                : [output](std::string_view line) { output(std::string(line)); }},
      std::move(finished));
  {
    absl::MutexLock lock(&table_->mu);
    table_->runs[assignment_id] = run;
  }
  run->Begin();
}

void ProcessTaskHandler::Cancel(const std::string& assignment_id) {
  std::shared_ptr<core::ShellRun> run;
  {
    absl::MutexLock lock(&table_->mu);
    const auto it = table_->runs.find(assignment_id);
    if (it == table_->runs.end()) return;
    run = it->second;
  }
  run->Cancel();
}

size_t ProcessTaskHandler::running() const {
  absl::MutexLock lock(&table_->mu);
  return table_->runs.size();
}

}  // namespace batchd::client
