#include "client/cpp/channel.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/client_interceptor.h>
#include <grpcpp/support/interceptor.h>

#include <array>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "core/base/status_macros.h"

namespace batchd::client {
namespace {

constexpr absl::string_view kUnixScheme = "unix:";
constexpr size_t kMaxFileBytes = 1 << 20;

absl::Status InvalidAddress(absl::string_view address, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("invalid address '", address, "': ", why,
                                                 " (expected host:port or unix:/path)"));
}

bool ValidHost(absl::string_view host) {
  if (host.empty()) return false;
  if (absl::StartsWith(host, "[")) return absl::EndsWith(host, "]") && host.size() > 2;
  // A bare IPv6 literal is ambiguous with the port separator.
  return !absl::StrContains(host, ':');
}

absl::StatusOr<std::string> ReadFlagFile(absl::string_view flag, const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot read --", flag, " '", path, "': ", std::strerror(errno)));
  }
  std::string contents((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  if (file.bad()) {
    return absl::InvalidArgumentError(absl::StrCat("cannot read --", flag, " '", path, "'"));
  }
  if (contents.size() > kMaxFileBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", flag, " '", path, "' is larger than ", kMaxFileBytes, " bytes"));
  }
  if (absl::StripAsciiWhitespace(contents).empty()) {
    return absl::InvalidArgumentError(absl::StrCat("--", flag, " '", path, "' is empty"));
  }
  return contents;
}

absl::StatusOr<std::string> ReadToken(const std::string& path) {
  ASSIGN_OR_RETURN(const std::string contents, ReadFlagFile("token-file", path));
  const absl::string_view token = absl::StripAsciiWhitespace(contents);
  for (const char c : token) {
    if (c < 0x21 || c > 0x7e) {
      return absl::InvalidArgumentError(
          absl::StrCat("--token-file '", path,
                       "': the token must be one line of visible ASCII characters without spaces"));
    }
  }
  return std::string(token);
}

// Adds the authorization header to every call of the channel, whatever its credentials. (Call
// credentials would do it only on channels gRPC deems secure: not on plaintext loopback or
// unix-socket channels, where a token is still wanted.)
class BearerTokenInterceptor final : public grpc::experimental::Interceptor {
 public:
  explicit BearerTokenInterceptor(std::string header) : header_(std::move(header)) {}

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            grpc::experimental::InterceptionHookPoints::PRE_SEND_INITIAL_METADATA)) {
      methods->GetSendInitialMetadata()->emplace("authorization", header_);
    }
    methods->Proceed();
  }

 private:
  const std::string header_;
};

class BearerTokenInterceptorFactory final
    : public grpc::experimental::ClientInterceptorFactoryInterface {
 public:
  explicit BearerTokenInterceptorFactory(absl::string_view token)
      : header_(absl::StrCat("Bearer ", token)) {}

  grpc::experimental::Interceptor* CreateClientInterceptor(
      grpc::experimental::ClientRpcInfo* /*info*/) override {
    return new BearerTokenInterceptor(header_);
  }

 private:
  const std::string header_;
};

std::shared_ptr<grpc::ChannelCredentials> CredentialsFor(const ChannelSecurity& security) {
  if (!security.tls) return grpc::InsecureChannelCredentials();
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = security.tls_root_certs_pem;
  ssl.pem_cert_chain = security.tls_cert_chain_pem;
  ssl.pem_private_key = security.tls_private_key_pem;
  return grpc::SslCredentials(ssl);
}

}  // namespace

absl::StatusOr<ChannelSecurity> LoadChannelSecurity(const ChannelSecurityFiles& files) {
  ChannelSecurity security;
  if (!files.token_file.empty()) {
    ASSIGN_OR_RETURN(security.bearer_token, ReadToken(files.token_file));
  }
  if (files.tls_cert_file.empty() != files.tls_key_file.empty()) {
    return absl::InvalidArgumentError(files.tls_cert_file.empty() ? "--tls-key needs --tls-cert"
                                                                  : "--tls-cert needs --tls-key");
  }
  security.tls =
      !files.tls_ca_file.empty() || !files.tls_cert_file.empty() || !files.tls_server_name.empty();
  security.tls_server_name = files.tls_server_name;
  struct PemFile {
    absl::string_view flag;
    const std::string& path;
    std::string& contents;
  };
  const std::array<PemFile, 3> pem_files = {{
      {"tls-ca", files.tls_ca_file, security.tls_root_certs_pem},
      {"tls-cert", files.tls_cert_file, security.tls_cert_chain_pem},
      {"tls-key", files.tls_key_file, security.tls_private_key_pem},
  }};
  for (const PemFile& file : pem_files) {
    if (file.path.empty()) continue;
    ASSIGN_OR_RETURN(file.contents, ReadFlagFile(file.flag, file.path));
  }
  return security;
}

absl::StatusOr<std::string> ResolveTarget(absl::string_view address) {
  if (absl::StartsWith(address, kUnixScheme)) {
    if (address.size() == kUnixScheme.size()) return InvalidAddress(address, "empty socket path");
    return std::string(address);
  }
  const size_t colon = address.rfind(':');
  if (colon == absl::string_view::npos) return InvalidAddress(address, "missing port");
  if (!ValidHost(address.substr(0, colon))) return InvalidAddress(address, "bad host");
  uint32_t port = 0;
  if (!absl::SimpleAtoi(address.substr(colon + 1), &port) || port == 0 || port > 65535) {
    return InvalidAddress(address, "port must be 1-65535");
  }
  return absl::StrCat("dns:///", address);
}

absl::StatusOr<std::shared_ptr<grpc::Channel>> CreateChannel(const ChannelOptions& options) {
  ASSIGN_OR_RETURN(const std::string target, ResolveTarget(options.address));
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(options.max_receive_message_bytes);
  return CreateSecureChannel(target, options.security, args);
}

std::shared_ptr<grpc::Channel> CreateSecureChannel(const std::string& target,
                                                   const ChannelSecurity& security,
                                                   grpc::ChannelArguments args) {
  if (security.tls && !security.tls_server_name.empty()) {
    args.SetSslTargetNameOverride(security.tls_server_name);
  }
  std::vector<std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface>> interceptors;
  if (!security.bearer_token.empty()) {
    interceptors.push_back(std::make_unique<BearerTokenInterceptorFactory>(security.bearer_token));
  }
  return grpc::experimental::CreateCustomChannelWithInterceptors(target, CredentialsFor(security),
                                                                 args, std::move(interceptors));
}

}  // namespace batchd::client
