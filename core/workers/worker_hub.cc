#include "core/workers/worker_hub.h"

#include <algorithm>
#include <boost/asio/post.hpp>
#include <cassert>
#include <charconv>
#include <cmath>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "spdlog/spdlog.h"

namespace batchd::core {
namespace {

constexpr size_t kMaxNameBytes = 256;
constexpr double kMaxWeight = 1e6;

// Assignment ids are "<batch seq>-<task>-<generation>": the attempt token itself, so fencing
// needs no second map and an id can never name two attempts.
std::optional<AttemptToken> ParseAssignmentId(std::string_view id) {
  AttemptToken token;
  const char* p = id.data();
  const char* end = id.data() + id.size();
  auto field = [&p, end](auto& value, bool last) {
    const auto [next, ec] = std::from_chars(p, end, value);
    if (ec != std::errc() || next == p) return false;
    p = next;
    if (last) return p == end;
    if (p == end || *p != '-') return false;
    ++p;
    return true;
  };
  if (!field(token.batch_seq, false) || !field(token.task, false) ||
      !field(token.generation, true)) {
    return std::nullopt;
  }
  return token;
}

uint32_t ToMillis32(Duration d) {
  return static_cast<uint32_t>(std::chrono::duration_cast<std::chrono::milliseconds>(d).count());
}

}  // namespace

WorkerHub::WorkerHub(Strand strand, const Clock& clock, TimerService& timers,
                     ExecutorRegistry& registry, WorkerHubOptions options)
    : strand_(strand), clock_(clock), timers_(timers), registry_(registry), options_(options) {
  registry_.SetOnDemandFactory(kWorkerExecutorKind, [this](const std::string& name) {
    return std::make_unique<WorkerExecutor>(name, static_cast<WorkerDispatcher&>(*this));
  });
}

WorkerHub::~WorkerHub() { registry_.SetOnDemandFactory({}, nullptr); }

std::string WorkerHub::AssignmentId(const AttemptToken& token) {
  return absl::StrCat(token.batch_seq, "-", token.task, "-", token.generation);
}

void WorkerHub::Register(std::shared_ptr<WorkerConnection> connection,
                         WorkerRegistrationSpec spec) {
  boost::asio::post(strand_, [this, c = std::move(connection), s = std::move(spec)]() mutable {
    RegisterOnStrand(std::move(c), std::move(s));
  });
}

void WorkerHub::Receive(WorkerConnection* connection, WorkerMessage message) {
  boost::asio::post(strand_, [this, connection, m = std::move(message)]() mutable {
    ReceiveOnStrand(connection, std::move(m));
  });
}

void WorkerHub::Disconnect(WorkerConnection* connection, std::string reason,
                           bool closed_by_worker) {
  boost::asio::post(strand_, [this, connection, r = std::move(reason), closed_by_worker] {
    RemoveWorker(connection, r, closed_by_worker);
  });
}

void WorkerHub::CloseAll(absl::Status status) {
  boost::asio::post(strand_, [this, status = std::move(status)] {
    for (const auto& [connection, worker] : workers_) worker->connection->Close(status);
  });
}

void WorkerHub::ListWorkers(absl::AnyInvocable<void(std::vector<WorkerSnapshot>)> done) {
  boost::asio::post(strand_, [this, done = std::move(done)]() mutable { done(Snapshot()); });
}

std::vector<WorkerSnapshot> WorkerHub::Snapshot() const {
  assert(strand_.running_in_this_thread());
  std::vector<const ConnectedWorker*> ordered;
  ordered.reserve(workers_.size());
  for (const auto& [connection, worker] : workers_) ordered.push_back(worker.get());
  std::sort(ordered.begin(), ordered.end(),
            [](const ConnectedWorker* a, const ConnectedWorker* b) { return a->seq < b->seq; });
  std::vector<WorkerSnapshot> out;
  out.reserve(ordered.size());
  for (const ConnectedWorker* w : ordered) {
    WorkerSnapshot& s = out.emplace_back();
    s.id = w->id;
    s.name = w->name;
    s.executors.reserve(w->executors.size());
    for (const std::shared_ptr<WorkerExecutor>& e : w->executors) s.executors.push_back(e->name());
    s.slots = w->slots;
    s.slots_in_use = w->in_flight;
    s.weight = w->weight;
    s.labels = w->labels;
    s.connected_at = w->connected_at;
    s.peer = w->peer;
    s.completed_tasks = w->completed_tasks;
  }
  return out;
}

absl::Status WorkerHub::Validate(WorkerRegistrationSpec& spec,
                                 std::vector<std::shared_ptr<WorkerExecutor>>& executors) {
  if (spec.name.size() > kMaxNameBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("registration.name is longer than ", kMaxNameBytes, " bytes"));
  }
  if (spec.executors.empty()) {
    return absl::InvalidArgumentError("registration.executors must name at least one executor");
  }
  if (spec.slots == 0) {  // unset in the proto: a worker that could never run anything
    return absl::InvalidArgumentError("registration.slots must be at least 1 (got 0)");
  }
  if (spec.slots > options_.max_slots) {
    return absl::InvalidArgumentError(absl::StrCat("registration.slots must be at most ",
                                                   options_.max_slots, " (got ", spec.slots, ")"));
  }
  if (!std::isfinite(spec.weight) || spec.weight < 0 || spec.weight > kMaxWeight) {
    return absl::InvalidArgumentError(absl::StrCat("registration.weight must be between 0 and ",
                                                   kMaxWeight, " (got ", spec.weight, ")"));
  }
  absl::flat_hash_set<std::string> seen;
  for (const std::string& name : spec.executors) {
    if (name.empty() || name.size() > kMaxNameBytes) {
      return absl::InvalidArgumentError(
          absl::StrCat("registration.executors entries must be 1 to ", kMaxNameBytes, " bytes"));
    }
    if (!seen.insert(name).second) continue;
    ExecutorRegistry::Found found = registry_.FindOrCreate(name);
    if (found.executor == nullptr || found.kind != kWorkerExecutorKind) {
      return absl::InvalidArgumentError(absl::StrCat("Executor '", name,
                                                     "' is provided by the daemon (", found.kind,
                                                     "); a worker cannot serve it"));
    }
    executors.push_back(std::static_pointer_cast<WorkerExecutor>(std::move(found.executor)));
  }
  return absl::OkStatus();
}

