// Executors by name, with their kind and capacity, as listed by ListExecutors and resolved at
// submit. Executors registered at startup live as long as the registry. Executors made on
// demand (for names callback workers serve) are owned by whoever holds them — the workers
// serving one, the unfinished batches naming one: the registry only finds them, so once nothing
// holds one it is forgotten (not listed, not found) and the next FindOrCreate makes it afresh.
// Thread-safe.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "core/executors/executor.h"

namespace batchd::core {

struct ExecutorDescription {
  std::string name;
  std::string kind;       // "builtin", "plugin" or "worker"
  uint32_t workers = 0;   // connected workers serving it
  uint32_t capacity = 0;  // 0 = bounded only by the scheduler
};

class ExecutorRegistry {
 public:
  // ALREADY_EXISTS if `name` is taken.
  absl::Status Register(ExecutorDescription description, std::unique_ptr<Executor> executor);
  // nullptr when no executor has that name. Holding the result keeps an on-demand executor
  // known.
  std::shared_ptr<Executor> Find(const std::string& name) const;
  // The executor named `name` and its kind; when none exists and an on-demand factory is set,
  // makes one with it (kind `on_demand_kind`), which lives while the caller (or anyone it
  // shares it with) holds it. {nullptr, ""} when neither.
  struct Found {
    std::shared_ptr<Executor> executor;
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
  // Exactly one of `registered` (owned) and `on_demand` (found only while someone holds it).
  struct Entry {
    ExecutorDescription description;
    std::shared_ptr<Executor> registered;
    std::weak_ptr<Executor> on_demand;

    std::shared_ptr<Executor> Live() const {
      return registered != nullptr ? registered : on_demand.lock();
    }
  };
  // Drops entries of on-demand executors nobody holds any more.
  void PruneForgottenLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, Entry> entries_ ABSL_GUARDED_BY(mu_);
  std::string on_demand_kind_ ABSL_GUARDED_BY(mu_);
  Factory on_demand_ ABSL_GUARDED_BY(mu_);
};

}  // namespace batchd::core
