// Every shared limit by key, the tasks holding them and the tasks waiting for them. The
// scheduler asks to acquire a ready task's limits (granted, or the table keeps it waiting),
// releases them when the attempt ends, and calls Wake when capacity may have returned: Wake
// returns the waiters to start now (they already hold their limits) and the one time to wake
// next. It never calls back and owns no timer. Strand only.
//
// A task that names several keys takes all of them in one step or none: it never holds one
// key while it waits for another, so no set of tasks can deadlock (there is no hold-and-wait,
// whatever order tasks name their keys in). It waits in one queue at a time, that of the
// first key that refused it; when that key has room again and the task is its best waiter,
// the table tries all its keys again and, if another key refuses it, moves it to that key's
// queue (keeping its priority; it joins that key's round-robin). The price: while contended,
// a many-key task can be passed on its other keys by tasks that need only those keys --
// progress for everyone, no deadlock, but no strict FIFO across keys.
//
// A key serves its waiters in order: while its best waiter cannot pass, none behind it starts,
// so a task needing many units is not starved by a stream of small ones.
//
// Memory: configured keys are at most max_keys; a key not configured (unknown to a batch that
// allows unknown keys, or deleted at run time) has an entry only while a task holds it, waits
// naming it, or a Retry-After pause on it lasts, and is forgotten when idle.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/inlined_vector.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "core/limits/key_limit.h"
#include "core/limits/limit_spec.h"
#include "core/limits/wait_queue.h"
#include "core/model/batch_spec.h"
#include "core/time/clock.h"

namespace batchd::core {

// What a task uses of one key: one in-flight slot, `units` of each kUnits rate, 1 of each
// kRequests rate.
using LimitDemand = LimitUse;

// A task, as the scheduler names it; `batch` is what round-robin is fair between.
struct LimitTaskRef {
  uint64_t batch = 0;
  uint32_t task = 0;

  bool operator==(const LimitTaskRef&) const = default;
  template <typename H>
  friend H AbslHashValue(H h, const LimitTaskRef& t) {
    return H::combine(std::move(h), t.batch, t.task);
  }
};

// How an attempt that held limits ended.
struct LimitRelease {
  enum class Verdict { kOther, kSucceeded, kThrottled };
  SteadyTime started{};  // when it acquired its limits
  Verdict verdict = Verdict::kOther;
  std::optional<SteadyTime> pause_until;  // Retry-After: pauses each of its keys for everyone
  std::optional<int64_t> units_used;      // reconciles each key's kUnits rates (used - demanded)
};

// Acquire's answer: granted, or waiting on `key` for `block`.
struct LimitAcquire {
  bool granted = false;
  std::string key;
  LimitBlock block = LimitBlock::kNone;
};

struct LimitWakeups {
  std::vector<LimitTaskRef> start;  // hold their limits now: start them, in this order
  // Waiters that can never pass (their limit was lowered below their units since): fail them.
  std::vector<std::pair<LimitTaskRef, absl::Status>> refused;
  std::optional<SteadyTime> next_wake;  // call Wake then, if anything still waits on a time
};

// A configured key's state, for ListLimits and metrics.
struct LimitState {
  LimitSpec spec;
  int64_t in_flight = 0;
  size_t waiting = 0;  // tasks in this key's queue
  std::optional<SteadyTime> paused_until;
  int64_t throttled = 0;               // throttled attempts reported
  int64_t rate_factor = kFullRate;     // parts per million of the configured rates
  std::vector<double> available;       // units, per rate
  std::vector<double> effective_rate;  // units per period in force, per rate
};

struct LimitTableOptions {
  size_t max_keys = 100'000;  // configured keys
  AdaptiveOptions adaptive;
};

class LimitTable {
 public:
  explicit LimitTable(LimitTableOptions options = {});

  // Configures or reconfigures a key (see KeyLimit::Reconfigure). INVALID_ARGUMENT from
  // Validate; RESOURCE_EXHAUSTED past max_keys.
  absl::Status Set(LimitSpec spec, SteadyTime now);
  // What Set would answer, changing nothing.
  absl::Status CheckSet(const LimitSpec& spec) const;
  // The key is no longer limited; tasks waiting on it may start at the next Wake. NOT_FOUND.
  absl::Status Delete(absl::string_view key, SteadyTime now);
  // What Delete would answer, changing nothing.
  absl::Status CheckDelete(absl::string_view key) const;
  std::optional<LimitState> Get(absl::string_view key, SteadyTime now) const;
  std::vector<LimitState> List(SteadyTime now) const;  // configured keys, by key
  // A configured key's spec, valid until the table next changes; nullptr when not configured.
  const LimitSpec* FindSpec(absl::string_view key) const;

  // At submit: INVALID_ARGUMENT with field violations ("limits[1].units") for an unknown key
  // (unless allowed), a key named twice, units < 1 or above a burst (with the numbers).
  absl::Status CheckDemand(absl::Span<const LimitDemand> demand, bool allow_unknown) const;