void WorkerHub::RegisterOnStrand(std::shared_ptr<WorkerConnection> connection,
                                 WorkerRegistrationSpec spec) {
  // A rejected registration lets go of the executors it made, so they are not left listed.
  std::vector<std::shared_ptr<WorkerExecutor>> executors;
  if (absl::Status s = Validate(spec, executors); !s.ok()) {
    spdlog::warn("worker '{}' rejected: {}", spec.name, std::string(s.message()));
    connection->Close(std::move(s));
    return;
  }
  auto worker = std::make_unique<ConnectedWorker>();
  worker->name = spec.name.empty() ? std::string("worker") : spec.name;
  worker->seq = next_worker_seq_++;
  worker->id = absl::StrCat(worker->name, "#", worker->seq);
  worker->peer = std::move(spec.peer);
  worker->connection = connection;
  worker->executors = std::move(executors);
  worker->labels = std::move(spec.labels);
  worker->slots = spec.slots;
  worker->weight = spec.weight == 0 ? 1.0 : spec.weight;
  worker->last_seen = clock_.SteadyNow();
  worker->connected_at = clock_.WallNow();
  ConnectedWorker* w = worker.get();
  workers_[connection.get()] = std::move(worker);
  Deliveries out;
  for (const std::shared_ptr<WorkerExecutor>& e : w->executors) {
    e->AddWorker(w);
    out.changed.push_back(e.get());
  }
  connection->SendRegistered(w->id, ToMillis32(options_.heartbeat_interval));
  spdlog::info("worker {} connected: executors [{}], {} slots, weight {}", w->id,
               absl::StrJoin(spec.executors, ", "), w->slots, w->weight);
  ArmHeartbeatCheck();
  Deliver(out);
}

void WorkerHub::ReceiveOnStrand(WorkerConnection* connection, WorkerMessage message) {
  auto it = workers_.find(connection);
  if (it == workers_.end()) return;  // rejected or already removed
  ConnectedWorker& worker = *it->second;
  worker.last_seen = clock_.SteadyNow();
  Deliveries out;
  for (WorkerOutput& o : message.outputs) HandleOutput(worker, std::move(o), out);
  for (WorkerOutcome& o : message.outcomes) HandleOutcome(worker, std::move(o), out);
  for (const std::string& id : message.cancel_acks) HandleCancelAck(worker, id, out);
  Deliver(out);
}

