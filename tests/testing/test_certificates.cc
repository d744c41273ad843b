#include "tests/testing/test_certificates.h"

#include <fstream>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "tests/testing/daemon_process.h"

namespace batchd::testing {
namespace {

constexpr absl::Duration kOpensslTimeout = absl::Seconds(60);
constexpr char kServerNames[] = "subjectAltName=DNS:localhost,IP:127.0.0.1\n";

absl::Status Openssl(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"openssl"};
  argv.insert(argv.end(), args.begin(), args.end());
  absl::StatusOr<CommandResult> result = RunCommand(argv, kOpensslTimeout);
  if (!result.ok()) return result.status();
  if (result->exit_code != 0) {
    return absl::InternalError(absl::StrCat("openssl ", args[0], " failed: ", result->stderr_text));
  }
  return absl::OkStatus();
}

absl::Status MakeCa(const std::string& dir, const std::string& name) {
  return Openssl({"req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                  "-nodes", "-days", "2", "-subj", absl::StrCat("/CN=", name), "-keyout",
                  absl::StrCat(dir, "/", name, ".key"), "-out",
                  absl::StrCat(dir, "/", name, ".pem")});
}

absl::Status MakeLeaf(const std::string& dir, const std::string& ca, const std::string& name,
                      const std::string& extensions, int serial) {
  const std::string base = absl::StrCat(dir, "/", name);
  std::ofstream(base + ".ext") << extensions;
  if (absl::Status s = Openssl({"req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                                "-nodes", "-subj", absl::StrCat("/CN=", name), "-keyout",
                                base + ".key", "-out", base + ".csr"});
      !s.ok()) {
    return s;
  }
  return Openssl({"x509", "-req", "-in", base + ".csr", "-CA", absl::StrCat(dir, "/", ca, ".pem"),
                  "-CAkey", absl::StrCat(dir, "/", ca, ".key"), "-set_serial", absl::StrCat(serial),
                  "-days", "2", "-extfile", base + ".ext", "-out", base + ".pem"});
}

}  // namespace

absl::StatusOr<TestCertificates> MakeTestCertificates(const std::string& dir) {
  for (const char* ca : {"ca", "rogue-ca"}) {
    if (absl::Status s = MakeCa(dir, ca); !s.ok()) return s;
  }
  struct Leaf {
    const char* ca;
    const char* name;
    std::string extensions;
  };
  const Leaf leaves[] = {
      {"ca", "server", absl::StrCat(kServerNames, "extendedKeyUsage=serverAuth\n")},
      {"ca", "elsewhere", "subjectAltName=DNS:elsewhere.test\nextendedKeyUsage=serverAuth\n"},
      {"ca", "client", "extendedKeyUsage=clientAuth\n"},
      {"rogue-ca", "rogue", "extendedKeyUsage=clientAuth\n"},
      {"rogue-ca", "rogue-server", absl::StrCat(kServerNames, "extendedKeyUsage=serverAuth\n")},
  };
  int serial = 0;
  for (const Leaf& leaf : leaves) {
    if (absl::Status s = MakeLeaf(dir, leaf.ca, leaf.name, leaf.extensions, ++serial); !s.ok()) {
      return s;
    }
  }
  const auto path = [&dir](const char* name) { return absl::StrCat(dir, "/", name); };
  TestCertificates certs;
  certs.ca = path("ca.pem");
  certs.server_cert = path("server.pem");
  certs.server_key = path("server.key");
  certs.elsewhere_cert = path("elsewhere.pem");
  certs.elsewhere_key = path("elsewhere.key");
  certs.client_cert = path("client.pem");
  certs.client_key = path("client.key");
  certs.rogue_cert = path("rogue.pem");
  certs.rogue_key = path("rogue.key");
  certs.rogue_server_cert = path("rogue-server.pem");
  certs.rogue_server_key = path("rogue-server.key");
  return certs;
}

}  // namespace batchd::testing
