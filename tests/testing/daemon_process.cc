#include "tests/testing/daemon_process.h"

#include <fcntl.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <boost/json.hpp>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <optional>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

extern char** environ;

namespace batchd::testing {
namespace {

constexpr absl::Duration kPollInterval = absl::Milliseconds(5);
constexpr char kListeningPrefix[] = "batchd listening on ";

// The gRPC address a stdout line announces: "batchd listening on <address>", or with
// --log-format=json an object whose "listener" is "grpc" and whose "address" is it.
std::optional<std::string> ListeningAddress(absl::string_view line) {
  if (absl::StartsWith(line, kListeningPrefix)) {
    return std::string(line.substr(std::strlen(kListeningPrefix)));
  }
  if (!absl::StartsWith(line, "{")) return std::nullopt;
  boost::system::error_code ec;
  const boost::json::value value =
      boost::json::parse(boost::json::string_view(line.data(), line.size()), ec);
  const boost::json::object* object = ec ? nullptr : value.if_object();
  if (object == nullptr) return std::nullopt;
  const boost::json::value* listener = object->if_contains("listener");
  const boost::json::value* address = object->if_contains("address");
  if (listener == nullptr || address == nullptr || !listener->is_string() ||
      !address->is_string() || listener->get_string() != "grpc") {
    return std::nullopt;
  }
  return std::string(address->get_string());
}

absl::Status ErrnoError(absl::string_view what) {
  return absl::InternalError(absl::StrCat(what, ": ", std::strerror(errno)));
}

int ExitCodeOf(int wait_status) {
  if (WIFEXITED(wait_status)) return WEXITSTATUS(wait_status);
  if (WIFSIGNALED(wait_status)) return 128 + WTERMSIG(wait_status);
  return -1;
}

// Both ends close-on-exec, so no other child inherits them.
absl::StatusOr<std::array<int, 2>> MakePipe() {
  std::array<int, 2> fds{};
  if (pipe2(fds.data(), O_CLOEXEC) != 0) return ErrnoError("pipe2");
  return fds;
}

// posix_spawn attributes: its own process group, default signal dispositions, nothing blocked
// (the test process's threads may block signals; the child must not inherit that).
class SpawnAttributes {
 public:
  SpawnAttributes() {
    posix_spawnattr_init(&attr_);
    sigset_t none;
    sigemptyset(&none);
    sigset_t defaults;
    sigemptyset(&defaults);
    for (int sig : {SIGTERM, SIGINT, SIGPIPE, SIGHUP}) sigaddset(&defaults, sig);
    posix_spawnattr_setsigmask(&attr_, &none);
    posix_spawnattr_setsigdefault(&attr_, &defaults);
    posix_spawnattr_setpgroup(&attr_, 0);
    posix_spawnattr_setflags(
        &attr_,
        static_cast<short>(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP));
  }
  ~SpawnAttributes() { posix_spawnattr_destroy(&attr_); }
  SpawnAttributes(const SpawnAttributes&) = delete;
  SpawnAttributes& operator=(const SpawnAttributes&) = delete;
  const posix_spawnattr_t* get() const { return &attr_; }

 private:
  posix_spawnattr_t attr_;
};

class FileActions {
 public:
  FileActions(int stdout_fd, int stderr_fd) {
    posix_spawn_file_actions_init(&actions_);
    posix_spawn_file_actions_addopen(&actions_, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&actions_, stdout_fd, STDOUT_FILENO);
    posix_spawn_file_actions_adddup2(&actions_, stderr_fd, STDERR_FILENO);
  }
  ~FileActions() { posix_spawn_file_actions_destroy(&actions_); }
  FileActions(const FileActions&) = delete;
  FileActions& operator=(const FileActions&) = delete;
  const posix_spawn_file_actions_t* get() const { return &actions_; }

