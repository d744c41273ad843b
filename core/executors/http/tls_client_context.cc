#include "core/executors/http/tls_client_context.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <boost/asio/ip/address.hpp>

#include "absl/strings/str_cat.h"

namespace batchd::core {
namespace {

std::string OpenSslError() {
  const unsigned long code = ERR_get_error();  // NOLINT(google-runtime-int): OpenSSL's type
  if (code == 0) return "unknown error";
  char text[256];
  ERR_error_string_n(code, text, sizeof text);
  ERR_clear_error();
  return text;
}

}  // namespace

absl::StatusOr<std::shared_ptr<boost::asio::ssl::context>> MakeTlsClientContext(
    const std::string& ca_file) {
  auto context = std::make_shared<boost::asio::ssl::context>(boost::asio::ssl::context::tls_client);
  SSL_CTX* native = context->native_handle();
  SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION);
  SSL_CTX_set_verify(native, SSL_VERIFY_PEER, nullptr);
  if (SSL_CTX_set_default_verify_paths(native) != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("http: cannot load the system's trust store: ", OpenSslError()));
  }
  if (!ca_file.empty() && SSL_CTX_load_verify_locations(native, ca_file.c_str(), nullptr) != 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--http-ca-file: cannot load CA certificates from '", ca_file, "': ", OpenSslError()));
  }
  return context;
}

void ExpectTlsPeer(SSL* ssl, const std::string& host) {
  boost::system::error_code ec;
  boost::asio::ip::make_address(host, ec);
  X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
  if (!ec) {
    X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str());
    return;
  }
  // SSL_set_tlsext_host_name, without its C cast.
  SSL_ctrl(ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
           const_cast<char*>(host.c_str()));
  X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  X509_VERIFY_PARAM_set1_host(param, host.c_str(), host.size());
}

std::string TlsVerifyFailure(SSL* ssl) {
  const long result = SSL_get_verify_result(ssl);  // NOLINT(google-runtime-int): OpenSSL's type
  if (result == X509_V_OK) return "";
  return X509_verify_cert_error_string(result);
}

}  // namespace batchd::core
