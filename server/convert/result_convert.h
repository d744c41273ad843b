// Conversions of what batches produce (results, summaries, progress, states) from core values
// to batchd.v1 messages. Free functions; thread-safe.
#pragma once

#include <string_view>
#include <vector>

#include "batchd/v1/batch.pb.h"
#include "core/model/task_result.h"

namespace batchd::server {

void WallToProto(core::WallTime t, google::protobuf::Timestamp* out);
v1::TaskState TaskStateToProto(core::TaskState state);
v1::BatchState BatchStateToProto(core::BatchState state);
void TaskResultToProto(const core::TaskResult& result, v1::TaskResult* out);
// With `include_results` false only the counters and state are set.
void BatchSummaryToProto(const core::BatchSummary& summary, bool include_results,
                         v1::BatchSummary* out);
void BatchProgressToProto(const core::BatchProgress& progress, v1::BatchProgress* out);
void LayerIdsToProto(const std::vector<std::vector<std::string_view>>& layers,
                     google::protobuf::RepeatedPtrField<v1::Layer>* out);

}  // namespace batchd::server
