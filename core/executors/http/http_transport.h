// What every request of one http executor shares: the TLS client context, the egress policy,
// the connection pool, the DNS cache and the proxies. Built once with the executor; the parts
// are thread-safe (immutable, or locked inside).
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/context.hpp>
#include <chrono>
#include <memory>
#include <utility>

#include "core/executors/http/connection_pool.h"
#include "core/executors/http/dns_cache.h"
#include "core/executors/http/egress_policy.h"
#include "core/executors/http/proxy_config.h"

namespace batchd::core {

struct HttpTransportOptions {
  ConnectionPoolOptions pool;
  std::chrono::milliseconds dns_timeout{5000};  // --http-dns-timeout
  std::chrono::milliseconds dns_ttl{10000};     // --http-dns-ttl (0: no cache)
  ProxyConfig proxy;                            // HTTP_PROXY, HTTPS_PROXY, NO_PROXY
};

class HttpTransport {
 public:
  // `tls` may be null (no https://), `egress` null (everything allowed: tests of the exchange).
  HttpTransport(boost::asio::io_context& io, std::shared_ptr<boost::asio::ssl::context> tls,
                std::shared_ptr<const EgressPolicy> egress, HttpTransportOptions options)
      : tls_(std::move(tls)),
        egress_(std::move(egress)),
        options_(std::move(options)),
        pool_(std::make_shared<ConnectionPool>(io, tls_, options_.pool)),
        dns_(options_.dns_ttl) {}

  boost::asio::ssl::context* tls() const { return tls_.get(); }
  const EgressPolicy* egress() const { return egress_.get(); }
  const ProxyConfig& proxy() const { return options_.proxy; }
  std::chrono::milliseconds dns_timeout() const { return options_.dns_timeout; }
  ConnectionPool& pool() { return *pool_; }
  std::shared_ptr<const ConnectionPool> shared_pool() const { return pool_; }
  DnsCache& dns() { return dns_; }

 private:
  const std::shared_ptr<boost::asio::ssl::context> tls_;
  const std::shared_ptr<const EgressPolicy> egress_;
  const HttpTransportOptions options_;
  const std::shared_ptr<ConnectionPool> pool_;
  DnsCache dns_;
};

}  // namespace batchd::core
