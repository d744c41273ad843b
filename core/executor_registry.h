// Executors by name, with their kind and capacity, as listed by ListExecutors and resolved at
// submit. Executors are registered at startup, or made on demand for names callback workers
// serve; all live as long as the registry. Thread-safe.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "core/executor.h"

namespace batchd::core {

struct ExecutorDescription {
  std::string name;
  std::string kind;        // "builtin", "plugin" or "worker"
  uint32_t workers = 0;    // connected workers serving it
  uint32_t capacity = 0;   // 0 = bounded only by the scheduler
};

class ExecutorRegistry {
 public:
  // ALREADY_EXISTS if `name` is taken.
  absl::Status Register(ExecutorDescription description, std::unique_ptr<Executor> executor);
  // nullptr when no executor has that name.
  Executor* Find(const std::string& name) const;
  // The executor named `name` and its kind; when none exists and an on-demand factory is set,
  // makes one with it (kind `on_demand_kind`). {nullptr, ""} when neither.
  struct Found {
    Executor* executor = nullptr;
    std::string kind;
  };
  Found FindOrCreate(const std::string& name);

  // Makes executors for names nobody registered (callback workers' executors). Set once at
  // startup, before any FindOrCreate.
  using Factory = absl::AnyInvocable<std::unique_ptr<Executor>(const std::string& name)>;
  void SetOnDemandFactory(std::string kind, Factory factory);
  // Sorted by name.
  std::vector<ExecutorDescription> List() const;
  // Sorted names, for error messages.
  std::vector<std::string> Names() const;

 private:
  struct Entry {
    ExecutorDescription description;
    std::unique_ptr<Executor> executor;
  };
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, Entry> entries_ ABSL_GUARDED_BY(mu_);
  std::string on_demand_kind_ ABSL_GUARDED_BY(mu_);
  Factory on_demand_ ABSL_GUARDED_BY(mu_);
};

}  // namespace batchd::core
