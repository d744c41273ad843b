#include "core/executors/plugin/plugin_executor.h"

#include <dlfcn.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <boost/asio/post.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cassert>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/base/status_macros.h"

namespace batchd::core {

// One attempt handed to the plugin. `completion` is what the plugin holds; its batchd_data
// points back here. Owned by PluginLibrary::calls_ (and, while queued or executing, by the
// pool's task), so it outlives the plugin's use of the completion.
struct PluginLibrary::Call {
  batchd_completion completion{};
  std::weak_ptr<PluginLibrary> library;
  Strand strand;
  AttemptToken token;
  const std::string* plugin_name = nullptr;  // the library outlives every complete() call
  const std::string* executor = nullptr;
  std::string input;  // JSON text, NUL-terminated by std::string
  uint32_t attempt = 0;
  CompletionSink* sink = nullptr;
  std::atomic<bool> cancelled{false};
  // Decides, between a pool thread about to execute and Cancel on the strand, whether the
  // plugin ever sees the attempt: only then is its cancel called.
  enum Phase : uint8_t { kQueued, kExecuting, kDroppedBeforeExecute };
  std::atomic<Phase> phase{kQueued};

  explicit Call(Strand s) : strand(std::move(s)) {}
};

namespace {

std::string DlError(const char* fallback) {
  const char* error = dlerror();
  return error != nullptr ? error : fallback;
}

}  // namespace

absl::StatusOr<std::shared_ptr<PluginLibrary>> PluginLibrary::Load(const std::string& path,
                                                                   uint32_t threads,
                                                                   Strand strand) {
  dlerror();  // clear any stale error so the messages below are this call's
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("plugin ", path, ": cannot load (dlopen: ", DlError("unknown error"), ")"));
  }
  // From here the destructor unloads the library on every error path.
  std::shared_ptr<PluginLibrary> library(
      new PluginLibrary(path, handle, threads, std::move(strand)));
  dlerror();
  void* symbol = dlsym(handle, BATCHD_PLUGIN_ENTRY_SYMBOL);
  if (symbol == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("plugin ", path, ": missing symbol ", BATCHD_PLUGIN_ENTRY_SYMBOL,
                     " (dlsym: ", DlError("the symbol is NULL"), ")"));
  }
  // POSIX guarantees a dlsym result converts to a function pointer; memcpy says so portably.
  batchd_plugin_entry_fn entry = nullptr;
  static_assert(sizeof(entry) == sizeof(symbol));
  std::memcpy(&entry, &symbol, sizeof(entry));
  RETURN_IF_ERROR(library->ReadDescriptor(entry()));

  const batchd_plugin_v1& d = *library->descriptor_;
  if (d.init != nullptr) {
    int rc = d.init("", &library->plugin_ctx_);
    if (rc != 0) {
      return absl::FailedPreconditionError(
          absl::StrCat("plugin ", path, ": init failed (returned ", rc, ")"));
    }
  }
  library->initialized_ = true;
  library->pool_ = std::make_unique<boost::asio::thread_pool>(threads);
  return library;
}

PluginLibrary::PluginLibrary(std::string path, void* handle, uint32_t threads, Strand strand)
    : path_(std::move(path)), handle_(handle), threads_(threads), strand_(std::move(strand)) {}

PluginLibrary::~PluginLibrary() {
  if (pool_ != nullptr) {
    // Attempts still queued are dropped: the daemon is stopping. Running ones finish first,
    // because the plugin's shutdown may only run once no execute call is in progress.
    pool_->stop();
    pool_->join();
  }
  if (initialized_ && descriptor_->shutdown != nullptr) descriptor_->shutdown(plugin_ctx_);
  calls_.clear();
  dlclose(handle_);
}