  // A ready task asks for its limits. Granted: it holds them all. Otherwise the table keeps it
  // waiting and says on what; it comes back from Wake (call Wake before sleeping). Unknown
  // keys are unlimited. INVALID_ARGUMENT when it can never pass; FAILED_PRECONDITION when the
  // task already waits.
  absl::StatusOr<LimitAcquire> Acquire(LimitTaskRef task, double priority,
                                       absl::Span<const LimitDemand> demand, SteadyTime now);
  // A waiting task stops waiting (cancelled, timed out); no effect if it does not wait.
  void Leave(LimitTaskRef task, SteadyTime now);
  // An attempt that holds `demand` (as granted) ended. Its verdict, pause and units used
  // apply to each of its keys (the caller that knows which key throttled passes only that one's
  // outcome with it). Waiters it frees come back from the next Wake.
  void Release(absl::Span<const LimitDemand> demand, const LimitRelease& how, SteadyTime now);
  // Starts what can start now and says when to wake next. Cheap when nothing changed.
  LimitWakeups Wake(SteadyTime now);
  // The same into `out` (cleared first), reusing its storage from call to call.
  void Wake(SteadyTime now, LimitWakeups& out);

  // Where a waiting task waits: the key and why; nullopt when it does not wait.
  std::optional<std::pair<std::string, LimitBlock>> WaitingFor(LimitTaskRef task) const;
  size_t configured() const { return configured_; }
  size_t keys() const { return slots_.size(); }  // configured or not
  size_t waiting() const { return waiters_.size(); }
  // Whether Wake has anything to do, or a timer armed for `armed` is not the one it would arm:
  // keys marked since the last Wake, or a different earliest alarm.
  bool NeedsWake(std::optional<SteadyTime> armed) const {
    if (!dirty_.empty()) return true;
    const std::optional<SteadyTime> front =
        alarms_.empty() ? std::nullopt : std::optional<SteadyTime>(alarms_.front().at);
    return front != armed;
  }

 private:
  static constexpr uint32_t kNoSlot = UINT32_MAX;
  struct Entry {
    KeyLimit limit{LimitSpec{}, SteadyTime{}};
    bool in_use = false;
    bool configured = false;
    bool dirty = false;  // in dirty_: capacity may have returned or its best waiter changed
    WaitQueue queue;
    size_t queued = 0;  // live entries of `queue`
    size_t pins = 0;    // waiting tasks naming this key, wherever they wait
    std::optional<SteadyTime> timer_at;
    uint64_t timer_gen = 0;  // never reset, so a reused slot's old heap items stay stale
  };
  struct Need {
    uint32_t slot;
    int64_t units;
  };
  using Needs = absl::InlinedVector<Need, 2>;
  struct Waiter {
    LimitTaskRef task;
    double priority = 0;
    uint32_t ticket = 0;  // of its one live queue entry
    uint32_t slot = 0;    // whose queue it is in
    LimitBlock block = LimitBlock::kNone;
    Needs needs;
  };
  struct Blocked {
    uint32_t slot = kNoSlot;
    LimitCheck check;
  };
  struct Alarm {
    SteadyTime at;
    uint32_t slot;
    uint64_t gen;
  };

  uint32_t Find(absl::string_view key) const;
  uint32_t FindOrAdd(absl::string_view key, SteadyTime now);
  void MaybeForget(uint32_t slot, SteadyTime now);
  absl::Status CheckNeeds(const Needs& needs) const;
  // The first key that refuses the take now; `serving` is the key whose best waiter it is.
  Blocked FirstBlock(const Needs& needs, double priority, SteadyTime now, uint32_t serving);
  void TakeAll(const Needs& needs, SteadyTime now);
  void Enqueue(uint32_t waiter, uint32_t slot, LimitBlock block);
  // Drops a waiter that no longer waits (its queue entry goes stale) and unpins its keys.
  void DropWaiter(uint32_t waiter, SteadyTime now);
  void Unpin(const Needs& needs, SteadyTime now);
  // The live front of a key's queue, dropping stale entries before it; nullptr when none.
  const QueuedTask* LiveFront(uint32_t slot);
  bool Live(const QueuedTask& q) const;
  void CompactIfSparse(uint32_t slot);
  void Serve(uint32_t slot, SteadyTime now, LimitWakeups& out);
  void MarkDirty(uint32_t slot);
  void ArmTimer(uint32_t slot, std::optional<SteadyTime> at);
  void ArmIdleTimer(uint32_t slot, SteadyTime now);
  LimitState StateOf(const Entry& e, SteadyTime now) const;

  LimitTableOptions options_;
  std::vector<Entry> entries_;
  std::vector<uint32_t> free_;
  absl::flat_hash_map<std::string, uint32_t> slots_;
  // Waiters live in a slab so that queue entries name them by index: telling a live entry
  // from a stale one is an array read, not a hash lookup.
  std::vector<Waiter> slab_;
  std::vector<uint32_t> free_waiters_;
  absl::flat_hash_map<LimitTaskRef, uint32_t> waiters_;
  std::vector<uint32_t> dirty_;
  std::vector<Alarm> alarms_;  // min-heap by time; items whose gen is old are stale
  size_t armed_ = 0;           // entries with a timer_at
  size_t configured_ = 0;
  uint32_t next_ticket_ = 0;
};

}  // namespace batchd::core
