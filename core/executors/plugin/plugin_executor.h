// Executors from plugins: shared objects implementing core/executors/plugin/batchd_plugin.h, loaded
// with dlopen at startup. Blocking plugin code runs on each plugin's bounded thread pool, never on
// the scheduler's strand. Start/Cancel run on the strand; loading runs on the main thread.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/executors/executor.h"
#include "core/executors/executor_environment.h"
#include "core/executors/plugin/batchd_plugin.h"

namespace batchd::core {

// One loaded plugin: its library handle, descriptor, context, thread pool and the attempts it
// has not completed yet. Shared by the plugin's executors; the last one to go stops the pool,
// calls the plugin's shutdown and unloads it.
class PluginLibrary final : public std::enable_shared_from_this<PluginLibrary> {
 public:
  using Strand = boost::asio::strand<boost::asio::io_context::executor_type>;

  // Loads `path` (RTLD_NOW | RTLD_LOCAL), checks its descriptor and calls its init.
  // INVALID_ARGUMENT naming the file when it cannot be loaded, lacks batchd_plugin_entry, has
  // another ABI version or an unusable descriptor; FAILED_PRECONDITION when init fails.
  static absl::StatusOr<std::shared_ptr<PluginLibrary>> Load(const std::string& path,
                                                             uint32_t threads, Strand strand);
  ~PluginLibrary();
  PluginLibrary(const PluginLibrary&) = delete;
  PluginLibrary& operator=(const PluginLibrary&) = delete;

  const std::string& path() const { return path_; }
  const std::string& name() const { return name_; }
  const std::vector<std::string>& executors() const { return executors_; }
  uint32_t threads() const { return threads_; }

  // On the strand. `executor` is one of executors().
  void Start(const std::string& executor, const ExecutionRequest& request, CompletionSink& sink);
  void Cancel(const AttemptToken& token);

 private:
  struct Call;

  PluginLibrary(std::string path, void* handle, uint32_t threads, Strand strand);
  absl::Status ReadDescriptor(const batchd_plugin_v1* descriptor);
  void Execute(const std::shared_ptr<Call>& call);
  void Finish(const AttemptToken& token, ExecutionOutcome outcome);  // on the strand
  static void CompleteThunk(batchd_completion* self, int success, const char* text, size_t len,
                            int non_retryable);
  static int IsCancelledThunk(const batchd_completion* self);
  static void OutputThunk(batchd_completion* self, const char* text, size_t len);
  void DeliverOutput(const AttemptToken& token, std::string chunk);  // on the strand

  const std::string path_;
  void* const handle_;
  const uint32_t threads_;
  Strand strand_;
  const batchd_plugin_v1* descriptor_ = nullptr;
  void* plugin_ctx_ = nullptr;
  bool initialized_ = false;
  std::string name_;
  std::vector<std::string> executors_;
  // Attempts started and not completed, on the strand only. A call stays here after Cancel
  // until the plugin completes it, because the plugin may still hold its completion.
  absl::flat_hash_map<AttemptToken, std::shared_ptr<Call>> calls_;
  // Last member: destroyed (after join, in the destructor) before anything its tasks use.
  std::unique_ptr<boost::asio::thread_pool> pool_;
};

// One executor name of a plugin, as the registry holds it.
class PluginExecutor final : public Executor {
 public:
  PluginExecutor(std::shared_ptr<PluginLibrary> library, std::string executor)
      : library_(std::move(library)), executor_(std::move(executor)) {}
  void Start(const ExecutionRequest& request, CompletionSink& sink) override {
    library_->Start(executor_, request, sink);
  }
  void Cancel(const AttemptToken& token) override { library_->Cancel(token); }

 private:
  std::shared_ptr<PluginLibrary> library_;
  const std::string executor_;
};

// Loads every plugin in `paths` (each with its own pool of `threads` threads) and registers
// their executors (kind "plugin", capacity `threads`). Nothing is registered unless all load;
// ALREADY_EXISTS naming both providers when an executor name is taken.
absl::Status RegisterPlugins(const std::vector<std::string>& paths, uint32_t threads,
                             ExecutorEnvironment& environment);

}  // namespace batchd::core