absl::Status PluginLibrary::ReadDescriptor(const batchd_plugin_v1* descriptor) {
  auto invalid = [this](auto&&... parts) {
    return absl::InvalidArgumentError(absl::StrCat("plugin ", path_, ": ", parts...));
  };
  if (descriptor == nullptr) return invalid(BATCHD_PLUGIN_ENTRY_SYMBOL, "() returned NULL");
  // Only abi_version is read before it is checked: other versions may lay out the rest
  // differently.
  if (descriptor->abi_version != BATCHD_PLUGIN_ABI_VERSION) {
    return invalid("ABI version ", descriptor->abi_version, ", this batchd supports ",
                   BATCHD_PLUGIN_ABI_VERSION);
  }
  if (descriptor->name == nullptr || descriptor->name[0] == '\0') {
    return invalid("descriptor has no name");
  }
  if (descriptor->execute == nullptr) return invalid("descriptor has no execute function");
  if (descriptor->executors == nullptr || descriptor->executors[0] == nullptr) {
    return invalid("provides no executors");
  }
  for (const char* const* e = descriptor->executors; *e != nullptr; ++e) {
    std::string executor = *e;
    if (executor.empty()) return invalid("an executor name is empty");
    for (const std::string& seen : executors_) {
      if (seen == executor) return invalid("lists executor '", executor, "' twice");
    }
    executors_.push_back(std::move(executor));
  }
  descriptor_ = descriptor;
  name_ = descriptor->name;
  return absl::OkStatus();
}

void PluginLibrary::Start(const std::string& executor, const ExecutionRequest& request,
                          CompletionSink& sink) {
  assert(strand_.running_in_this_thread());
  auto call = std::make_shared<Call>(strand_);
  call->completion.complete = &PluginLibrary::CompleteThunk;
  call->completion.is_cancelled = &PluginLibrary::IsCancelledThunk;
  call->completion.output = &PluginLibrary::OutputThunk;
  call->completion.batchd_data = call.get();
  call->library = weak_from_this();
  call->token = request.token;
  call->plugin_name = &name_;
  // The library's own copy: the calling PluginExecutor may be destroyed before the call ends.
  for (const std::string& name : executors_) {
    if (name == executor) call->executor = &name;
  }
  assert(call->executor != nullptr);
  call->input = boost::json::serialize(request.input);
  call->attempt = request.attempt;
  call->sink = &sink;
  calls_[request.token] = call;
  boost::asio::post(*pool_, [this, call] { Execute(call); });
}

void PluginLibrary::Execute(const std::shared_ptr<Call>& call) {
  Call::Phase queued = Call::kQueued;
  if (!call->phase.compare_exchange_strong(queued, Call::kExecuting)) {
    // Cancelled while queued: the plugin never sees it, so batchd completes it itself.
    CompleteThunk(&call->completion, 0, nullptr, 0, 0);
    return;
  }
  descriptor_->execute(plugin_ctx_, call->executor->c_str(), call->input.c_str(),
                       call->input.size(), call->attempt, &call->completion);
}

void PluginLibrary::Cancel(const AttemptToken& token) {
  assert(strand_.running_in_this_thread());
  auto it = calls_.find(token);
  if (it == calls_.end()) return;
  // Stays in calls_ until the plugin completes it: the plugin may still hold its completion.
  std::shared_ptr<Call> call = it->second;
  if (call->cancelled.exchange(true)) return;
  Call::Phase queued = Call::kQueued;
  if (call->phase.compare_exchange_strong(queued, Call::kDroppedBeforeExecute)) return;
  if (descriptor_->cancel != nullptr) descriptor_->cancel(plugin_ctx_, &call->completion);
}

