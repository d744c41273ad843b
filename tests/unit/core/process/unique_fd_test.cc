// UniqueFd closes what it owns exactly when it stops owning it, and never what it gave away.
#include "core/process/unique_fd.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <array>
#include <utility>

namespace batchd::core {
namespace {

bool IsOpen(int fd) { return fcntl(fd, F_GETFD) != -1; }

// Both ends of a new pipe; the test closes what UniqueFd does not.
std::array<int, 2> Pipe() {
  std::array<int, 2> fds{-1, -1};
  EXPECT_EQ(pipe(fds.data()), 0);
  return fds;
}

TEST(UniqueFdTest, DefaultOwnsNothing) {
  UniqueFd fd;
  EXPECT_FALSE(fd.valid());
  EXPECT_EQ(fd.get(), -1);
}

TEST(UniqueFdTest, ClosesOnDestruction) {
  const std::array<int, 2> fds = Pipe();
  {
    UniqueFd read_end(fds[0]);
    EXPECT_TRUE(read_end.valid());
    EXPECT_EQ(read_end.get(), fds[0]);
  }
  EXPECT_FALSE(IsOpen(fds[0]));
  close(fds[1]);
}

TEST(UniqueFdTest, ReleaseGivesUpOwnershipWithoutClosing) {
  const std::array<int, 2> fds = Pipe();
  {
    UniqueFd read_end(fds[0]);
    EXPECT_EQ(read_end.Release(), fds[0]);
    EXPECT_FALSE(read_end.valid());
  }
  EXPECT_TRUE(IsOpen(fds[0]));
  close(fds[0]);
  close(fds[1]);
}

TEST(UniqueFdTest, ResetClosesTheOldAndOwnsTheNew) {
  const std::array<int, 2> fds = Pipe();
  UniqueFd fd(fds[0]);
  fd.Reset(fds[1]);
  EXPECT_FALSE(IsOpen(fds[0]));
  EXPECT_TRUE(IsOpen(fds[1]));
  EXPECT_EQ(fd.get(), fds[1]);
  fd.Reset();
  EXPECT_FALSE(IsOpen(fds[1]));
  EXPECT_FALSE(fd.valid());
}

TEST(UniqueFdTest, MoveHandsOwnershipOver) {
  const std::array<int, 2> fds = Pipe();
  UniqueFd from(fds[0]);
  UniqueFd to(std::move(from));
  EXPECT_FALSE(from.valid());  // NOLINT(bugprone-use-after-move): moved-from state is specified
  EXPECT_EQ(to.get(), fds[0]);
  EXPECT_TRUE(IsOpen(fds[0]));
  close(fds[1]);
}

TEST(UniqueFdTest, MoveAssignmentClosesWhatTheTargetHeld) {
  const std::array<int, 2> fds = Pipe();
  UniqueFd target(fds[0]);
  UniqueFd source(fds[1]);
  target = std::move(source);
  EXPECT_FALSE(IsOpen(fds[0]));
  EXPECT_TRUE(IsOpen(fds[1]));
  EXPECT_EQ(target.get(), fds[1]);
  EXPECT_FALSE(source.valid());  // NOLINT(bugprone-use-after-move)
}

TEST(UniqueFdTest, SelfMoveAssignmentKeepsTheDescriptor) {
  const std::array<int, 2> fds = Pipe();
  UniqueFd fd(fds[0]);
  UniqueFd& same = fd;
  fd = std::move(same);
  EXPECT_EQ(fd.get(), fds[0]);
  EXPECT_TRUE(IsOpen(fds[0]));
  close(fds[1]);
}

}  // namespace
}  // namespace batchd::core
