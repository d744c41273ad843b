#include "client/format/listing_format.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace batchd::client {
namespace {

namespace v1 = batchd::v1;

constexpr int64_t kMay1Noon2024 = 1714564800;

v1::BatchProgress Progress(v1::BatchState state, uint32_t total, uint32_t completed) {
  v1::BatchProgress progress;
  progress.set_state(state);
  progress.set_total_tasks(total);
  progress.set_completed_tasks(completed);
  return progress;
}

TEST(FormatExecutorTableTest, ShowsUnboundedCapacityAsDash) {
  v1::ListExecutorsResponse response;
  const auto add = [&](const char* name, const char* kind, uint32_t workers, uint32_t capacity) {
    v1::ExecutorInfo* executor = response.add_executors();
    executor->set_name(name);
    executor->set_kind(kind);
    executor->set_workers(workers);
    executor->set_capacity(capacity);
  };
  add("echo", "builtin", 0, 0);
  add("sleep", "builtin", 0, 8);
  add("gpu", "worker", 2, 4);
  EXPECT_EQ(FormatExecutorTable(response),
            "NAME   KIND     WORKERS  CAPACITY\n"
            "echo   builtin        0         -\n"
            "sleep  builtin        0         8\n"
            "gpu    worker         2         4\n");
}

TEST(FormatBatchListTest, ShowsDoneAndCreated) {
  v1::ListBatchesResponse response;
  v1::BatchProgress* running = response.add_batches();
  *running = Progress(v1::BATCH_STATE_RUNNING, 4, 3);
  running->set_batch_id("b2");
  running->mutable_created_at()->set_seconds(kMay1Noon2024);
  v1::BatchProgress* done = response.add_batches();
  *done = Progress(v1::BATCH_STATE_SUCCEEDED, 12, 12);
  done->set_batch_id("b1");
  EXPECT_EQ(FormatBatchList(response),
            "ID  STATE       DONE  CREATED\n"
            "b2  RUNNING      3/4  2024-05-01T12:00:00Z\n"
            "b1  SUCCEEDED  12/12  -\n");
}

TEST(FormatTaskListTest, ShowsWhyTasksWaitOrTheirError) {
  v1::ListTasksResponse response;
  v1::TaskStatus* a = response.add_tasks();
  a->set_task_id("a");
  a->set_state(v1::TASK_STATE_RETRY_WAIT);
  a->set_retry_count(1);
  a->set_error("HTTP 502");
  a->set_waiting_reason("retrying in 1.2 s");
  v1::TaskStatus* b = response.add_tasks();
  b->set_task_id("b");
  b->set_state(v1::TASK_STATE_FAILED);
  b->set_layer(1);
  b->set_worker_id("w-1");
  b->set_error("boom");
  EXPECT_EQ(FormatTaskList(response),
            "TASK  STATE       LAYER  RETRIES  WORKER  DETAIL\n"
            "a     RETRY_WAIT      0        1          retrying in 1.2 s\n"
            "b     FAILED          1        0  w-1     boom\n");
}

TEST(FormatNextPageTest, SaysHowToGetTheNextPage) {
  EXPECT_EQ(FormatNextPage(2, 5, ""), "");
  EXPECT_EQ(FormatNextPage(2, 5, "QUJD"), "(2 of 5; next page: --page-token QUJD)\n");
}

TEST(FormatExecutionOrderTest, PrintsLayersAndCriticalPath) {
  v1::ResolveExecutionOrderResponse response;
  response.add_layers()->add_task_ids("a");
  v1::Layer* middle = response.add_layers();
  middle->add_task_ids("b");
  middle->add_task_ids("c");
  response.add_layers()->add_task_ids("d");
  for (const char* id : {"a", "b", "d"}) response.add_critical_path(id);
  EXPECT_EQ(FormatExecutionOrder(response),
            "layer 0: a\nlayer 1: b c\nlayer 2: d\ncritical path: a -> b -> d\n");
  EXPECT_EQ(FormatExecutionOrder({}), "critical path: (none)\n");
}

TEST(FormatCriticalPathTest, AbbreviatesLongPaths) {
  google::protobuf::RepeatedPtrField<std::string> path;
  for (int i = 0; i < 100; ++i) *path.Add() = absl::StrCat("t", i);
  const std::string text = FormatCriticalPath(path);
  EXPECT_TRUE(absl::StartsWith(text, "t0 -> t1 -> ")) << text;
  EXPECT_THAT(text, ::testing::HasSubstr("t19 -> ... (70 more) -> t90 -> "));
  EXPECT_TRUE(absl::EndsWith(text, "t98 -> t99")) << text;
}

}  // namespace
}  // namespace batchd::client
