// An in-process gRPC server with a scripted BatchService, LimitService and Health, for tests of
// clients: every call answers what the test put in the script and is recorded (method, request,
// deadline) in a CallLog. Thread-safe: the script is edited under a lock (script() holds it for the
// full expression, or for as long as the test keeps the handle) that the handlers take too, so
// ThreadSanitizer sees the test's edits happen before the calls that read them. Header-only; link
// gRPC and the generated batchd protos.
#pragma once

#include <grpcpp/server.h>
#include <grpcpp/server_builder.h>
#include <grpcpp/support/server_callback.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "batchd/v1/batch_service.grpc.pb.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "tests/testing/call_log.h"
#include "tests/testing/fake_limit_service.h"

namespace batchd::testing {

class FakeBatchService final : public batchd::v1::BatchService::CallbackService {
 public:
  explicit FakeBatchService(CallLog& log) : log_(log) {}

  struct Script {
    grpc::Status status;  // ends every call (streams after their messages)
    bool hang = false;    // unary calls are answered only once the client cancels them
    batchd::v1::SubmitBatchResponse submit;
    batchd::v1::ProcessBatchResponse process;
    batchd::v1::GetProgressResponse progress;
    batchd::v1::GetBatchResponse batch;
    batchd::v1::ListBatchesResponse list;
    batchd::v1::ListTasksResponse tasks;
    batchd::v1::CancelBatchResponse cancel;
    batchd::v1::AddTasksResponse add;
    batchd::v1::ResolveExecutionOrderResponse resolve;
    batchd::v1::ListExecutorsResponse executors;
    std::vector<batchd::v1::WatchProgressResponse> watch;
    std::vector<batchd::v1::StreamResultsResponse> results;
  };
  // The script, locked while the handle lives: `fake.script()->status = ...;`.
  class LockedScript {
   public:
    LockedScript(absl::Mutex& mu, Script& script) ABSL_EXCLUSIVE_LOCK_FUNCTION(mu)
        : lock_(&mu), script_(script) {}
    Script* operator->() { return &script_; }
    Script& operator*() { return script_; }

   private:
    absl::MutexLock lock_;
    Script& script_;
  };
  LockedScript script() ABSL_NO_THREAD_SAFETY_ANALYSIS { return LockedScript(script_mu_, script_); }

  grpc::ServerUnaryReactor* SubmitBatch(grpc::CallbackServerContext* c,
                                        const batchd::v1::SubmitBatchRequest* request,
                                        batchd::v1::SubmitBatchResponse* response) override {
    return Answer(c, "SubmitBatch", *request, &Script::submit, response);
  }
  grpc::ServerUnaryReactor* ProcessBatch(grpc::CallbackServerContext* c,
                                         const batchd::v1::ProcessBatchRequest* request,
                                         batchd::v1::ProcessBatchResponse* response) override {
    return Answer(c, "ProcessBatch", *request, &Script::process, response);
  }
  grpc::ServerUnaryReactor* GetProgress(grpc::CallbackServerContext* c,
                                        const batchd::v1::GetProgressRequest* request,
                                        batchd::v1::GetProgressResponse* response) override {
    return Answer(c, "GetProgress", *request, &Script::progress, response);
  }
  grpc::ServerUnaryReactor* GetBatch(grpc::CallbackServerContext* c,
                                     const batchd::v1::GetBatchRequest* request,
                                     batchd::v1::GetBatchResponse* response) override {
    return Answer(c, "GetBatch", *request, &Script::batch, response);
  }
  grpc::ServerUnaryReactor* ListBatches(grpc::CallbackServerContext* c,
                                        const batchd::v1::ListBatchesRequest* request,
                                        batchd::v1::ListBatchesResponse* response) override {
    return Answer(c, "ListBatches", *request, &Script::list, response);
  }
  grpc::ServerUnaryReactor* ListTasks(grpc::CallbackServerContext* c,
                                      const batchd::v1::ListTasksRequest* request,
                                      batchd::v1::ListTasksResponse* response) override {
    return Answer(c, "ListTasks", *request, &Script::tasks, response);
  }
  grpc::ServerUnaryReactor* CancelBatch(grpc::CallbackServerContext* c,
                                        const batchd::v1::CancelBatchRequest* request,
                                        batchd::v1::CancelBatchResponse* response) override {
    return Answer(c, "CancelBatch", *request, &Script::cancel, response);
  }
  grpc::ServerUnaryReactor* AddTasks(grpc::CallbackServerContext* c,
                                     const batchd::v1::AddTasksRequest* request,
                                     batchd::v1::AddTasksResponse* response) override {
    return Answer(c, "AddTasks", *request, &Script::add, response);
  }
  grpc::ServerUnaryReactor* ResolveExecutionOrder(
      grpc::CallbackServerContext* c, const batchd::v1::ResolveExecutionOrderRequest* request,
      batchd::v1::ResolveExecutionOrderResponse* response) override {
    return Answer(c, "ResolveExecutionOrder", *request, &Script::resolve, response);
  }
  grpc::ServerUnaryReactor* ListExecutors(grpc::CallbackServerContext* c,
                                          const batchd::v1::ListExecutorsRequest* request,
                                          batchd::v1::ListExecutorsResponse* response) override {
    return Answer(c, "ListExecutors", *request, &Script::executors, response);
  }
  grpc::ServerWriteReactor<batchd::v1::WatchProgressResponse>* WatchProgress(
      grpc::CallbackServerContext* c, const batchd::v1::WatchProgressRequest* request) override {
    log_.Record("WatchProgress", *request, *c);
    absl::MutexLock lock(&script_mu_);
    return new Writer<batchd::v1::WatchProgressResponse>(script_.watch, script_.status);
  }
  grpc::ServerWriteReactor<batchd::v1::StreamResultsResponse>* StreamResults(
      grpc::CallbackServerContext* c, const batchd::v1::StreamResultsRequest* request) override {
    log_.Record("StreamResults", *request, *c);
    absl::MutexLock lock(&script_mu_);
    return new Writer<batchd::v1::StreamResultsResponse>(script_.results, script_.status);
  }