void WorkerHub::HandleOutcome(ConnectedWorker& worker, WorkerOutcome outcome, Deliveries& out) {
  const std::optional<AttemptToken> token = ParseAssignmentId(outcome.assignment_id);
  auto it = token.has_value() ? assignments_.find(*token) : assignments_.end();
  if (it == assignments_.end() || it->second.worker != &worker) {
    spdlog::info(
        "worker {}: ignoring outcome of assignment '{}': not current (finished, "
        "re-dispatched or unknown)",
        worker.id, outcome.assignment_id);
    return;
  }
  if (it->second.cancelling) {
    // The work ended after its cancel: the slot is free, the outcome belongs to no one.
    spdlog::info("worker {}: ignoring outcome of cancelled assignment '{}'", worker.id,
                 outcome.assignment_id);
    Release(it, out);
    return;
  }
  CompletionSink* sink = it->second.sink;
  Release(it, out);
  ++worker.completed_tasks;
  outcome.outcome.worker_id = worker.id;
  outcome.outcome.worker_lost = false;
  out.outcomes.push_back({sink, {*token, std::move(outcome.outcome)}});
}

void WorkerHub::HandleOutput(ConnectedWorker& worker, WorkerOutput output, Deliveries& out) {
  const std::optional<AttemptToken> token = ParseAssignmentId(output.assignment_id);
  auto it = token.has_value() ? assignments_.find(*token) : assignments_.end();
  if (it == assignments_.end() || it->second.worker != &worker || it->second.cancelling) {
    // Sent just before the assignment ended (or was cancelled) on the daemon's side: a race,
    // not a protocol error; dropped.
    spdlog::debug("worker {}: dropping output of assignment '{}': not running", worker.id,
                  output.assignment_id);
    return;
  }
  out.outputs.push_back({it->second.sink, {*token, std::move(output.data)}});
}

void WorkerHub::HandleCancelAck(ConnectedWorker& worker, const std::string& assignment_id,
                                Deliveries& out) {
  const std::optional<AttemptToken> token = ParseAssignmentId(assignment_id);
  auto it = token.has_value() ? assignments_.find(*token) : assignments_.end();
  if (it == assignments_.end() || it->second.worker != &worker || !it->second.cancelling) return;
  Release(it, out);
}

void WorkerHub::Release(absl::flat_hash_map<AttemptToken, Assignment>::iterator it,
                        Deliveries& out) {
  ConnectedWorker& worker = *it->second.worker;
  if (it->second.grace_timer != kNoTimer) timers_.Cancel(it->second.grace_timer);
  assignments_.erase(it);
  --worker.in_flight;
  for (const std::shared_ptr<WorkerExecutor>& e : worker.executors) out.changed.push_back(e.get());
}

void WorkerHub::Dispatch(ConnectedWorker& worker, const ExecutionRequest& request,
                         CompletionSink& sink) {
  assignments_[request.token] = Assignment{&worker, &sink, false, kNoTimer};
  ++worker.in_flight;
  WorkerAssignment a;
  a.assignment_id = AssignmentId(request.token);
  a.batch_id = std::string(request.batch_id);
  a.task_id = std::string(request.task_id);
  a.executor = std::string(request.executor);
  a.input = request.input;
  a.priority = request.priority;
  a.attempt = request.attempt;
  a.timeout_ms = request.timeout_ms;
  a.deadline = clock_.WallNow() + (request.deadline - clock_.SteadyNow());
  if (request.dependencies != nullptr) {
    const TaskDependencies& deps = *request.dependencies;
    a.dependencies.reserve(deps.size());
    for (size_t i = 0; i < deps.size(); ++i) {
      a.dependencies.emplace_back(deps.id(i));
      if (const boost::json::value* output = deps.output(i); output != nullptr) {
        a.dependency_outputs.emplace_back(std::string(deps.id(i)), *output);
      }
    }
  }
  worker.connection->SendAssignment(std::move(a));
}

void WorkerHub::CancelAttempt(const AttemptToken& token, std::string_view reason) {
  auto it = assignments_.find(token);
  if (it == assignments_.end() || it->second.cancelling) return;
  Assignment& a = it->second;
  a.cancelling = true;
  a.grace_timer = timers_.ScheduleAt(clock_.SteadyNow() + options_.cancel_grace,
                                     [this, token] { OnCancelGraceOver(token); });
  a.worker->connection->SendCancel(AssignmentId(token), std::string(reason));
}

