#include "tests/reliability/soak_tally.h"

#include <algorithm>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace batchd::soak {

std::string StatusCodeName(grpc::StatusCode code) {
  return absl::StatusCodeToString(static_cast<absl::StatusCode>(code));
}

bool SoakTally::Call(absl::string_view method, const grpc::Status& status,
                     std::initializer_list<grpc::StatusCode> expected, absl::string_view context) {
  const bool ok =
      std::find(expected.begin(), expected.end(), status.error_code()) != expected.end();
  {
    absl::MutexLock lock(&mu_);
    ++calls_[{std::string(method), status.error_code()}];
  }
  if (!ok) {
    Problem(absl::StrCat(method, " ", context, ": unexpected ", StatusCodeName(status.error_code()),
                         " '", status.error_message(), "'"));
  }
  return ok;
}

void SoakTally::Problem(std::string text) {
  absl::MutexLock lock(&mu_);
  ++problem_count_;
  if (problems_.size() < kKeptProblems) problems_.push_back(std::move(text));
}

void SoakTally::Count(absl::string_view counter, int64_t n) {
  absl::MutexLock lock(&mu_);
  auto it = counters_.find(counter);
  if (it == counters_.end()) it = counters_.emplace(std::string(counter), 0).first;
  it->second += n;
}

int64_t SoakTally::counter(absl::string_view name) const {
  absl::MutexLock lock(&mu_);
  const auto it = counters_.find(name);
  return it == counters_.end() ? 0 : it->second;
}

int64_t SoakTally::problem_count() const {
  absl::MutexLock lock(&mu_);
  return problem_count_;
}

std::vector<std::string> SoakTally::problems() const {
  absl::MutexLock lock(&mu_);
  return problems_;
}

std::string SoakTally::Report() const {
  absl::MutexLock lock(&mu_);
  std::string text = "calls:\n";
  for (const auto& [key, count] : calls_) {
    absl::StrAppend(&text, "  ", key.first, " ", StatusCodeName(key.second), ": ", count, "\n");
  }
  absl::StrAppend(&text, "counters:\n");
  for (const auto& [name, value] : counters_) absl::StrAppend(&text, "  ", name, ": ", value, "\n");
  absl::StrAppend(&text, "problems: ", problem_count_, "\n");
  return text;
}

}  // namespace batchd::soak