 private:
  // Writes `messages`, then finishes with `status`.
  template <typename Message>
  class Writer final : public grpc::ServerWriteReactor<Message> {
   public:
    Writer(std::vector<Message> messages, grpc::Status status)
        : messages_(std::move(messages)), status_(std::move(status)) {
      Next();
    }
    void OnWriteDone(bool ok) override {
      if (!ok) return this->Finish(grpc::Status(grpc::StatusCode::CANCELLED, "write failed"));
      Next();
    }
    void OnDone() override { delete this; }

   private:
    void Next() {
      if (next_ == messages_.size()) return this->Finish(status_);
      this->StartWrite(&messages_[next_++]);
    }
    std::vector<Message> messages_;
    const grpc::Status status_;
    size_t next_ = 0;
  };

  // Finishes when the client cancels (its deadline passes) or the server shuts down.
  class Unanswered final : public grpc::ServerUnaryReactor {
   public:
    void OnCancel() override { Finish(grpc::Status::CANCELLED); }
    void OnDone() override { delete this; }
  };

  template <typename Request, typename Response>
  grpc::ServerUnaryReactor* Answer(grpc::CallbackServerContext* c, const std::string& method,
                                   const Request& request, const Response Script::*scripted,
                                   Response* response) {
    log_.Record(method, request, *c);
    grpc::Status status;
    {
      absl::MutexLock lock(&script_mu_);
      if (script_.hang) return new Unanswered();
      status = script_.status;
      if (status.ok()) *response = script_.*scripted;
    }
    grpc::ServerUnaryReactor* reactor = c->DefaultReactor();
    reactor->Finish(status);
    return reactor;
  }

  absl::Mutex script_mu_;
  Script script_ ABSL_GUARDED_BY(script_mu_);
  CallLog& log_;
};

class FakeHealthService final : public grpc::health::v1::Health::CallbackService {
 public:
  explicit FakeHealthService(CallLog& log) : log_(log) {}

  std::atomic<grpc::health::v1::HealthCheckResponse::ServingStatus> serving{
      grpc::health::v1::HealthCheckResponse::SERVING};

  grpc::ServerUnaryReactor* Check(grpc::CallbackServerContext* c,
                                  const grpc::health::v1::HealthCheckRequest* request,
                                  grpc::health::v1::HealthCheckResponse* response) override {
    log_.Record("Check", *request, *c);
    response->set_status(serving.load());
    grpc::ServerUnaryReactor* reactor = c->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }

 private:
  CallLog& log_;
};

// The services on an in-process server; channel() reaches them.
class FakeBatchServer {
 public:
  FakeBatchServer() {
    grpc::ServerBuilder builder;
    builder.RegisterService(&batch);
    builder.RegisterService(&health);
    builder.RegisterService(&limits);
    server_ = builder.BuildAndStart();
  }
  ~FakeBatchServer() {
    server_->Shutdown();
    server_->Wait();
  }
  FakeBatchServer(const FakeBatchServer&) = delete;
  FakeBatchServer& operator=(const FakeBatchServer&) = delete;

  std::shared_ptr<grpc::Channel> channel() {
    return server_->InProcessChannel(grpc::ChannelArguments());
  }

  CallLog log;  // of every service
  FakeBatchService batch{log};
  FakeHealthService health{log};
  FakeLimitService limits{log};

 private:
  std::unique_ptr<grpc::Server> server_;
};

}  // namespace batchd::testing