void WorkerHub::OnCancelGraceOver(const AttemptToken& token) {
  auto it = assignments_.find(token);
  if (it == assignments_.end()) return;
  it->second.grace_timer = kNoTimer;
  spdlog::warn(
      "worker {} did not acknowledge the cancel of assignment '{}' within {} ms; "
      "its slot is free again",
      it->second.worker->id, AssignmentId(token), ToMillis32(options_.cancel_grace));
  Deliveries out;
  Release(it, out);
  Deliver(out);
}

void WorkerHub::RemoveWorker(WorkerConnection* connection, const std::string& reason,
                             bool closed_by_worker) {
  auto wit = workers_.find(connection);
  if (wit == workers_.end()) return;
  std::unique_ptr<ConnectedWorker> worker = std::move(wit->second);
  workers_.erase(wit);
  // A worker leaving by itself with nothing in flight is how workers stop: no operator action.
  if (closed_by_worker && worker->in_flight == 0) {
    spdlog::info("worker {} left: {}", worker->id, reason);
  } else {
    spdlog::warn("worker {} gone: {}", worker->id, reason);
  }
  // `worker` keeps its executors alive until the end: the scheduler learns of the lost capacity
  // first, and an executor no batch holds is forgotten only once nothing can reach it.
  Deliveries out;
  for (const std::shared_ptr<WorkerExecutor>& e : worker->executors) {
    e->RemoveWorker(worker.get());
    out.changed.push_back(e.get());
  }
  // Rare (a worker leaving), so a scan of every assignment beats a per-worker index on the
  // dispatch path.
  const std::string error = absl::StrCat("Worker ", worker->id, " lost: ", reason);
  for (auto it = assignments_.begin(); it != assignments_.end();) {
    auto current = it++;
    if (current->second.worker != worker.get()) continue;
    if (current->second.grace_timer != kNoTimer) timers_.Cancel(current->second.grace_timer);
    if (!current->second.cancelling) {
      ExecutionOutcome lost = ExecutionOutcome::Failure(error);
      lost.worker_lost = true;
      lost.worker_id = worker->id;
      out.outcomes.push_back({current->second.sink, {current->first, std::move(lost)}});
    }
    assignments_.erase(current);
  }
  Deliver(out);
}

void WorkerHub::ArmHeartbeatCheck() {
  if (heartbeat_timer_ != kNoTimer || workers_.empty()) return;
  heartbeat_timer_ = timers_.ScheduleAt(clock_.SteadyNow() + options_.heartbeat_interval, [this] {
    heartbeat_timer_ = kNoTimer;
    CheckHeartbeats();
    ArmHeartbeatCheck();
  });
}

void WorkerHub::CheckHeartbeats() {
  const SteadyTime now = clock_.SteadyNow();
  const Duration limit = options_.heartbeat_interval * options_.missed_heartbeats;
  std::vector<WorkerConnection*> silent;
  for (const auto& [connection, worker] : workers_) {
    if (now - worker->last_seen >= limit) silent.push_back(connection);
  }
  // Detach them all before any of their tasks is re-dispatched: a task lost with one must not
  // go to another dropped in this same sweep (each loss counts towards kMaxWorkerLosses).
  for (WorkerConnection* connection : silent) {
    ConnectedWorker* gone = workers_[connection].get();
    for (const std::shared_ptr<WorkerExecutor>& e : gone->executors) e->RemoveWorker(gone);
  }
  for (WorkerConnection* connection : silent) {
    const std::string reason =
        absl::StrCat("no heartbeat for ", ToMillis32(now - workers_[connection]->last_seen), " ms");
    std::shared_ptr<WorkerConnection> keep = workers_[connection]->connection;
    RemoveWorker(connection, reason);
    keep->Close(absl::UnavailableError(absl::StrCat("Worker dropped: ", reason)));
  }
}

void WorkerHub::Deliver(Deliveries& out) {
  for (auto& [sink, chunk] : out.outputs) sink->Output(chunk.first, std::move(chunk.second));
  for (auto& [sink, report] : out.outcomes) sink->Complete(report.first, std::move(report.second));
  if (listener_ == nullptr) return;
  std::sort(out.changed.begin(), out.changed.end());
  out.changed.erase(std::unique(out.changed.begin(), out.changed.end()), out.changed.end());
  for (WorkerExecutor* e : out.changed) listener_->OnCapacityChanged(*e);
}

}  // namespace batchd::core
