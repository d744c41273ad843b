// Certificates `openssl` makes for a test program in a directory it owns: a CA, a server
// certificate for localhost and 127.0.0.1, a server certificate for another name, a client
// certificate, and a client and a server certificate from a CA nothing trusts. Paths to PEM
// files. Takes a few hundred milliseconds: make them once per test program.
#pragma once

#include <string>

#include "absl/status/statusor.h"

namespace batchd::testing {

struct TestCertificates {
  std::string ca;                                   // the CA that signs the ones below but "rogue"
  std::string server_cert, server_key;              // localhost, 127.0.0.1 (serverAuth)
  std::string elsewhere_cert, elsewhere_key;        // elsewhere.test only (serverAuth)
  std::string client_cert, client_key;              // clientAuth
  std::string rogue_cert, rogue_key;                // clientAuth, from an untrusted CA
  std::string rogue_server_cert, rogue_server_key;  // localhost, 127.0.0.1, untrusted CA
};

// Runs openssl to make them in `dir` (which must exist); INTERNAL with openssl's stderr when it
// fails.
absl::StatusOr<TestCertificates> MakeTestCertificates(const std::string& dir);

}  // namespace batchd::testing
