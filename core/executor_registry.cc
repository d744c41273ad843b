#include "core/executor_registry.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace batchd::core {

absl::Status ExecutorRegistry::Register(ExecutorDescription description,
                                        std::unique_ptr<Executor> executor) {
  absl::MutexLock lock(&mu_);
  std::string name = description.name;
  auto [it, inserted] = entries_.try_emplace(name);
  if (!inserted) return absl::AlreadyExistsError(absl::StrCat("Executor '", name, "' already registered"));
  it->second = Entry{std::move(description), std::move(executor)};
  return absl::OkStatus();
}

Executor* ExecutorRegistry::Find(const std::string& name) const {
  absl::MutexLock lock(&mu_);
  auto it = entries_.find(name);
  return it == entries_.end() ? nullptr : it->second.executor.get();
}

std::vector<ExecutorDescription> ExecutorRegistry::List() const {
  std::vector<ExecutorDescription> out;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [name, entry] : entries_) out.push_back(entry.description);
  }
  std::sort(out.begin(), out.end(),
            [](const auto& a, const auto& b) { return a.name < b.name; });
  return out;
}

std::vector<std::string> ExecutorRegistry::Names() const {
  std::vector<std::string> out;
  for (ExecutorDescription& d : List()) out.push_back(std::move(d.name));
  return out;
}

}  // namespace batchd::core
