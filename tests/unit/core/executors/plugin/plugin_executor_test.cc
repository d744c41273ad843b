// Plugin loading and the plugin executor, against real shared objects: the example text plugin,
// a test plugin exercising the ABI's corners and two that must be refused. Plugin code runs on
// real threads, so every wait is a bounded poll of the test's io_context.
#include "core/executors/plugin/plugin_executor.h"

#include <dlfcn.h>
#include <spdlog/spdlog.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/json.hpp>
#include <chrono>
#include <cstring>
#include <functional>
#include <optional>
#include <utility>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "core/executors/builtin_executors.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/fake_time.h"

namespace batchd::core {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

const std::string kTextPlugin = BATCHD_TEXT_PLUGIN;
const std::string kTestPlugin = BATCHD_TEST_PLUGIN;
const std::string kWrongAbiPlugin = BATCHD_WRONG_ABI_PLUGIN;
const std::string kNoEntryPlugin = BATCHD_NO_ENTRY_PLUGIN;

// Generous: plugin threads on a busy 2-core machine.
constexpr auto kWaitLimit = std::chrono::seconds(30);

class RecordingSink final : public CompletionSink {
 public:
  void Complete(const AttemptToken& token, ExecutionOutcome outcome) override {
    absl::MutexLock lock(&mu_);
    outcomes_.emplace_back(token, std::move(outcome));
  }
  std::optional<ExecutionOutcome> Find(const AttemptToken& token) const {
    absl::MutexLock lock(&mu_);
    for (const auto& [t, outcome] : outcomes_) {
      if (t == token) return outcome;
    }
    return std::nullopt;
  }
  size_t size() const {
    absl::MutexLock lock(&mu_);
    return outcomes_.size();
  }

 private:
  mutable absl::Mutex mu_;
  std::vector<std::pair<AttemptToken, ExecutionOutcome>> outcomes_ ABSL_GUARDED_BY(mu_);
};

class PluginExecutorTest : public ::testing::Test {
 protected:
  PluginExecutorTest() { spdlog::set_level(spdlog::level::warn); }
  ~PluginExecutorTest() override {
    // Plugins stop (joining their threads) before the io_context they post to goes away.
    registry_.reset();
  }

  absl::Status Register(const std::vector<std::string>& paths, uint32_t threads = 2) {
    return RegisterPlugins(paths, threads, environment_);
  }

  // Runs the io_context until `done` holds; false after kWaitLimit.
  bool RunUntil(const std::function<bool()>& done) {
    const auto deadline = std::chrono::steady_clock::now() + kWaitLimit;
    while (!done()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      io_.run_for(std::chrono::milliseconds(5));
    }
    return true;
  }

  // Starts an attempt of `executor` on the strand, as the scheduler does.
  AttemptToken Start(const std::string& executor, const std::string& input_json,
                     uint32_t attempt = 0) {
    AttemptToken token{1, next_task_++, 0};
    bool started = false;
    boost::asio::post(strand_, [&] {
      std::shared_ptr<Executor> e = registry_->Find(executor);
      ASSERT_NE(e, nullptr) << executor;
      boost::json::value input = boost::json::parse(input_json);
      e->Start(ExecutionRequest{token, "batch", "task", input, 0, attempt, 0, SteadyTime()}, sink_);
      started = true;
    });
    EXPECT_TRUE(RunUntil([&] { return started; }));
    return token;
  }

  void Cancel(const std::string& executor, const AttemptToken& token) {
    bool done = false;
    boost::asio::post(strand_, [&] {
      registry_->Find(executor)->Cancel(token);
      done = true;
    });
    EXPECT_TRUE(RunUntil([&] { return done; }));
  }

  ExecutionOutcome Await(const AttemptToken& token) {
    std::optional<ExecutionOutcome> outcome;
    EXPECT_TRUE(RunUntil([&] { return (outcome = sink_.Find(token)).has_value(); }))
        << "no outcome within the wait limit";
    return outcome.value_or(ExecutionOutcome::Failure("(none)"));
  }

  ExecutionOutcome Run(const std::string& executor, const std::string& input_json) {
    return Await(Start(executor, input_json));
  }

