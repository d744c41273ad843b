// Run-time limit changes as journal records (core/journal/journal.h's LimitRecord), and the
// limits a restarted daemon runs with: the limits file's, overridden by what was changed at run
// time. Pure functions; safe from any thread.
#pragma once

#include <string>
#include <vector>

#include "core/journal/journal.h"
#include "core/limits/limit_spec.h"

namespace batchd::core {

// The record of setting `spec` (its LimitSpecToJson, serialized) and of deleting `key` (a
// tombstone: an empty spec).
LimitRecord LimitSetRecord(const LimitSpec& spec);
LimitRecord LimitDeletedRecord(std::string key);

// The file's limits with the records applied in order: a set replaces the file's limit of its
// key where it stands or is added after the file's; a tombstone removes the key. A record that
// does not decode (or names another key than its own) is ignored, leaving the file's limit of
// its key in place, and adds a message naming the key to `problems` (when not null).
std::vector<LimitSpec> ApplyLimitRecords(std::vector<LimitSpec> from_file,
                                         const std::vector<LimitRecord>& records,
                                         std::vector<std::string>* problems);

}  // namespace batchd::core
