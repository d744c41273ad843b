#include "server/flags/plugin_flags.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>
#include <memory>
#include <string>
#include <vector>

#include "absl/flags/commandlineflag.h"
#include "absl/flags/reflection.h"
#include "absl/strings/string_view.h"
#include "core/executors/executor_registry.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/fake_time.h"
#include "tests/testing/flag_test.h"

namespace batchd::server {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

const std::string kTextPlugin = BATCHD_TEXT_PLUGIN;
const std::string kWrongAbiPlugin = BATCHD_WRONG_ABI_PLUGIN;

class PluginFlagsTest : public batchd::testing::FlagTest {};

TEST_F(PluginFlagsTest, DefaultsLoadNothingWithFourThreads) {
  absl::StatusOr<PluginOptions> options = PluginOptionsFromFlags();
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_THAT(options->paths, IsEmpty());
  EXPECT_EQ(options->threads, 4u);
}

TEST_F(PluginFlagsTest, PathsKeepTheirOrderAndAreNotLoaded) {
  Set("plugin", "/opt/b.so,/opt/a.so");
  Set("plugin_threads", "1");
  absl::StatusOr<PluginOptions> options = PluginOptionsFromFlags();
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_THAT(options->paths, ElementsAre("/opt/b.so", "/opt/a.so"));
  EXPECT_EQ(options->threads, 1u);
}

TEST_F(PluginFlagsTest, ThreadsUpTo256AreAccepted) {
  Set("plugin_threads", "256");
  absl::StatusOr<PluginOptions> options = PluginOptionsFromFlags();
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_EQ(options->threads, 256u);
}

struct BadPluginFlag {
  const char* flag;
  const char* value;
  const char* message;
};

TEST_F(PluginFlagsTest, UnusableValuesAreInvalidArgumentNamingTheFlag) {
  const BadPluginFlag kBad[] = {
      {"plugin_threads", "0", "invalid --plugin-threads 0: must be between 1 and 256"},
      {"plugin_threads", "257", "invalid --plugin-threads 257: must be between 1 and 256"},
      {"plugin_threads", "4294967295",
       "invalid --plugin-threads 4294967295: must be between 1 and 256"},
      {"plugin", ",/opt/a.so", "invalid --plugin: empty path in the list"},
      {"plugin", "/opt/a.so,,/opt/b.so", "invalid --plugin: empty path in the list"},
  };
  for (const BadPluginFlag& bad : kBad) {
    absl::FlagSaver restore;
    Set(bad.flag, bad.value);
    absl::StatusOr<PluginOptions> options = PluginOptionsFromFlags();
    EXPECT_EQ(options.status().code(), absl::StatusCode::kInvalidArgument) << bad.value;
    EXPECT_EQ(options.status().message(), bad.message) << bad.value;
  }
}

TEST_F(PluginFlagsTest, ThreadsAreCheckedBeforePaths) {
  Set("plugin", "/opt/a.so,");
  Set("plugin_threads", "0");
  EXPECT_EQ(PluginOptionsFromFlags().status().message(),
            "invalid --plugin-threads 0: must be between 1 and 256");
}

class RegisterConfiguredPluginsTest : public ::testing::Test {
 protected:
  ~RegisterConfiguredPluginsTest() override {
    // Plugins stop (joining their threads) before the io_context they post to goes away.
    registry_.reset();
  }

  boost::asio::io_context io_;
  boost::asio::strand<boost::asio::io_context::executor_type> strand_ =
      boost::asio::make_strand(io_);
  testing::FakeClock clock_;
  testing::FakeTimerService timers_{clock_, io_, strand_};
  std::unique_ptr<core::ExecutorRegistry> registry_ = std::make_unique<core::ExecutorRegistry>();
  core::ExecutorEnvironment environment_{io_, strand_, clock_, timers_, *registry_};
};

TEST_F(RegisterConfiguredPluginsTest, NoPathsIsOkAndRegistersNothing) {
  EXPECT_TRUE(RegisterConfiguredPlugins(PluginOptions{}, environment_).ok());
  EXPECT_THAT(registry_->Names(), IsEmpty());
}

TEST_F(RegisterConfiguredPluginsTest, RegistersEveryExecutorWithTheThreadsAsCapacity) {
  ASSERT_TRUE(RegisterConfiguredPlugins(PluginOptions{{kTextPlugin}, 3}, environment_).ok());
  const std::vector<core::ExecutorDescription> listed = registry_->List();
  ASSERT_EQ(listed.size(), 2u);
  EXPECT_EQ(listed[0].name, "upper");
  EXPECT_EQ(listed[1].name, "wordcount");
  for (const core::ExecutorDescription& d : listed) {
    EXPECT_EQ(d.kind, "plugin") << d.name;
    EXPECT_EQ(d.capacity, 3u) << d.name;
  }
}

TEST_F(RegisterConfiguredPluginsTest, AnUnusableFileIsInvalidArgumentNamingIt) {
  absl::Status s =
      RegisterConfiguredPlugins(PluginOptions{{"/nonexistent/libnope.so"}, 2}, environment_);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(),
            "plugin /nonexistent/libnope.so: cannot load (dlopen: /nonexistent/libnope.so: "
            "cannot open shared object file: No such file or directory)");

  s = RegisterConfiguredPlugins(PluginOptions{{kTextPlugin, kWrongAbiPlugin}, 2}, environment_);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "plugin " + kWrongAbiPlugin + ": ABI version 2, this batchd supports 1");
  EXPECT_THAT(registry_->Names(), IsEmpty()) << "nothing is registered unless every plugin loads";
}

TEST_F(RegisterConfiguredPluginsTest, ATakenExecutorNameIsAlreadyExists) {
  const absl::Status s =
      RegisterConfiguredPlugins(PluginOptions{{kTextPlugin, kTextPlugin}, 2}, environment_);
  EXPECT_EQ(s.code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(s.message(), "plugin " + kTextPlugin +
                             ": executor 'upper' is also provided by plugin " + kTextPlugin);
  EXPECT_THAT(registry_->Names(), IsEmpty());
}

}  // namespace
}  // namespace batchd::server