  // A counter the test plugin exports (it is loaded already; this only looks it up).
  int TestPluginCounter(const char* function) {
    void* handle = dlopen(kTestPlugin.c_str(), RTLD_NOW | RTLD_NOLOAD);
    EXPECT_NE(handle, nullptr) << dlerror();
    if (handle == nullptr) return -1;
    void* symbol = dlsym(handle, function);
    int (*counter)(void) = nullptr;
    std::memcpy(&counter, &symbol, sizeof(counter));
    int value = counter != nullptr ? counter() : -1;
    dlclose(handle);
    return value;
  }

  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_ =
      boost::asio::make_work_guard(io_);
  PluginLibrary::Strand strand_ = boost::asio::make_strand(io_);
  testing::FakeClock clock_;
  testing::FakeTimerService timers_{clock_, io_, strand_};
  RecordingSink sink_;
  std::unique_ptr<ExecutorRegistry> registry_ = std::make_unique<ExecutorRegistry>();
  ExecutorEnvironment environment_{io_, strand_, clock_, timers_, *registry_};
  uint32_t next_task_ = 0;
};

TEST_F(PluginExecutorTest, TextPluginRunsUpperAndWordcount) {
  ASSERT_TRUE(Register({kTextPlugin}, 3).ok());

  ExecutionOutcome upper = Run("upper", R"("hello, World")");
  ASSERT_TRUE(upper.success) << upper.error;
  EXPECT_EQ(upper.output, boost::json::value("HELLO, WORLD"));

  // Other members are skipped, escapes decoded and re-encoded, non-ASCII bytes kept.
  upper = Run("upper",
              R"({"id": [1, {"x": "}"}], "text": "sa\"y\\ h\u00e9\n\ud83d\ude00", "n": null})");
  ASSERT_TRUE(upper.success) << upper.error;
  EXPECT_EQ(upper.output, boost::json::value("SA\"Y\\ H\xC3\xA9\n\xF0\x9F\x98\x80"));

  ExecutionOutcome words = Run("wordcount", R"({"text": "  the quick\tbrown\nfox "})");
  ASSERT_TRUE(words.success) << words.error;
  EXPECT_EQ(words.output, boost::json::parse(R"({"words": 4})"));
  words = Run("wordcount", R"("")");
  ASSERT_TRUE(words.success) << words.error;
  EXPECT_EQ(words.output, boost::json::parse(R"({"words": 0})"));

  std::vector<ExecutorDescription> listed = registry_->List();
  ASSERT_EQ(listed.size(), 2u);
  EXPECT_EQ(listed[0].name, "upper");
  EXPECT_EQ(listed[1].name, "wordcount");
  for (const ExecutorDescription& d : listed) {
    EXPECT_EQ(d.kind, "plugin");
    EXPECT_EQ(d.capacity, 3u);
  }
}

TEST_F(PluginExecutorTest, BadInputFailsTheTaskNamingTheField) {
  ASSERT_TRUE(Register({kTextPlugin}).ok());

  ExecutionOutcome o = Run("upper", "42");
  EXPECT_FALSE(o.success);
  EXPECT_EQ(o.error, R"(upper: input must be a string or {"text": string})");
  EXPECT_TRUE(o.non_retryable);

  o = Run("wordcount", R"({"text": 5})");
  EXPECT_FALSE(o.success);
  EXPECT_EQ(o.error, "wordcount: input.text must be a string");
  EXPECT_TRUE(o.non_retryable);

  o = Run("upper", R"({"name": "x"})");
  EXPECT_FALSE(o.success);
  EXPECT_EQ(o.error, R"(upper: input.text is missing (input is a string or {"text": string}))");
  EXPECT_TRUE(o.non_retryable);
}

TEST_F(PluginExecutorTest, WrongAbiVersionIsRefused) {
  absl::Status s = Register({kWrongAbiPlugin});
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "plugin " + kWrongAbiPlugin + ": ABI version 2, this batchd supports 1");
  EXPECT_TRUE(registry_->List().empty());
}

TEST_F(PluginExecutorTest, MissingEntrySymbolIsRefused) {
  absl::Status s = Register({kNoEntryPlugin});
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(
      std::string(s.message()),
      StartsWith("plugin " + kNoEntryPlugin + ": missing symbol batchd_plugin_entry (dlsym: "));
  EXPECT_THAT(std::string(s.message()), HasSubstr("undefined symbol: batchd_plugin_entry"));
}

