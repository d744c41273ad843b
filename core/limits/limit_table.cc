#include "core/limits/limit_table.h"

#include <algorithm>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "core/model/field_violation.h"

namespace batchd::core {
namespace {

// Heap order for std heaps (greatest on top): "less" means "later".
constexpr auto kAlarmAfter = [](const auto& a, const auto& b) { return a.at > b.at; };

// A demand names each key once: several tasks' worth of one key is one slot, not two.
std::optional<size_t> FirstRepeated(absl::Span<const LimitDemand> demand) {
  absl::flat_hash_set<absl::string_view> seen;
  for (size_t i = 0; i < demand.size(); ++i) {
    if (!seen.insert(demand[i].key).second) return i;
  }
  return std::nullopt;
}

}  // namespace

LimitTable::LimitTable(LimitTableOptions options) : options_(options) {}

absl::Status LimitTable::CheckSet(const LimitSpec& spec) const {
  if (absl::Status s = spec.Validate(); !s.ok()) return s;
  const uint32_t slot = Find(spec.key);
  const bool adds = slot == kNoSlot || !entries_[slot].configured;
  if (adds && configured_ >= options_.max_keys) {
    return absl::ResourceExhaustedError(absl::StrCat("Cannot add limit '", spec.key,
                                                     "': ", configured_,
                                                     " keys are configured, the most "
                                                     "allowed (max_keys)"));
  }
  return absl::OkStatus();
}

absl::Status LimitTable::CheckDelete(absl::string_view key) const {
  const uint32_t slot = Find(key);
  if (slot == kNoSlot || !entries_[slot].configured) {
    return absl::NotFoundError(absl::StrCat("No limit '", key, "'"));
  }
  return absl::OkStatus();
}

absl::Status LimitTable::Set(LimitSpec spec, SteadyTime now) {
  if (absl::Status s = CheckSet(spec); !s.ok()) return s;
  uint32_t slot = Find(spec.key);
  const bool adds = slot == kNoSlot || !entries_[slot].configured;
  if (slot == kNoSlot) slot = FindOrAdd(spec.key, now);
  Entry& e = entries_[slot];
  e.limit.Reconfigure(std::move(spec), now);
  if (adds) {
    e.configured = true;
    ++configured_;
  }
  if (e.queued > 0) MarkDirty(slot);
  return absl::OkStatus();
}

absl::Status LimitTable::Delete(absl::string_view key, SteadyTime now) {
  if (absl::Status s = CheckDelete(key); !s.ok()) return s;
  const uint32_t slot = Find(key);
  Entry& e = entries_[slot];
  e.configured = false;
  --configured_;
  e.limit.Reconfigure(LimitSpec{std::string(key), std::nullopt, {}}, now);
  e.limit.ClearPause();
  if (e.queued > 0) MarkDirty(slot);
  MaybeForget(slot, now);
  return absl::OkStatus();
}

LimitState LimitTable::StateOf(const Entry& e, SteadyTime now) const {
  LimitState s;
  s.spec = e.limit.spec();
  s.in_flight = e.limit.in_flight();
  s.waiting = e.queued;
  if (e.limit.paused(now)) s.paused_until = e.limit.paused_until();
  s.throttled = e.limit.throttled();
  s.rate_factor = e.limit.rate_factor();
  for (const TokenBucket& b : e.limit.buckets()) {
    s.available.push_back(b.Available(now));
    s.effective_rate.push_back(b.EffectiveUnitsPerPeriod());
  }
  return s;
}

std::optional<LimitState> LimitTable::Get(absl::string_view key, SteadyTime now) const {
  const uint32_t slot = Find(key);
  if (slot == kNoSlot || !entries_[slot].configured) return std::nullopt;
  return StateOf(entries_[slot], now);
}

const LimitSpec* LimitTable::FindSpec(absl::string_view key) const {
  const uint32_t slot = Find(key);
  if (slot == kNoSlot || !entries_[slot].configured) return nullptr;
  return &entries_[slot].limit.spec();
}

std::vector<LimitState> LimitTable::List(SteadyTime now) const {
  std::vector<LimitState> out;
  out.reserve(configured_);
  for (const auto& [key, slot] : slots_) {
    if (entries_[slot].configured) out.push_back(StateOf(entries_[slot], now));
  }
  std::sort(out.begin(), out.end(),
            [](const LimitState& a, const LimitState& b) { return a.spec.key < b.spec.key; });
  return out;
}

absl::Status LimitTable::CheckDemand(absl::Span<const LimitDemand> demand,
                                     bool allow_unknown) const {
  FieldViolations violations;
  absl::flat_hash_set<absl::string_view> seen;
  for (size_t i = 0; i < demand.size(); ++i) {
    const LimitDemand& d = demand[i];
    const std::string at = absl::StrCat("limits[", i, "]");
    if (!seen.insert(d.key).second) {
      violations.Add(at + ".key", absl::StrCat("Limit '", d.key, "' is named twice"));
      continue;
    }
    if (d.units < 1 || d.units > kMaxLimitUnits) {
      violations.Add(at + ".units", absl::StrCat("Units for limit '", d.key, "' must be 1 to ",
                                                 kMaxLimitUnits, ", got ", d.units));
      continue;
    }
    const uint32_t slot = Find(d.key);
    if (slot == kNoSlot || !entries_[slot].configured) {
      if (!allow_unknown) {
        violations.Add(at + ".key", absl::StrCat("Unknown limit '", d.key, "'"));
      }
      continue;
    }
    if (absl::Status s = entries_[slot].limit.CheckUnits(d.units); !s.ok()) {
      violations.Add(at + ".units", std::string(s.message()));
    }
  }
  return std::move(violations).ToStatus();
}

absl::StatusOr<LimitAcquire> LimitTable::Acquire(LimitTaskRef task, double priority,
                                                 absl::Span<const LimitDemand> demand,
                                                 SteadyTime now) {
  if (!waiters_.empty() && waiters_.contains(task)) {
    return absl::FailedPreconditionError(
        absl::StrCat("Task ", task.task, " of batch ", task.batch, " already waits for limits"));
  }
  if (demand.size() > 1) {
    if (std::optional<size_t> i = FirstRepeated(demand); i.has_value()) {
      return absl::InvalidArgumentError(
          absl::StrCat("Limit '", demand[*i].key, "' is named twice"));
    }
  }
  Needs needs;
  for (const LimitDemand& d : demand) {  // before any entry is made for an unknown key
    if (d.units < 1 || d.units > kMaxLimitUnits) {
      return absl::InvalidArgumentError(
          absl::StrCat("Units for limit '", d.key, "' must be 1 to ", kMaxLimitUnits));
    }
    const uint32_t slot = Find(d.key);
    if (slot != kNoSlot) {
      if (absl::Status s = entries_[slot].limit.CheckUnits(d.units); !s.ok()) return s;
    }
    needs.push_back({slot, d.units});
  }
  for (size_t i = 0; i < needs.size(); ++i) {
    if (needs[i].slot == kNoSlot) needs[i].slot = FindOrAdd(demand[i].key, now);
  }
  const Blocked blocked = FirstBlock(needs, priority, now, kNoSlot);
  if (blocked.slot == kNoSlot) {
    TakeAll(needs, now);
    return LimitAcquire{true, "", LimitBlock::kNone};
  }
  for (const Need& n : needs) ++entries_[n.slot].pins;
  uint32_t id;
  if (free_waiters_.empty()) {
    id = static_cast<uint32_t>(slab_.size());
    slab_.emplace_back();
  } else {
    id = free_waiters_.back();
    free_waiters_.pop_back();
  }
  waiters_.emplace(task, id);
  Waiter& w = slab_[id];
  w.task = task;
  w.priority = priority;
  w.needs = std::move(needs);
  Enqueue(id, blocked.slot, blocked.check.block);
  return LimitAcquire{false, entries_[blocked.slot].limit.spec().key, blocked.check.block};
}

void LimitTable::Leave(LimitTaskRef task, SteadyTime now) {
  auto it = waiters_.find(task);
  if (it == waiters_.end()) return;
  const uint32_t slot = slab_[it->second].slot;
  --entries_[slot].queued;
  DropWaiter(it->second, now);
  // The best waiter may have changed (and with it the time worth waking); Wake recomputes.
  if (entries_[slot].queued > 0) MarkDirty(slot);
  CompactIfSparse(slot);
}

void LimitTable::Release(absl::Span<const LimitDemand> demand, const LimitRelease& how,
                         SteadyTime now) {
  for (const LimitDemand& d : demand) {
    const uint32_t slot = Find(d.key);
    if (slot == kNoSlot) continue;
    KeyLimit& limit = entries_[slot].limit;
    limit.Release();
    // Capacity returns with a freed slot, a refund or a raised rate; otherwise the waiters'
    // timer stands (a debt, a cut or a pause only makes it early, and early re-checks).
    const int64_t factor = limit.rate_factor();
    bool more = limit.spec().max_in_flight.has_value();
    if (how.units_used.has_value()) {
      limit.Charge(*how.units_used - d.units, now);
      more = more || *how.units_used < d.units;
    }
    if (how.verdict == LimitRelease::Verdict::kSucceeded) limit.ReportSuccess(how.started, now);
    if (how.verdict == LimitRelease::Verdict::kThrottled) limit.ReportThrottled(how.started, now);
    if (how.pause_until.has_value()) limit.PauseUntil(*how.pause_until, now);
    more = more || limit.rate_factor() > factor;
    if (entries_[slot].queued > 0) {
      if (more) MarkDirty(slot);
    } else {
      ArmIdleTimer(slot, now);
      MaybeForget(slot, now);
    }
  }
}

LimitWakeups LimitTable::Wake(SteadyTime now) {
  LimitWakeups out;
  Wake(now, out);
  return out;
}

void LimitTable::Wake(SteadyTime now, LimitWakeups& out) {
  out.start.clear();
  out.refused.clear();
  out.next_wake.reset();
  while (!alarms_.empty() && alarms_.front().at <= now) {
    std::pop_heap(alarms_.begin(), alarms_.end(), kAlarmAfter);
    const Alarm a = alarms_.back();
    alarms_.pop_back();
    Entry& e = entries_[a.slot];
    if (!e.in_use || e.timer_gen != a.gen) continue;
    e.timer_at.reset();
    --armed_;
    MarkDirty(a.slot);
  }
  // Serving one key can move a waiter to another key's queue, which joins the list.
  for (size_t i = 0; i < dirty_.size(); ++i) {
    const uint32_t slot = dirty_[i];
    if (!entries_[slot].dirty) continue;
    entries_[slot].dirty = false;
    if (entries_[slot].in_use) Serve(slot, now, out);
  }
  dirty_.clear();
  if (alarms_.size() > 2 * armed_ + 64) {  // drop stale alarms so the heap stays bounded
    std::erase_if(alarms_, [&](const Alarm& a) {
      return !entries_[a.slot].in_use || entries_[a.slot].timer_gen != a.gen;
    });
    std::make_heap(alarms_.begin(), alarms_.end(), kAlarmAfter);
  }
  while (!alarms_.empty()) {
    const Alarm& a = alarms_.front();
    if (entries_[a.slot].in_use && entries_[a.slot].timer_gen == a.gen) {
      out.next_wake = a.at;
      break;
    }
    std::pop_heap(alarms_.begin(), alarms_.end(), kAlarmAfter);
    alarms_.pop_back();
  }
}

std::optional<std::pair<std::string, LimitBlock>> LimitTable::WaitingFor(LimitTaskRef task) const {
  auto it = waiters_.find(task);
  if (it == waiters_.end()) return std::nullopt;
  const Waiter& w = slab_[it->second];
  return std::pair(entries_[w.slot].limit.spec().key, w.block);
}

uint32_t LimitTable::Find(absl::string_view key) const {
  auto it = slots_.find(key);
  return it == slots_.end() ? kNoSlot : it->second;
}

uint32_t LimitTable::FindOrAdd(absl::string_view key, SteadyTime now) {
  auto [it, added] = slots_.try_emplace(key, 0);
  if (!added) return it->second;
  uint32_t slot;
  if (free_.empty()) {
    slot = static_cast<uint32_t>(entries_.size());
    entries_.emplace_back();
  } else {
    slot = free_.back();
    free_.pop_back();
  }
  Entry& e = entries_[slot];
  e.limit = KeyLimit(LimitSpec{std::string(key), std::nullopt, {}}, now, options_.adaptive);
  e.in_use = true;
  it->second = slot;
  return slot;
}

void LimitTable::MaybeForget(uint32_t slot, SteadyTime now) {
  Entry& e = entries_[slot];
  if (!e.in_use || e.configured || e.pins > 0 || e.queued > 0 || e.limit.in_flight() > 0 ||
      e.limit.paused(now)) {
    return;
  }
  slots_.erase(e.limit.spec().key);
  if (e.timer_at.has_value()) --armed_;
  const uint64_t gen = e.timer_gen + 1;
  e = Entry{};
  e.timer_gen = gen;
  free_.push_back(slot);
}

LimitTable::Blocked LimitTable::FirstBlock(const Needs& needs, double priority, SteadyTime now,
                                           uint32_t serving) {
  for (const Need& n : needs) {
    LimitCheck check = entries_[n.slot].limit.Check(n.units, now);
    if (!check.ok()) return {n.slot, check};
    // Tasks already waiting on a key go first: a new task waits behind those of its priority
    // or higher; a waiter served from another key passes only those of lower priority.
    if (n.slot != serving && entries_[n.slot].queued > 0 && LiveFront(n.slot) != nullptr) {
      const double top = entries_[n.slot].queue.FrontPriority();
      if (serving == kNoSlot ? top >= priority : top > priority) {
        return {n.slot, {LimitBlock::kQueued, std::nullopt}};
      }
    }
  }
  return {};
}

void LimitTable::TakeAll(const Needs& needs, SteadyTime now) {
  for (const Need& n : needs) entries_[n.slot].limit.Take(n.units, now);
}

void LimitTable::Enqueue(uint32_t id, uint32_t slot, LimitBlock block) {
  Waiter& waiter = slab_[id];
  waiter.slot = slot;
  waiter.block = block;
  waiter.ticket = next_ticket_++;
  Entry& e = entries_[slot];
  e.queue.Push(waiter.priority, {waiter.task.batch, id, waiter.ticket});
  ++e.queued;
  MarkDirty(slot);  // it may be the new best waiter: Wake works out when to wake for it
}

void LimitTable::Unpin(const Needs& needs, SteadyTime now) {
  for (const Need& n : needs) {
    --entries_[n.slot].pins;
    MaybeForget(n.slot, now);
  }
}

void LimitTable::DropWaiter(uint32_t id, SteadyTime now) {
  Waiter& w = slab_[id];
  waiters_.erase(w.task);
  w.ticket = next_ticket_++;  // its queue entry, if any is left, is stale from now on
  const Needs needs = std::move(w.needs);
  w.needs.clear();
  free_waiters_.push_back(id);
  Unpin(needs, now);
}

bool LimitTable::Live(const QueuedTask& q) const { return slab_[q.waiter].ticket == q.ticket; }

const QueuedTask* LimitTable::LiveFront(uint32_t slot) {
  WaitQueue& queue = entries_[slot].queue;
  while (!queue.empty() && !Live(queue.Front())) queue.PopSkipped();
  return queue.empty() ? nullptr : &queue.Front();
}

void LimitTable::CompactIfSparse(uint32_t slot) {
  Entry& e = entries_[slot];
  if (e.queue.size() > 2 * e.queued + 32) {
    e.queue.EraseIf([&](const QueuedTask& q) { return !Live(q); });
  }
}

void LimitTable::Serve(uint32_t slot, SteadyTime now, LimitWakeups& out) {
  while (const QueuedTask* front = LiveFront(slot)) {
    const uint32_t id = front->waiter;
    const Waiter& w = slab_[id];
    absl::Status can = CheckNeeds(w.needs);
    const Blocked blocked =
        can.ok() ? FirstBlock(w.needs, w.priority, now, slot) : Blocked{kNoSlot, {}};
    if (can.ok() && blocked.slot == slot) {  // the best waiter waits here: so do the others
      slab_[id].block = blocked.check.block;
      ArmTimer(slot, blocked.check.at);
      return;
    }
    if (can.ok() && blocked.slot != kNoSlot) {  // another key refuses it: wait there
      entries_[slot].queue.PopSkipped();
      --entries_[slot].queued;
      Enqueue(id, blocked.slot, blocked.check.block);
      continue;
    }
    entries_[slot].queue.PopServed();
    --entries_[slot].queued;
    if (can.ok()) {
      TakeAll(w.needs, now);
      out.start.push_back(w.task);
    } else {
      out.refused.emplace_back(w.task, std::move(can));
    }
    DropWaiter(id, now);
  }
  ArmIdleTimer(slot, now);
  MaybeForget(slot, now);
}

void LimitTable::ArmIdleTimer(uint32_t slot, SteadyTime now) {
  // Nobody waits here: the only time worth waking for is the end of the pause of a key that
  // is not configured, to forget it then.
  const Entry& e = entries_[slot];
  const bool forget_later = !e.configured && e.limit.paused(now);
  ArmTimer(slot, forget_later ? e.limit.paused_until() : std::nullopt);
}

absl::Status LimitTable::CheckNeeds(const Needs& needs) const {
  for (const Need& n : needs) {
    if (absl::Status s = entries_[n.slot].limit.CheckUnits(n.units); !s.ok()) return s;
  }
  return absl::OkStatus();
}

void LimitTable::MarkDirty(uint32_t slot) {
  if (entries_[slot].dirty) return;
  entries_[slot].dirty = true;
  dirty_.push_back(slot);
}

void LimitTable::ArmTimer(uint32_t slot, std::optional<SteadyTime> at) {
  Entry& e = entries_[slot];
  if (at == SteadyTime::max()) at.reset();
  if (e.timer_at == at) return;
  if (e.timer_at.has_value()) --armed_;
  ++e.timer_gen;
  e.timer_at = at;
  if (!at.has_value()) return;
  ++armed_;
  alarms_.push_back({*at, slot, e.timer_gen});
  std::push_heap(alarms_.begin(), alarms_.end(), kAlarmAfter);
}

}  // namespace batchd::core
