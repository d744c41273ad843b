// A test fixture for code that reads the daemon's flags: Set() sets a flag as the command
// line would, and every flag is put back after each test (absl::FlagSaver).
#pragma once

#include <string>

#include "absl/flags/reflection.h"
#include "absl/strings/string_view.h"
#include "gtest/gtest.h"

namespace batchd::testing {

class FlagTest : public ::testing::Test {
 protected:
  // Sets the flag registered as `name` as the command line would.
  static void Set(absl::string_view name, absl::string_view value) {
    absl::CommandLineFlag* flag = absl::FindCommandLineFlag(name);
    ASSERT_NE(flag, nullptr) << name;
    std::string error;
    ASSERT_TRUE(flag->ParseFrom(value, &error)) << name << ": " << error;
  }

 private:
  absl::FlagSaver saver_;
};

}  // namespace batchd::testing
