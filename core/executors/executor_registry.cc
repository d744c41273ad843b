#include "core/executors/executor_registry.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"

namespace batchd::core {

absl::Status ExecutorRegistry::Register(ExecutorDescription description,
                                        std::unique_ptr<Executor> executor) {
  absl::MutexLock lock(&mu_);
  std::string name = description.name;
  auto [it, inserted] = entries_.try_emplace(name);
  if (!inserted && it->second.Live() != nullptr) {
    return absl::AlreadyExistsError(absl::StrCat("Executor '", name, "' already registered"));
  }
  it->second = Entry{std::move(description), std::move(executor), {}};
  return absl::OkStatus();
}

std::shared_ptr<Executor> ExecutorRegistry::Find(const std::string& name) const {
  absl::MutexLock lock(&mu_);
  auto it = entries_.find(name);
  return it == entries_.end() ? nullptr : it->second.Live();
}

ExecutorRegistry::Found ExecutorRegistry::FindOrCreate(const std::string& name) {
  absl::MutexLock lock(&mu_);
  if (auto it = entries_.find(name); it != entries_.end()) {
    if (std::shared_ptr<Executor> live = it->second.Live()) {
      return {std::move(live), it->second.description.kind};
    }
  }
  if (!on_demand_) return {};
  std::shared_ptr<Executor> made = on_demand_(name);
  if (made == nullptr) return {};
  // Creations are rare (a name no one held), so sweeping here keeps the map to live names.
  PruneForgottenLocked();
  entries_[name] = Entry{ExecutorDescription{name, on_demand_kind_}, nullptr, made};
  return {std::move(made), on_demand_kind_};
}

void ExecutorRegistry::PruneForgottenLocked() {
  absl::erase_if(entries_, [](const auto& entry) {
    return entry.second.registered == nullptr && entry.second.on_demand.expired();
  });
}

void ExecutorRegistry::SetOnDemandFactory(std::string kind, Factory factory) {
  absl::MutexLock lock(&mu_);
  on_demand_kind_ = std::move(kind);
  on_demand_ = std::move(factory);
}

std::vector<ExecutorDescription> ExecutorRegistry::List() const {
  // Describe runs outside the lock; holding each executor meanwhile keeps it alive.
  std::vector<std::pair<ExecutorDescription, std::shared_ptr<Executor>>> live;
  {
    absl::MutexLock lock(&mu_);
    live.reserve(entries_.size());
    for (const auto& [name, entry] : entries_) {
      if (std::shared_ptr<Executor> e = entry.Live()) live.emplace_back(entry.description, e);
    }
  }
  std::vector<ExecutorDescription> out;
  out.reserve(live.size());
  for (auto& [description, executor] : live) {
    executor->Describe(description);
    out.push_back(std::move(description));
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  return out;
}

std::vector<std::string> ExecutorRegistry::Names() const {
  std::vector<std::string> out;
  for (ExecutorDescription& d : List()) out.push_back(std::move(d.name));
  return out;
}

}  // namespace batchd::core
