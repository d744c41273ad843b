#include "server/flags/security_flags.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <utility>

#include "absl/base/config.h"
#include "absl/flags/flag.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "core/base/status_macros.h"
#include "server/flags/listen_address.h"

ABSL_FLAG(std::string, auth_token_file, "",
          "File holding a bearer token; BatchService and WorkerService calls must then "
          "send 'authorization: Bearer <token>' (Health and reflection stay open). "
          "Read once at start");
ABSL_FLAG(std::string, tls_cert, "", "PEM certificate chain: serve TLS (needs --tls-key)");
ABSL_FLAG(std::string, tls_key, "", "PEM private key of --tls-cert");
ABSL_FLAG(std::string, tls_client_ca, "",
          "PEM CA bundle: require client certificates signed by it (mTLS; needs "
          "--tls-cert)");
ABSL_FLAG(bool, allow_insecure_remote, false,
          "Allow --listen on a non-loopback TCP address without --auth-token-file or "
          "TLS (anyone who reaches the port can run tasks: private networks only)");
ABSL_FLAG(std::string, unix_socket_mode, "0660",
          "Permissions (octal) of the socket file when --listen=unix:/path");

namespace batchd::server {
namespace {

// Tokens and PEM bundles are small; a larger file is the wrong file.
constexpr size_t kMaxFileBytes = 1 << 20;

absl::StatusOr<std::string> ReadFlagFile(absl::string_view flag, const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot read --", flag, " '", path, "': ", std::strerror(errno)));
  }
  std::string contents;
  contents.assign(std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>());
  if (file.bad()) {
    return absl::InvalidArgumentError(absl::StrCat("cannot read --", flag, " '", path, "'"));
  }
  if (contents.size() > kMaxFileBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", flag, " '", path, "' is larger than ", kMaxFileBytes, " bytes"));
  }
  return contents;
}

absl::StatusOr<std::string> ReadPem(absl::string_view flag, const std::string& path) {
  ASSIGN_OR_RETURN(std::string pem, ReadFlagFile(flag, path));
  if (!absl::StrContains(pem, "-----BEGIN ")) {
    return absl::InvalidArgumentError(absl::StrCat("--", flag, " '", path, "' is not a PEM file"));
  }
  return pem;
}

absl::StatusOr<std::optional<TlsOptions>> TlsOptionsFromFlags() {
  const std::string cert = absl::GetFlag(FLAGS_tls_cert);
  const std::string key = absl::GetFlag(FLAGS_tls_key);
  const std::string client_ca = absl::GetFlag(FLAGS_tls_client_ca);
  if (cert.empty() != key.empty()) {
    return absl::InvalidArgumentError(cert.empty() ? "--tls-key needs --tls-cert"
                                                   : "--tls-cert needs --tls-key");
  }
  if (cert.empty()) {
    if (!client_ca.empty()) {
      return absl::InvalidArgumentError("--tls-client-ca needs --tls-cert and --tls-key");
    }
    return std::nullopt;
  }
  TlsOptions tls;
  ASSIGN_OR_RETURN(tls.cert_chain_pem, ReadPem("tls-cert", cert));
  ASSIGN_OR_RETURN(tls.private_key_pem, ReadPem("tls-key", key));
  if (!client_ca.empty()) {
    ASSIGN_OR_RETURN(tls.client_ca_pem, ReadPem("tls-client-ca", client_ca));
  }
  return tls;
}

}  // namespace

absl::StatusOr<uint32_t> ParseSocketMode(absl::string_view text) {
  const auto invalid = [text] {
    return absl::InvalidArgumentError(absl::StrCat("invalid --unix-socket-mode '", text,
                                                   "': expected octal permissions such as 0660"));
  };
  if (text.empty() || text.size() > 4) return invalid();
  uint32_t mode = 0;
  for (const char c : text) {
    if (c < '0' || c > '7') return invalid();
    mode = mode * 8 + static_cast<uint32_t>(c - '0');
  }
  if (mode > 0777) return invalid();
  return mode;
}

absl::StatusOr<std::string> ReadBearerToken(const std::string& path) {
  ASSIGN_OR_RETURN(const std::string contents, ReadFlagFile("auth-token-file", path));
  const absl::string_view token = absl::StripAsciiWhitespace(contents);
  if (token.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("--auth-token-file '", path, "' is empty"));
  }
  for (const char c : token) {
    if (c < 0x21 || c > 0x7e) {
      return absl::InvalidArgumentError(
          absl::StrCat("--auth-token-file '", path,
                       "': the token must be one line of visible ASCII characters without spaces"));
    }
  }
  return std::string(token);
}

absl::StatusOr<SecurityOptions> SecurityOptionsFromFlags() {
  SecurityOptions security;
  if (const std::string path = absl::GetFlag(FLAGS_auth_token_file); !path.empty()) {
    ASSIGN_OR_RETURN(security.bearer_token, ReadBearerToken(path));
  }
  ASSIGN_OR_RETURN(security.tls, TlsOptionsFromFlags());
  security.allow_insecure_remote = absl::GetFlag(FLAGS_allow_insecure_remote);
  ASSIGN_OR_RETURN(security.unix_socket_mode,
                   ParseSocketMode(absl::GetFlag(FLAGS_unix_socket_mode)));
  return security;
}

absl::StatusOr<std::vector<std::string>> CheckListenSecurity(absl::string_view listen,
                                                             const SecurityOptions& security) {
  ASSIGN_OR_RETURN(const ListenAddress address, ParseListenAddress(listen));
  std::vector<std::string> warnings;
  if (IsLocalOnly(address)) return warnings;
  const bool has_token = !security.bearer_token.empty();
  const bool has_tls = security.tls.has_value();
  if (!has_token && !has_tls) {
    if (!security.allow_insecure_remote) {
      return absl::InvalidArgumentError(absl::StrCat(
          "refusing to listen on ", listen,
          " (beyond loopback) without --auth-token-file or --tls-cert: anyone who reaches it "
          "could run tasks. Add one, or pass --allow-insecure-remote on a trusted private "
          "network"));
    }
    warnings.push_back(
        absl::StrCat("listening on ", listen, " without a token or TLS (--allow-insecure-remote)"));
  } else if (!has_tls) {
    warnings.push_back(absl::StrCat("listening on ", listen,
                                    " without TLS: the bearer token travels in clear text"));
  }
  return warnings;
}

}  // namespace batchd::server
