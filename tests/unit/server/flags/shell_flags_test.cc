#include "server/flags/shell_flags.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>
#include <chrono>
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

class ShellFlagsTest : public batchd::testing::FlagTest {};

TEST_F(ShellFlagsTest, DefaultsAreOffWithTheDocumentedOptions) {
  absl::StatusOr<ShellConfig> config = ShellConfigFromFlags();
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_FALSE(config->enabled);
  EXPECT_THAT(config->options.env_allowlist, ElementsAre("PATH", "HOME", "LANG"));
  EXPECT_EQ(config->options.kill_grace, std::chrono::milliseconds(2000));
  EXPECT_EQ(config->options.output_limit, size_t{1} << 20);
  EXPECT_EQ(config->options.limits.cpu_seconds, 0u);
  EXPECT_EQ(config->options.limits.address_space_bytes, 0u);
  EXPECT_EQ(config->options.limits.open_files, 0u);
}

TEST_F(ShellFlagsTest, EveryFlagIsRead) {
  Set("enable_shell", "true");
  Set("shell_env_allowlist", "PATH,TZ");
  Set("shell_kill_grace", "1500ms");
  Set("shell_output_limit", "4096");
  Set("shell_rlimit_cpu", "30");
  Set("shell_rlimit_as", "1073741824");
  Set("shell_rlimit_nofile", "64");
  absl::StatusOr<ShellConfig> config = ShellConfigFromFlags();
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_TRUE(config->enabled);
  EXPECT_THAT(config->options.env_allowlist, ElementsAre("PATH", "TZ"));
  EXPECT_EQ(config->options.kill_grace, std::chrono::milliseconds(1500));
  EXPECT_EQ(config->options.output_limit, 4096u);
  EXPECT_EQ(config->options.limits.cpu_seconds, 30u);
  EXPECT_EQ(config->options.limits.address_space_bytes, 1073741824u);
  EXPECT_EQ(config->options.limits.open_files, 64u);
}

TEST_F(ShellFlagsTest, BoundsAreInclusive) {
  Set("shell_kill_grace", "0s");
  Set("shell_output_limit", "0");
  absl::StatusOr<ShellConfig> config = ShellConfigFromFlags();
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->options.kill_grace, std::chrono::milliseconds(0));
  EXPECT_EQ(config->options.output_limit, 0u);

  Set("shell_kill_grace", "10m");
  Set("shell_output_limit", "1073741824");
  config = ShellConfigFromFlags();
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->options.kill_grace, std::chrono::minutes(10));
  EXPECT_EQ(config->options.output_limit, size_t{1} << 30);
}

TEST_F(ShellFlagsTest, AnEmptyAllowlistInheritsNothing) {
  Set("shell_env_allowlist", "");
  absl::StatusOr<ShellConfig> config = ShellConfigFromFlags();
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_THAT(config->options.env_allowlist, IsEmpty());
}

struct BadShellFlag {
  const char* flag;
  const char* value;
  const char* message;
};

TEST_F(ShellFlagsTest, UnusableValuesAreInvalidArgumentNamingTheFlag) {
  const BadShellFlag kBad[] = {
      {"shell_env_allowlist", "PATH,,HOME",
       "invalid --shell-env-allowlist: '' is not a variable name"},
      {"shell_env_allowlist", "=x", "invalid --shell-env-allowlist: '=x' is not a variable name"},
      {"shell_kill_grace", "-1ms", "invalid --shell-kill-grace -1ms: must be between 0s and 10m"},
      {"shell_kill_grace", "10m1s", "invalid --shell-kill-grace 10m1s: must be between 0s and 10m"},
      {"shell_kill_grace", "inf", "invalid --shell-kill-grace inf: must be between 0s and 10m"},
      {"shell_output_limit", "18446744073709551615",
       "invalid --shell-output-limit 18446744073709551615: must be at most 1073741824"},
  };
  for (const BadShellFlag& bad : kBad) {
    absl::FlagSaver restore;
    Set(bad.flag, bad.value);
    absl::StatusOr<ShellConfig> config = ShellConfigFromFlags();
    EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument) << bad.value;
    EXPECT_EQ(config.status().message(), bad.message) << bad.value;
  }
}

TEST_F(ShellFlagsTest, TheFirstBadFlagIsReported) {
  Set("shell_env_allowlist", "A=B");
  Set("shell_kill_grace", "1h");
  EXPECT_EQ(ShellConfigFromFlags().status().message(),
            "invalid --shell-env-allowlist: 'A=B' is not a variable name");
}

class RegisterConfiguredShellExecutorTest : public ::testing::Test {
 protected:
  boost::asio::io_context io_;
  boost::asio::strand<boost::asio::io_context::executor_type> strand_ =
      boost::asio::make_strand(io_);
  testing::FakeClock clock_;
  testing::FakeTimerService timers_{clock_, io_, strand_};
  core::ExecutorRegistry registry_;
  core::ExecutorEnvironment environment_{io_, strand_, clock_, timers_, registry_};
};

TEST_F(RegisterConfiguredShellExecutorTest, DisabledRegistersNothing) {
  ShellConfig config;
  ASSERT_FALSE(config.enabled);
  EXPECT_TRUE(RegisterConfiguredShellExecutor(config, environment_).ok());
  EXPECT_THAT(registry_.Names(), IsEmpty());
  EXPECT_EQ(registry_.Find("shell"), nullptr);
}

TEST_F(RegisterConfiguredShellExecutorTest, EnabledRegistersTheBuiltinShell) {
  ShellConfig config;
  config.enabled = true;
  ASSERT_TRUE(RegisterConfiguredShellExecutor(config, environment_).ok());
  const std::vector<core::ExecutorDescription> listed = registry_.List();
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0].name, "shell");
  EXPECT_EQ(listed[0].kind, "builtin");
  EXPECT_EQ(listed[0].capacity, 0u);
  EXPECT_NE(registry_.Find("shell"), nullptr);

  const absl::Status again = RegisterConfiguredShellExecutor(config, environment_);
  EXPECT_EQ(again.code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(again.message(), "Executor 'shell' already registered");
}

}  // namespace
}  // namespace batchd::server