void PluginLibrary::CompleteThunk(batchd_completion* self, int success, const char* text,
                                  size_t len, int non_retryable) {
  Call* call = static_cast<Call*>(self->batchd_data);
  // Built here, on the plugin's thread, so parsing never holds the strand.
  ExecutionOutcome outcome;
  if (call->cancelled.load()) {
    // Dropped by Finish; nothing to build.
  } else if (success != 0) {
    boost::system::error_code ec;
    boost::json::value output =
        boost::json::parse(boost::json::string_view(text == nullptr ? "" : text, len), ec);
    if (ec) {
      outcome = ExecutionOutcome::Failure(
          absl::StrCat("plugin ", *call->plugin_name, ": returned invalid JSON: ", ec.message()),
          /*non_retryable=*/true);
    } else {
      outcome = ExecutionOutcome::Success(std::move(output));
    }
  } else if (len == 0) {
    outcome = ExecutionOutcome::Failure(absl::StrCat("plugin ", *call->plugin_name, ": ",
                                                     *call->executor, " failed without a message"),
                                        non_retryable != 0);
  } else {
    outcome = ExecutionOutcome::Failure(std::string(text, len), non_retryable != 0);
  }
  // Last use of `call`: once posted, Finish may free it on the strand at any moment. Through
  // the strand rather than the sink directly so that, once the scheduler's io_context has
  // stopped, no completion reaches a scheduler being destroyed.
  boost::asio::post(call->strand, [library = call->library, token = call->token,
                                   outcome = std::move(outcome)]() mutable {
    if (std::shared_ptr<PluginLibrary> l = library.lock()) l->Finish(token, std::move(outcome));
  });
}

void PluginLibrary::OutputThunk(batchd_completion* self, const char* text, size_t len) {
  Call* call = static_cast<Call*>(self->batchd_data);
  if (call->cancelled.load() || text == nullptr || len == 0) return;
  // Through the strand, like complete(): in order with it, and never into a stopped scheduler.
  boost::asio::post(call->strand, [library = call->library, token = call->token,
                                   chunk = std::string(text, len)]() mutable {
    if (std::shared_ptr<PluginLibrary> l = library.lock())
      l->DeliverOutput(token, std::move(chunk));
  });
}

void PluginLibrary::DeliverOutput(const AttemptToken& token, std::string chunk) {
  assert(strand_.running_in_this_thread());
  auto it = calls_.find(token);
  if (it == calls_.end() || it->second->cancelled.load()) return;
  it->second->sink->Output(token, std::move(chunk));
}

int PluginLibrary::IsCancelledThunk(const batchd_completion* self) {
  return static_cast<const Call*>(self->batchd_data)->cancelled.load() ? 1 : 0;
}

void PluginLibrary::Finish(const AttemptToken& token, ExecutionOutcome outcome) {
  assert(strand_.running_in_this_thread());
  auto it = calls_.find(token);
  if (it == calls_.end()) return;
  std::shared_ptr<Call> call = std::move(it->second);
  calls_.erase(it);
  if (call->cancelled.load()) return;  // the scheduler would ignore it
  call->sink->Complete(token, std::move(outcome));
}

absl::Status RegisterPlugins(const std::vector<std::string>& paths, uint32_t threads,
                             ExecutorEnvironment& environment) {
  std::vector<std::shared_ptr<PluginLibrary>> libraries;
  absl::flat_hash_map<std::string, std::string> providers;  // executor -> plugin path
  for (const std::string& path : paths) {
    ASSIGN_OR_RETURN(std::shared_ptr<PluginLibrary> library,
                     PluginLibrary::Load(path, threads, environment.strand));
    for (const std::string& executor : library->executors()) {
      if (auto it = providers.find(executor); it != providers.end()) {
        return absl::AlreadyExistsError(absl::StrCat("plugin ", path, ": executor '", executor,
                                                     "' is also provided by plugin ", it->second));
      }
      if (environment.registry.Find(executor) != nullptr) {
        std::string kind = "another";
        for (const ExecutorDescription& d : environment.registry.List()) {
          if (d.name == executor) kind = d.kind;
        }
        return absl::AlreadyExistsError(absl::StrCat("plugin ", path, ": executor '", executor,
                                                     "' is already provided by the ", kind,
                                                     " executor '", executor, "'"));
      }
      providers.emplace(executor, path);
    }
    libraries.push_back(std::move(library));
  }
  for (const std::shared_ptr<PluginLibrary>& library : libraries) {
    for (const std::string& executor : library->executors()) {
      RETURN_IF_ERROR(environment.registry.Register(
          {executor, "plugin", 0, threads}, std::make_unique<PluginExecutor>(library, executor)));
    }
    spdlog::info("loaded plugin {} from {}: executors {} ({} threads)", library->name(),
                 library->path(), absl::StrJoin(library->executors(), ", "), threads);
  }
  return absl::OkStatus();
}

}  // namespace batchd::core
