// The scheduler's side of shared limits (core/limits): the limit table, the catalog that
// submit checks batches against, and the one timer armed at the table's next wake -- never a
// poll. The scheduler asks it to acquire a ready task's limits, releases them with the
// attempt's verdict, and drains what may start whenever `dirty()` says capacity may have
// returned. Strand only, except catalog() (thread-safe).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "core/limits/limit_catalog.h"
#include "core/limits/limit_spec.h"
#include "core/limits/limit_table.h"
#include "core/time/clock.h"
#include "core/time/timer_service.h"

namespace batchd::core {

class LimitGate {
 public:
  // `due` runs on the strand when the timer fires (the scheduler pumps, which drains).
  LimitGate(const Clock& clock, TimerService& timers, LimitTableOptions options,
            absl::AnyInvocable<void()> due);
  ~LimitGate();
  LimitGate(const LimitGate&) = delete;
  LimitGate& operator=(const LimitGate&) = delete;

  const LimitCatalog& catalog() const { return catalog_; }
  // Start-up (any thread): submit knows the key before Set runs on the strand.
  void Announce(const LimitSpec& spec) { catalog_.Set(spec); }

  // Run-time configuration (see LimitTable::Set / Delete).
  absl::Status Set(LimitSpec spec);
  absl::Status Delete(absl::string_view key);
  absl::Status CheckSet(const LimitSpec& spec) const { return table_.CheckSet(spec); }
  absl::Status CheckDelete(absl::string_view key) const { return table_.CheckDelete(key); }
  std::optional<LimitState> Get(absl::string_view key) const;
  std::vector<LimitState> List() const;
  size_t waiting() const { return table_.waiting(); }

  // `now`: the caller's clock read (the scheduler reads it once for the attempt it starts).
  absl::StatusOr<LimitAcquire> Acquire(LimitTaskRef task, double priority,
                                       absl::Span<const LimitUse> demand, SteadyTime now);
  void Leave(LimitTaskRef task);
  void Release(absl::Span<const LimitUse> demand, const LimitRelease& how);
  std::optional<std::pair<std::string, LimitBlock>> WaitingFor(LimitTaskRef task) const {
    return table_.WaitingFor(task);
  }
  // The response header that reports the units used, of the first of `demand`'s keys that
  // names one; nullptr when none does. Valid until the limits change.
  const std::string* UnitsHeader(absl::Span<const LimitUse> demand) const;
  bool any_units_header() const { return !header_keys_.empty(); }

  // Capacity may have returned (or a waiter needs its timer armed): call Drain.
  bool dirty() const { return dirty_; }
  // The waiters that start now (they hold their limits) and those that never can; re-arms the
  // timer at the next wake. Valid until the next call.
  const LimitWakeups& Drain();

 private:
  void Arm(std::optional<SteadyTime> at);

  const Clock& clock_;
  TimerService& timers_;
  absl::AnyInvocable<void()> due_;
  LimitTable table_;
  LimitCatalog catalog_;
  LimitWakeups wakeups_;
  absl::flat_hash_set<std::string> header_keys_;  // keys whose spec names a units_header
  bool dirty_ = false;
  TimerId timer_ = kNoTimer;
  std::optional<SteadyTime> timer_at_;
};

}  // namespace batchd::core
