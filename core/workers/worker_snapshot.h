// A connected worker as WorkerService.ListWorkers reports it: a plain value the WorkerHub copies
// on its strand, safe to read anywhere afterwards.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/time/clock.h"

namespace batchd::core {

struct WorkerSnapshot {
  std::string id;
  std::string name;
  std::vector<std::string> executors;  // as registered, duplicates dropped
  uint32_t slots = 0;
  uint32_t slots_in_use = 0;  // running assignments, and cancelled ones not yet acknowledged
  double weight = 1;
  std::map<std::string, std::string> labels;
  WallTime connected_at{};
  std::string peer;
  // Outcomes it reported that ended one of its assignments (stale ones and those arriving
  // after a cancel are not counted).
  uint64_t completed_tasks = 0;
};

}  // namespace batchd::core
