// A GoogleTest fixture for integration tests: starts the real batchd (with DaemonFlags()) before
// each test, offers a BatchService stub, and prints the daemon's stderr when a test failed.
// Single-threaded, like the tests that use it.
#pragma once

#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/testing/daemon_process.h"

namespace batchd::testing {

class DaemonTestBase : public ::testing::Test {
 protected:
  // Flags added to the daemon's command line; override to enable executors etc.
  virtual std::vector<std::string> DaemonFlags() const { return {}; }

  void SetUp() override {
    absl::StatusOr<std::unique_ptr<DaemonProcess>> daemon = DaemonProcess::Start(DaemonFlags());
    ASSERT_TRUE(daemon.ok()) << daemon.status();
    daemon_ = *std::move(daemon);
    batches_ = daemon_->NewBatchStub();
  }

  void TearDown() override {
    if (HasFailure() && daemon_ != nullptr) std::cerr << "batchd stderr:\n" << daemon_->Stderr();
  }

  std::unique_ptr<DaemonProcess> daemon_;
  std::unique_ptr<v1::BatchService::Stub> batches_;
};

}  // namespace batchd::testing
