#include "server/daemon/daemon_config.h"

#include <string>
#include <vector>

#include "absl/flags/commandlineflag.h"
#include "absl/flags/reflection.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/flags/flag_names.h"
#include "tests/testing/flag_test.h"

namespace batchd::server {
namespace {

using ::testing::HasSubstr;

class DaemonConfigTest : public batchd::testing::FlagTest {};

TEST_F(DaemonConfigTest, DefaultsAreValid) {
  absl::StatusOr<DaemonConfig> config = DaemonConfigFromFlags();
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->daemon.listen, "127.0.0.1:50051");
  EXPECT_EQ(config->daemon.shutdown_grace, absl::Seconds(5));
  EXPECT_EQ(config->plugins.threads, 4u);
  EXPECT_TRUE(config->plugins.paths.empty());
  EXPECT_FALSE(config->shell.enabled);
  EXPECT_EQ(config->shell.options.env_allowlist,
            (std::vector<std::string>{"PATH", "HOME", "LANG"}));
  EXPECT_EQ(config->malloc_trim_interval, absl::Seconds(10));
  EXPECT_TRUE(config->security.bearer_token.empty());
  EXPECT_TRUE(config->security_warnings.empty());
}

TEST_F(DaemonConfigTest, ShellAndPluginSettingsAreRead) {
  Set("enable_shell", "true");
  Set("shell_kill_grace", "500ms");
  Set("plugin", "/opt/a.so,/opt/b.so");  // not loaded: that is the daemon's job, later
  Set("plugin_threads", "2");
  absl::StatusOr<DaemonConfig> config = DaemonConfigFromFlags();
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_TRUE(config->shell.enabled);
  EXPECT_EQ(config->shell.options.kill_grace, std::chrono::milliseconds(500));
  EXPECT_EQ(config->plugins.paths, (std::vector<std::string>{"/opt/a.so", "/opt/b.so"}));
  EXPECT_EQ(config->plugins.threads, 2u);
}

TEST_F(DaemonConfigTest, InsecureRemoteListenIsAWarningWhenAllowed) {
  Set("listen", "0.0.0.0:1");
  Set("allow_insecure_remote", "true");
  absl::StatusOr<DaemonConfig> config = DaemonConfigFromFlags();
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->security_warnings,
            (std::vector<std::string>{
                "listening on 0.0.0.0:1 without a token or TLS (--allow-insecure-remote)"}));
}

struct BadFlag {
  const char* flag;  // as registered
  const char* value;
  const char* message;
  const char* names = nullptr;  // the flag the message names, when not `flag`
};

TEST_F(DaemonConfigTest, EachUnusableValueIsInvalidArgumentNamingItsFlag) {
  const BadFlag kBadFlags[] = {
      {"listen", "", "--listen must not be empty"},
      {"log_level", "loud",
       "invalid --log-level 'loud': expected one of trace, debug, info, warn, error"},
      {"log_format", "xml", "invalid --log-format 'xml': expected text or json"},
      {"shutdown_grace", "-1s", "invalid --shutdown-grace -1s: must not be negative"},
      {"max_running", "0", "invalid --max-running 0: must be at least 1"},
      {"retention", "inf", "invalid --retention inf: must be a finite, non-negative duration"},
      {"scheduler_threads", "65", "invalid --scheduler-threads 65: must be between 1 and 64"},
      {"max_request_bytes", "10",
       "invalid --max-request-bytes 10: must be between 1024 and 2147483647"},
      {"max_batch_tasks", "0", "invalid --max-batch-tasks 0: must be at least 1"},
      {"max_task_input_bytes", "0", "invalid --max-task-input-bytes 0: must be at least 1"},
      {"max_active_batches", "0", "invalid --max-active-batches 0: must be at least 1"},
      {"max_streams_per_client", "0", "invalid --max-streams-per-client 0: must be at least 1"},
      {"max_streams", "0", "invalid --max-streams 0: must be at least 1"},
      {"keepalive_time", "500ms", "invalid --keepalive-time 500ms: must be between 1s and 24h"},
      {"worker_heartbeat_interval", "1ms",
       "invalid --worker-heartbeat-interval 1ms: must be between 10ms and 1h"},
      {"worker_cancel_grace", "2h",
       "invalid --worker-cancel-grace 2h: must be between 10ms and 1h"},
      {"durability", "sometimes",
       "invalid --durability 'sometimes': expected none, normal or full"},
      {"malloc_trim_interval", "-1s",
       "invalid --malloc-trim-interval -1s: must be a finite, non-negative duration"},
      {"unix_socket_mode", "999",
       "invalid --unix-socket-mode '999': expected octal permissions such as 0660"},
      {"tls_key", "/key.pem", "--tls-key needs --tls-cert"},
      {"tls_cert", "/cert.pem", "--tls-cert needs --tls-key"},
      {"tls_client_ca", "/ca.pem", "--tls-client-ca needs --tls-cert and --tls-key"},
      {"auth_token_file", "/nonexistent/token",
       "cannot read --auth-token-file '/nonexistent/token': No such file or directory"},
      {"listen", "0.0.0.0:1",
       "refusing to listen on 0.0.0.0:1 (beyond loopback) without --auth-token-file or "
       "--tls-cert: anyone who reaches it could run tasks. Add one, or pass "
       "--allow-insecure-remote on a trusted private network",
       "--allow-insecure-remote"},
      {"plugin_threads", "0", "invalid --plugin-threads 0: must be between 1 and 256"},
      {"plugin_threads", "257", "invalid --plugin-threads 257: must be between 1 and 256"},
      {"plugin", "/opt/a.so,", "invalid --plugin: empty path in the list"},
      {"shell_env_allowlist", "PATH,A=B",
       "invalid --shell-env-allowlist: 'A=B' is not a variable name"},
      {"shell_kill_grace", "-1s", "invalid --shell-kill-grace -1s: must be between 0s and 10m"},
      {"shell_output_limit", "1073741825",
       "invalid --shell-output-limit 1073741825: must be at most 1073741824"},
  };
  for (const BadFlag& bad : kBadFlags) {
    absl::FlagSaver restore;
    Set(bad.flag, bad.value);
    absl::StatusOr<DaemonConfig> config = DaemonConfigFromFlags();
    EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument) << bad.flag;
    EXPECT_EQ(config.status().message(), bad.message) << bad.flag;
    EXPECT_THAT(std::string(config.status().message()),
                HasSubstr(bad.names != nullptr ? std::string(bad.names)
                                               : absl::StrCat("--", DashedFlagName(bad.flag))));
  }
}

TEST_F(DaemonConfigTest, ShellFlagsAreCheckedEvenWithoutTheShell) {
  Set("enable_shell", "false");
  Set("shell_kill_grace", "11m");
  EXPECT_EQ(DaemonConfigFromFlags().status().message(),
            "invalid --shell-kill-grace 11m: must be between 0s and 10m");
}

TEST(IsDaemonFlagFileTest, FilesUnderServer) {
  EXPECT_TRUE(IsDaemonFlagFile("../../server/daemon_flags.cc"));
  EXPECT_FALSE(IsDaemonFlagFile("./absl/flags/parse.cc"));
}

}  // namespace
}  // namespace batchd::server
