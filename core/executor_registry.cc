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

ExecutorRegistry::Found ExecutorRegistry::FindOrCreate(const std::string& name) {
  absl::MutexLock lock(&mu_);
  auto it = entries_.find(name);
  if (it == entries_.end()) {
    if (!on_demand_) return {};
    Entry entry{ExecutorDescription{name, on_demand_kind_}, on_demand_(name)};
    if (entry.executor == nullptr) return {};
    it = entries_.emplace(name, std::move(entry)).first;
  }
  return {it->second.executor.get(), it->second.description.kind};
}

void ExecutorRegistry::SetOnDemandFactory(std::string kind, Factory factory) {
  absl::MutexLock lock(&mu_);
  on_demand_kind_ = std::move(kind);
  on_demand_ = std::move(factory);
}

std::vector<ExecutorDescription> ExecutorRegistry::List() const {
  std::vector<ExecutorDescription> out;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [name, entry] : entries_) {
      ExecutorDescription& d = out.emplace_back(entry.description);
      entry.executor->Describe(d);
    }
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
