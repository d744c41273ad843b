// LoadSecrets: a JSON file (plain values readable by http, objects naming their executors), a
// directory of files (Docker/Kubernetes mounts: one trailing newline removed, hidden entries and
// subdirectories skipped), and every bad input refused naming the file and the secret, never the
// value.
#include "core/secrets/secret_store.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace batchd::core {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

class SecretStoreTest : public ::testing::Test {
 protected:
  SecretStoreTest() {
    dir_ = fs::temp_directory_path() / ("secret_store_test-" + std::to_string(getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  ~SecretStoreTest() override { fs::remove_all(dir_); }

  std::string Write(const std::string& name, const std::string& text) {
    const fs::path path = dir_ / name;
    fs::create_directories(path.parent_path());
    std::ofstream(path, std::ios::binary) << text;
    return path.string();
  }

  fs::path dir_;
};

TEST_F(SecretStoreTest, AFileDefinesPlainValuesForHttpAndObjectsWithTheirExecutors) {
  const std::string file = Write("secrets.json", R"({"openai": "sk-123",
      "db": {"value": "pw-456", "executors": ["shell", "http", "shell"]}})");
  absl::StatusOr<SecretStore> store = LoadSecrets(file);
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_THAT(store->Names(), ElementsAre("db", "openai"));
  ASSERT_NE(store->Find("openai"), nullptr);
  EXPECT_EQ(store->Find("openai")->value, "sk-123");
  EXPECT_THAT(store->Find("openai")->readers, ElementsAre("http"));
  EXPECT_EQ(store->Find("db")->value, "pw-456");
  EXPECT_THAT(store->Find("db")->readers, ElementsAre("http", "shell"));
  EXPECT_TRUE(store->Find("db")->ReadableBy("shell"));
  EXPECT_FALSE(store->Find("openai")->ReadableBy("echo"));
  EXPECT_EQ(store->Find("nope"), nullptr);
}

TEST_F(SecretStoreTest, ADirectoryHoldsOneFilePerSecretTheWayKubernetesMountsThem) {
  Write("mount/..2024_01_01/api", "from-the-timestamped-dir\n");
  Write("mount/api", "sk-789\n");
  Write("mount/token", "t0k\n\n");  // only one newline is removed
  Write("mount/.hidden", "x");
  Write("mount/sub/nested", "x");
  std::error_code ec;
  fs::create_directory_symlink(dir_ / "mount" / "..2024_01_01", dir_ / "mount" / "..data", ec);
  ASSERT_FALSE(ec) << ec.message();
  fs::create_symlink(dir_ / "mount" / "api", dir_ / "mount" / "linked", ec);
  ASSERT_FALSE(ec) << ec.message();
  absl::StatusOr<SecretStore> store = LoadSecrets((dir_ / "mount").string());
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_THAT(store->Names(), ElementsAre("api", "linked", "token"));
  EXPECT_EQ(store->Find("api")->value, "sk-789");
  EXPECT_EQ(store->Find("linked")->value, "sk-789");
  EXPECT_EQ(store->Find("token")->value, "t0k\n");
  EXPECT_THAT(store->Find("api")->readers, ElementsAre("http"));
}

TEST_F(SecretStoreTest, AMissingPathIsNotFound) {
  const absl::StatusOr<SecretStore> store = LoadSecrets((dir_ / "nope.json").string());
  EXPECT_EQ(store.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(store.status().message(), HasSubstr("nope.json"));
}

struct BadFile {
  const char* text;
  const char* message;
};

TEST_F(SecretStoreTest, BadFilesAreRefusedNamingTheFileAndTheSecretNeverTheValue) {
  const BadFile cases[] = {
      {R"({"a": "sk-secret-value",)", "not valid JSON"},
      {R"(["sk-secret-value"])", "must be a JSON object of secrets by name"},
      {R"({"bad name": "sk-secret-value"})", "secret 'bad name': a name is 1 to 128 letters"},
      {R"({"a": ""})", "secret 'a' is empty"},
      {R"({"a": 5})", "secret 'a': must be a string (its value) or an object"},
      {R"({"a": {"value": "sk-secret-value", "readers": []}})", "unknown member 'readers'"},
      {R"({"a": {"executors": ["http"]}})", "secret 'a': \"value\" must be a string"},
      {R"({"a": {"value": "sk-secret-value", "executors": "http"}})",
       "\"executors\" must be a non-empty array of executor names"},
      {R"({"a": {"value": "sk-secret-value", "executors": []}})",
       "\"executors\" must be a non-empty array of executor names"},
  };
  for (const BadFile& c : cases) {
    const std::string file = Write("bad.json", c.text);
    const absl::StatusOr<SecretStore> store = LoadSecrets(file);
    EXPECT_EQ(store.status().code(), absl::StatusCode::kInvalidArgument) << c.text;
    EXPECT_THAT(store.status().message(), HasSubstr(file)) << c.text;
    EXPECT_THAT(store.status().message(), HasSubstr(c.message)) << c.text;
    EXPECT_THAT(store.status().message(), Not(HasSubstr("sk-secret-value"))) << c.text;
  }
}

TEST_F(SecretStoreTest, BadDirectoryEntriesAreRefusedNamingTheFile) {
  Write("dir/empty", "\n");
  absl::StatusOr<SecretStore> store = LoadSecrets((dir_ / "dir").string());
  EXPECT_EQ(store.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(store.status().message(), HasSubstr("dir/empty: secret 'empty' is empty"));
  fs::remove(dir_ / "dir" / "empty");
  Write("dir/with space", "sk-secret-value");
  store = LoadSecrets((dir_ / "dir").string());
  EXPECT_EQ(store.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(store.status().message(), HasSubstr("secret 'with space': a name is 1 to 128"));
  EXPECT_THAT(store.status().message(), Not(HasSubstr("sk-secret-value")));
}

TEST(SecretNameTest, NamesAreShortAndPlain) {
  EXPECT_TRUE(IsSecretName("openai"));
  EXPECT_TRUE(IsSecretName("A-b_c.9"));
  EXPECT_TRUE(IsSecretName(std::string(128, 'x')));
  EXPECT_FALSE(IsSecretName(std::string(129, 'x')));
  EXPECT_FALSE(IsSecretName(""));
  EXPECT_FALSE(IsSecretName("a b"));
  EXPECT_FALSE(IsSecretName("a#b"));
  EXPECT_FALSE(IsSecretName("a}"));
}

}  // namespace
}  // namespace batchd::core
