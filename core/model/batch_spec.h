// What a client asks batchd to run: tasks, their policies and the batch's options, as plain
// values with the daemon's defaults applied. Built by server/ from batchd.v1 messages.
// Value types; no thread-safety concerns of their own.
#pragma once

#include <boost/json/value.hpp>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace batchd::core {

enum class RetryKind : uint8_t { kNone, kFixed, kLinear, kExponential };
enum class Jitter : uint8_t { kNone, kFull, kEqual };
enum class Aggregation : uint8_t { kOrdered, kUnordered, kStreaming, kPriority };
enum class LoadBalancerKind : uint8_t { kRoundRobin, kLeastLoaded, kWeighted, kRandom };
enum class DependencyFailure : uint8_t { kSkipDependents, kRunDependents, kCancelBatch };

inline constexpr RetryKind kDefaultRetryKind = RetryKind::kExponential;
inline constexpr Jitter kDefaultJitter = Jitter::kNone;
inline constexpr Aggregation kDefaultAggregation = Aggregation::kUnordered;
inline constexpr LoadBalancerKind kDefaultLoadBalancer = LoadBalancerKind::kLeastLoaded;
inline constexpr DependencyFailure kDefaultDependencyFailure = DependencyFailure::kSkipDependents;
inline constexpr uint32_t kDefaultMaxConcurrent = 10;
inline constexpr uint32_t kDefaultTimeoutMs = 30000;
inline constexpr const char* kDefaultExecutor = "echo";

// Optional fields are those whose absence means "the default" (and whose explicit zero may be
// meaningful or invalid); defaults are resolved by ResolveRetryPolicy and the scheduler.
struct RetryPolicySpec {
  RetryKind kind = kDefaultRetryKind;
  std::optional<uint32_t> max_retries;
  std::optional<uint32_t> initial_delay_ms;
  std::optional<uint32_t> increment_ms;
  std::optional<double> multiplier;
  uint32_t max_delay_ms = 0;  // 0 = no cap
  Jitter jitter = kDefaultJitter;
  bool retry_on_timeout = false;
};

// What a task uses of a shared limit (core/limits): one in-flight slot of the key, `units` of
// each of its units rates (tokens, bytes, ...) and one of each requests rate.
struct LimitUse {
  std::string key;
  int64_t units = 1;

  bool operator==(const LimitUse&) const = default;
};

// Asks for the task's successful result to be cached (core/cache) and looked up before it runs.
inline constexpr uint32_t kMaxCacheTtlMs = 30u * 24 * 3600 * 1000;  // 30 days
inline constexpr size_t kMaxCacheKeyBytes = 1024;                   // a client key or namespace
struct CacheSpec {
  uint32_t ttl_ms = 0;  // 1 .. kMaxCacheTtlMs
  // The client's own key; empty: a digest of the executor, the input after its references were
  // substituted, and the dependency outputs a callback worker receives.
  std::string key{};
  std::string name_space{};  // keys are looked up within it
  bool skip_lookup = false;  // run anyway and refresh the entry

  bool operator==(const CacheSpec&) const = default;
};

struct TaskSpec {
  std::string id;
  std::string executor = kDefaultExecutor;
  boost::json::value input;
  double priority = 0.0;
  uint32_t timeout_ms = 0;  // 0 = the batch's timeout
  std::vector<std::string> dependencies;
  std::optional<RetryPolicySpec> retry_policy;  // overrides the batch's when set
  // Added to the batch's default_limits; a key in both takes the task's units.
  std::vector<LimitUse> limits{};
  // Overrides the batch's default_cache (as a whole) when set.
  std::optional<CacheSpec> cache{};
};

struct BatchOptions {
  std::optional<uint32_t> max_concurrent;  // unset = kDefaultMaxConcurrent; 0 is invalid
  std::optional<uint32_t> timeout_ms;      // unset = kDefaultTimeoutMs
  RetryPolicySpec retry_policy;
  Aggregation aggregation = kDefaultAggregation;
  LoadBalancerKind load_balancer = kDefaultLoadBalancer;
  DependencyFailure on_dependency_failure = kDefaultDependencyFailure;
  // Accept executor names nothing serves yet: callback workers for them will connect. Their
  // tasks wait PENDING up to their timeout.
  bool wait_for_workers = false;
  // Limits every task uses (see TaskSpec::limits).
  std::vector<LimitUse> default_limits{};
  // A key no limit is configured for is unlimited instead of refused at submit.
  bool allow_unknown_limits = false;
  // How long a ready task may wait for its limits before it ends TIMED_OUT; unset: for ever
  // (only running time counts against timeout_ms).
  std::optional<uint32_t> queue_timeout_ms{};
  // Caching for every task that does not set its own.
  std::optional<CacheSpec> default_cache{};
  // Open: the batch stays unfinished once its tasks are final (AddTasks may add more) until it is
  // closed, or its tasks have all been final for close_after_idle_ms with nothing added.
  bool open = false;
  std::optional<uint32_t> close_after_idle_ms{};
};

struct BatchSpec {
  std::string request_id;
  std::vector<TaskSpec> tasks;
  BatchOptions options;
  std::map<std::string, std::string> labels;
};

}  // namespace batchd::core