 private:
  posix_spawn_file_actions_t actions_;
};

// environ with `extra` added; an inherited variable that `extra` sets is left out.
std::vector<std::string> EnvironmentWith(const std::vector<std::string>& extra) {
  std::vector<std::string> env;
  for (char** entry = environ; *entry != nullptr; ++entry) {
    const absl::string_view inherited = *entry;
    const absl::string_view name = inherited.substr(0, inherited.find('='));
    const bool overridden = std::any_of(extra.begin(), extra.end(), [name](const std::string& e) {
      return absl::StartsWith(e, absl::StrCat(name, "="));
    });
    if (!overridden) env.emplace_back(inherited);
  }
  env.insert(env.end(), extra.begin(), extra.end());
  return env;
}

std::vector<char*> CStrings(const std::vector<std::string>& strings) {
  std::vector<char*> pointers;
  pointers.reserve(strings.size() + 1);
  for (const std::string& s : strings) pointers.push_back(const_cast<char*>(s.c_str()));
  pointers.push_back(nullptr);
  return pointers;
}

}  // namespace

absl::StatusOr<std::unique_ptr<ChildProcess>> ChildProcess::Spawn(
    const std::vector<std::string>& argv, const std::vector<std::string>& extra_env) {
  if (argv.empty()) return absl::InvalidArgumentError("empty argv");
  absl::StatusOr<std::array<int, 2>> out = MakePipe();
  if (!out.ok()) return out.status();
  absl::StatusOr<std::array<int, 2>> err = MakePipe();
  if (!err.ok()) return err.status();
  absl::StatusOr<std::array<int, 2>> wake = MakePipe();
  if (!wake.ok()) return wake.status();

  std::vector<char*> args = CStrings(argv);
  const std::vector<std::string> env_strings = EnvironmentWith(extra_env);
  std::vector<char*> env = CStrings(env_strings);

  pid_t pid = 0;
  int rc = 0;
  {
    FileActions actions((*out)[1], (*err)[1]);
    SpawnAttributes attributes;
    rc = posix_spawnp(&pid, args[0], actions.get(), attributes.get(), args.data(), env.data());
  }
  close((*out)[1]);
  close((*err)[1]);
  if (rc != 0) {
    for (int fd : {(*out)[0], (*err)[0], (*wake)[0], (*wake)[1]}) close(fd);
    return absl::InternalError(
        absl::StrCat("cannot start ", absl::StrJoin(argv, " "), ": ", std::strerror(rc)));
  }
  return std::unique_ptr<ChildProcess>(
      new ChildProcess(pid, (*out)[0], (*err)[0], (*wake)[0], (*wake)[1]));
}

ChildProcess::ChildProcess(pid_t pid, int stdout_fd, int stderr_fd, int wake_read_fd,
                           int wake_write_fd)
    : pid_(pid),
      stdout_fd_(stdout_fd),
      stderr_fd_(stderr_fd),
      wake_read_fd_(wake_read_fd),
      wake_write_fd_(wake_write_fd),
      reader_([this] { ReadOutput(); }) {}

ChildProcess::~ChildProcess() {
  if (!reaped_) {
    kill(-pid_, SIGKILL);  // the whole group: the child and anything it started
    int wait_status = 0;
    waitpid(pid_, &wait_status, 0);
  }
  const char stop = 0;
  [[maybe_unused]] ssize_t written = write(wake_write_fd_, &stop, 1);
  reader_.join();
  for (int fd : {stdout_fd_, stderr_fd_, wake_read_fd_, wake_write_fd_}) close(fd);
}

void ChildProcess::ReadOutput() {
  std::array<pollfd, 3> fds = {
      {{stdout_fd_, POLLIN, 0}, {stderr_fd_, POLLIN, 0}, {wake_read_fd_, POLLIN, 0}}};
  std::array<char, 4096> buffer{};
  while (fds[0].fd >= 0 || fds[1].fd >= 0) {
    if (poll(fds.data(), fds.size(), -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (fds[2].revents != 0) break;
    for (size_t i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      const ssize_t n = read(fds[i].fd, buffer.data(), buffer.size());
      if (n < 0 && errno == EINTR) continue;
      absl::MutexLock lock(&mu_);
      std::string& text = i == 0 ? stdout_ : stderr_;
      if (n > 0) {
        text.append(buffer.data(), static_cast<size_t>(n));
      } else {
        (i == 0 ? stdout_eof_ : stderr_eof_) = true;
        fds[i].fd = -1;
      }
    }
  }
  absl::MutexLock lock(&mu_);
  stdout_eof_ = true;
  stderr_eof_ = true;
}

absl::Status ChildProcess::Signal(int signal_number) {
  if (reaped_) return absl::FailedPreconditionError("the process has exited");
  if (kill(pid_, signal_number) != 0) return ErrnoError("kill");
  return absl::OkStatus();
}

absl::StatusOr<int> ChildProcess::WaitForExit(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (!reaped_) {
    int wait_status = 0;
    const pid_t rc = waitpid(pid_, &wait_status, WNOHANG);
    if (rc == pid_) {
      reaped_ = true;
      exit_code_ = ExitCodeOf(wait_status);
      break;
    }
    if (rc < 0 && errno != EINTR) return ErrnoError("waitpid");
    if (absl::Now() >= deadline) {
      return absl::DeadlineExceededError(
          absl::StrCat("process ", pid_, " still running after ", absl::FormatDuration(timeout)));
    }
    absl::SleepFor(kPollInterval);
  }
  absl::MutexLock lock(&mu_);
  const auto output_done = [this] {
    mu_.AssertReaderHeld();
    return stdout_eof_ && stderr_eof_;
  };
  mu_.AwaitWithDeadline(absl::Condition(&output_done), deadline);
  return exit_code_;
}

absl::StatusOr<std::string> ChildProcess::WaitForStdoutLine(absl::string_view prefix,
                                                            absl::Duration timeout) {
  return WaitForStdoutLine(
      [prefix](absl::string_view line) { return absl::StartsWith(line, prefix); },
      absl::StrCat("starting with '", prefix, "'"), timeout);
}

absl::StatusOr<std::string> ChildProcess::WaitForStdoutLine(
    absl::FunctionRef<bool(absl::string_view)> matches, absl::string_view description,
    absl::Duration timeout) {
  const auto find_line = [this, matches]() -> std::optional<std::string> {
    mu_.AssertReaderHeld();
    size_t start = 0;
    for (size_t end = stdout_.find('\n'); end != std::string::npos;
         start = end + 1, end = stdout_.find('\n', start)) {
      absl::string_view line(stdout_.data() + start, end - start);
      if (matches(line)) return std::string(line);
    }
    return std::nullopt;
  };
  const auto found_or_ended = [&] {
    mu_.AssertReaderHeld();
    return stdout_eof_ || find_line().has_value();
  };
  absl::MutexLock lock(&mu_);
  mu_.AwaitWithTimeout(absl::Condition(&found_or_ended), timeout);
  if (std::optional<std::string> line = find_line()) return *std::move(line);
  if (stdout_eof_) {
    return absl::NotFoundError(
        absl::StrCat("stdout ended without a line ", description, "; stderr:\n", stderr_));
  }
  return absl::DeadlineExceededError(absl::StrCat("no stdout line ", description, " within ",
                                                  absl::FormatDuration(timeout), "; stderr:\n",
                                                  stderr_));
}

std::string ChildProcess::Stdout() const {
  absl::MutexLock lock(&mu_);
  return stdout_;
}

std::string ChildProcess::Stderr() const {
  absl::MutexLock lock(&mu_);
  return stderr_;
}

absl::StatusOr<CommandResult> RunCommand(const std::vector<std::string>& argv,
                                         absl::Duration timeout,
                                         const std::vector<std::string>& extra_env) {
  absl::StatusOr<std::unique_ptr<ChildProcess>> child = ChildProcess::Spawn(argv, extra_env);
  if (!child.ok()) return child.status();
  absl::StatusOr<int> exit_code = (*child)->WaitForExit(timeout);
  if (!exit_code.ok()) {
    return absl::DeadlineExceededError(
        absl::StrCat(absl::StrJoin(argv, " "), ": ", exit_code.status().message(), "\nstdout:\n",
                     (*child)->Stdout(), "\nstderr:\n", (*child)->Stderr()));
  }
  return CommandResult{*exit_code, (*child)->Stdout(), (*child)->Stderr()};
}

absl::StatusOr<std::unique_ptr<DaemonProcess>> DaemonProcess::Start(
    const std::vector<std::string>& flags, absl::Duration ready_timeout,
    const std::vector<std::string>& extra_env) {
  std::vector<std::string> argv = {BinaryPath(), "--listen=127.0.0.1:0"};
  std::string owned_data_dir;
  const bool chooses_journal = std::any_of(flags.begin(), flags.end(), [](const std::string& f) {
    return absl::StartsWith(f, "--data-dir") || absl::StartsWith(f, "--durability");
  });
  if (!chooses_journal) {
    absl::StatusOr<std::string> dir = MakeTempDir("batchd-data");
    if (!dir.ok()) return dir.status();
    owned_data_dir = *dir;
    argv.push_back("--data-dir=" + owned_data_dir);
  }
  argv.insert(argv.end(), flags.begin(), flags.end());
  absl::StatusOr<std::unique_ptr<ChildProcess>> child = ChildProcess::Spawn(argv, extra_env);
  if (!child.ok()) {
    RemoveTree(owned_data_dir);
    return child.status();
  }
  absl::StatusOr<std::string> line = (*child)->WaitForStdoutLine(
      [](absl::string_view l) { return ListeningAddress(l).has_value(); },
      absl::StrCat("starting with '", kListeningPrefix, "' (or its JSON form)"), ready_timeout);
  if (!line.ok()) {
    return absl::Status(line.status().code(),
                        absl::StrCat("batchd did not start: ", line.status().message()));
  }
  std::string address = *ListeningAddress(*line);
  return std::unique_ptr<DaemonProcess>(
      new DaemonProcess(*std::move(child), std::move(address), std::move(owned_data_dir)));
}

DaemonProcess::~DaemonProcess() {
  process_.reset();  // the daemon is gone before its files are
  RemoveTree(owned_data_dir_);
}

absl::StatusOr<std::string> MakeTempDir(absl::string_view prefix) {
  const char* tmp = std::getenv("TMPDIR");
  std::string pattern = absl::StrCat(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp", "/",
                                     std::string(prefix), "-XXXXXX");
  if (::mkdtemp(pattern.data()) == nullptr) {
    return absl::InternalError(absl::StrCat("mkdtemp ", pattern, ": ", std::strerror(errno)));
  }
  return pattern;
}

void RemoveTree(const std::string& path) {
  if (path.empty()) return;
  std::error_code ignored;
  std::filesystem::remove_all(path, ignored);
}

std::string DaemonProcess::BinaryPath() { return BATCHD_BINARY; }

std::shared_ptr<grpc::Channel> DaemonProcess::NewChannel() const {
  return grpc::CreateChannel(address_, grpc::InsecureChannelCredentials());
}

std::unique_ptr<v1::BatchService::Stub> DaemonProcess::NewBatchStub() const {
  return v1::BatchService::NewStub(NewChannel());
}

std::unique_ptr<v1::WorkerService::Stub> DaemonProcess::NewWorkerStub() const {
  return v1::WorkerService::NewStub(NewChannel());
}

std::unique_ptr<grpc::health::v1::Health::Stub> DaemonProcess::NewHealthStub() const {
  return grpc::health::v1::Health::NewStub(NewChannel());
}

}  // namespace batchd::testing