TEST_F(PluginExecutorTest, NonexistentFileIsRefusedWithDlerror) {
  absl::Status s = Register({"/nonexistent/libnope.so"});
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(),
            "plugin /nonexistent/libnope.so: cannot load (dlopen: /nonexistent/libnope.so: "
            "cannot open shared object file: No such file or directory)");
}

TEST_F(PluginExecutorTest, LaterPluginsAreNotLoadedAfterOneFails) {
  absl::Status s = Register({kTextPlugin, kWrongAbiPlugin});
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(registry_->List().empty()) << "nothing is registered unless every plugin loads";
}

TEST_F(PluginExecutorTest, CollisionWithAnExistingExecutorIsRefusedNamingBoth) {
  ASSERT_TRUE(
      registry_->Register({"upper", "builtin", 0, 0}, std::make_unique<EchoExecutor>()).ok());
  absl::Status s = Register({kTextPlugin});
  EXPECT_EQ(s.code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(s.message(), "plugin " + kTextPlugin +
                             ": executor 'upper' is already provided by the builtin executor "
                             "'upper'");
  EXPECT_EQ(registry_->Find("wordcount"), nullptr);
}

TEST_F(PluginExecutorTest, CollisionBetweenPluginsIsRefusedNamingBoth) {
  absl::Status s = Register({kTextPlugin, kTextPlugin});
  EXPECT_EQ(s.code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(s.message(), "plugin " + kTextPlugin +
                             ": executor 'upper' is also provided by plugin " + kTextPlugin);
  EXPECT_TRUE(registry_->List().empty());
}

TEST_F(PluginExecutorTest, InvalidJsonOutputFailsTheTask) {
  ASSERT_TRUE(Register({kTestPlugin}).ok());
  ExecutionOutcome o = Run("garbage", "null");
  EXPECT_FALSE(o.success);
  EXPECT_EQ(o.error, "plugin test: returned invalid JSON: syntax error");
  EXPECT_TRUE(o.non_retryable);
}

TEST_F(PluginExecutorTest, FailureWithoutMessageIsNamedAndRetryable) {
  ASSERT_TRUE(Register({kTestPlugin}).ok());
  ExecutionOutcome o = Run("fail_empty", "{}");
  EXPECT_FALSE(o.success);
  EXPECT_EQ(o.error, "plugin test: fail_empty failed without a message");
  EXPECT_FALSE(o.non_retryable);
}

TEST_F(PluginExecutorTest, CompletionFromAnotherThreadAfterExecuteReturned) {
  ASSERT_TRUE(Register({kTestPlugin}).ok());
  // The plugin's thread reads the input after execute returned: it lives until complete().
  ExecutionOutcome o = Run("async", R"({"a": [1, 2, "three"]})");
  ASSERT_TRUE(o.success) << o.error;
  EXPECT_EQ(o.output, boost::json::parse(R"({"a": [1, 2, "three"]})"));
}

TEST_F(PluginExecutorTest, CancelReachesABlockedCallAndFreesItsThread) {
  ASSERT_TRUE(Register({kTestPlugin}, /*threads=*/1).ok());
  const int cancels_before = TestPluginCounter("test_plugin_cancel_calls");
  AttemptToken blocked = Start("wait_cancel", "{}");
  ASSERT_TRUE(RunUntil([&] { return TestPluginCounter("test_plugin_waiting") == 1; }));
  // Queued behind the blocked call on the only thread, then cancelled before it ran.
  AttemptToken queued = Start("garbage", "{}");
  Cancel("garbage", queued);
  Cancel("wait_cancel", blocked);
  ASSERT_TRUE(RunUntil([&] { return TestPluginCounter("test_plugin_waiting") == 0; }));

  // The thread is free again; neither cancelled attempt is reported.
  ExecutionOutcome after = Run("async", "7");
  ASSERT_TRUE(after.success) << after.error;
  EXPECT_EQ(sink_.size(), 1u);
  EXPECT_FALSE(sink_.Find(blocked).has_value());
  EXPECT_FALSE(sink_.Find(queued).has_value());
  // Only the call the plugin was running is cancelled through the plugin.
  EXPECT_EQ(TestPluginCounter("test_plugin_cancel_calls") - cancels_before, 1);
}

}  // namespace
}  // namespace batchd::core
