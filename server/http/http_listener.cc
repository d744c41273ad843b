#include "server/http/http_listener.h"

#include <google/protobuf/descriptor.h>

#include <boost/asio/ip/address.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <optional>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "server/http/dashboard_assets.h"
#include "server/http/http_routes.h"
#include "server/http/json_transcoding.h"
#include "spdlog/spdlog.h"

namespace batchd::server::http_api {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

struct HttpListener::Shared {
  HttpListenerConfig config;
  std::unique_ptr<RpcBridge> bridge;  // set by Serve, before the first connection
  std::atomic<uint32_t> connections{0};
  // gRPC calls whose last callback has not run yet (the listener waits for them).
  std::atomic<int> calls{0};

  explicit Shared(HttpListenerConfig c) : config(std::move(c)) {}
};

namespace {

constexpr char kJson[] = "application/json; charset=utf-8";
constexpr size_t kHeaderLimit = 64 << 10;

absl::string_view View(beast::string_view s) { return absl::string_view(s.data(), s.size()); }

std::chrono::milliseconds Chrono(absl::Duration d) {
  return std::chrono::milliseconds(absl::ToInt64Milliseconds(d));
}

// google.rpc.Status JSON for an error the gateway itself finds (the same shape the services'
// errors get).
std::string ErrorJson(grpc::StatusCode code, absl::string_view message) {
  return StatusToJson(grpc::Status(code, std::string(message)));
}

// Whether a Host header names this machine by an IP address or as localhost.
bool HostIsLiteral(absl::string_view host) {
  if (host.empty()) return false;
  if (host.front() == '[') return host.find(']') != absl::string_view::npos;  // IPv6 literal
  const size_t colon = host.rfind(':');
  std::string name(host.substr(0, colon));
  absl::AsciiStrToLower(&name);
  if (name == "localhost" || absl::EndsWith(name, ".localhost")) return true;
  beast::error_code ec;
  net::ip::make_address_v4(name, ec);
  return !ec;
}

bool IsJsonContentType(absl::string_view type) {
  const absl::string_view media = type.substr(0, type.find(';'));
  return absl::EqualsIgnoreCase(absl::StripAsciiWhitespace(media), "application/json");
}

// The value of a uint64 field `name` of `message`, as text; "" without one.
std::string EventId(const google::protobuf::Message& message, absl::string_view name) {
  if (name.empty()) return "";
  const auto* field = message.GetDescriptor()->FindFieldByName(std::string(name));
  if (field == nullptr || field->cpp_type() != google::protobuf::FieldDescriptor::CPPTYPE_UINT64) {
    return "";
  }
  return absl::StrCat(message.GetReflection()->GetUInt64(message, field));
}

// One connection: requests one after another (keep-alive), each answered in full or as a
// stream; everything on the connection's strand.
class Session : public std::enable_shared_from_this<Session>, public StreamReader {
 public:
  Session(tcp::socket socket, std::shared_ptr<HttpListener::Shared> shared)
      : stream_(std::move(socket)), shared_(std::move(shared)) {}

  ~Session() override { shared_->connections.fetch_sub(1); }

  void Run() { ReadHeader(); }

  void RefuseBusy() {
    Respond(http::status::service_unavailable, kJson,
            ErrorJson(grpc::StatusCode::UNAVAILABLE,
                      absl::StrCat("too many HTTP connections (--http-api-max-connections ",
                                   shared_->config.options.max_connections, ")")),
            /*close=*/true);
  }

  // StreamReader, on gRPC threads.
  void OnMessage(const google::protobuf::Message& message, std::function<void()> next) override {
    std::string json = MessageToJson(message);
    std::string frame;
    if (sse_) {
      const std::string id = EventId(message, route_->event_id_field);
      if (!id.empty()) absl::StrAppend(&frame, "id: ", id, "\n");
      absl::StrAppend(&frame, "data: ", json, "\n\n");
    } else {
      frame = std::move(json);
      frame.push_back('\n');
    }
    net::post(stream_.get_executor(), [self = shared_from_this(), frame = std::move(frame),
                                       next = std::move(next)]() mutable {
      self->WriteFrame(std::move(frame), std::move(next));
    });
  }

  void OnEnd(const grpc::Status& status) override {
    std::shared_ptr<HttpListener::Shared> shared = shared_;
    net::post(stream_.get_executor(),
              [self = shared_from_this(), status] { self->EndStream(status); });
    shared->calls.fetch_sub(1);
  }

 private:
  const HttpApiOptions& options() const { return shared_->config.options; }

  void ReadHeader() {
    parser_.emplace();
    parser_->header_limit(kHeaderLimit);
    parser_->body_limit(options().max_body_bytes);
    stream_.expires_after(Chrono(served_ == 0 ? options().read_timeout : options().idle_timeout));
    http::async_read_header(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, size_t) { self->OnHeader(ec); });
  }

  void OnHeader(beast::error_code header_error) {
    if (header_error) return OnReadError(header_error);
    stream_.expires_after(Chrono(options().read_timeout));
    // curl sends "Expect: 100-continue" before a body over 1 MiB and waits a second for this.
    const auto expect = parser_->get().find(http::field::expect);
    if (expect != parser_->get().end() &&
        absl::EqualsIgnoreCase(View(expect->value()), "100-continue")) {
      static constexpr char kContinue[] = "HTTP/1.1 100 Continue\r\n\r\n";
      net::async_write(stream_, net::buffer(kContinue, sizeof(kContinue) - 1),
                       [self = shared_from_this()](beast::error_code ec, size_t) {
                         if (ec) return self->Close();
                         self->ReadBody();
                       });
      return;
    }
    ReadBody();
  }

  void ReadBody() {
    http::async_read(stream_, buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code ec, size_t) {
                       if (ec) return self->OnReadError(ec);
                       self->stream_.expires_never();
                       self->Handle(self->parser_->release());
                     });
  }

  void OnReadError(beast::error_code ec) {
    if (ec == http::error::body_limit) {
      return Respond(
          http::status::payload_too_large, kJson,
          ErrorJson(grpc::StatusCode::RESOURCE_EXHAUSTED,
                    absl::StrCat("the request body exceeds the limit of ", options().max_body_bytes,
                                 " bytes (--http-api-max-body-bytes)")),
          true);
    }
    if (ec == http::error::header_limit) {
      return Respond(http::status::request_header_fields_too_large, kJson,
                     ErrorJson(grpc::StatusCode::INVALID_ARGUMENT,
                               absl::StrCat("the request header exceeds ", kHeaderLimit, " bytes")),
                     true);
    }
    if (ec == beast::error::timeout) {
      spdlog::debug("http: closed a connection idle or slow past its timeout");
      return Close();
    }
    if (ec == http::error::end_of_stream || ec == net::error::eof ||
        ec == net::error::connection_reset || ec == net::error::operation_aborted) {
      return Close();
    }
    // Anything else is a malformed request.
    Respond(http::status::bad_request, kJson,
            ErrorJson(grpc::StatusCode::INVALID_ARGUMENT,
                      absl::StrCat("malformed HTTP request: ", ec.message())),
            true);
  }

  void Handle(http::request<http::string_body> request) {
    ++served_;
    request_ = std::move(request);
    keep_alive_ = request_.keep_alive();
    const absl::string_view target(request_.target().data(), request_.target().size());
    const size_t question = target.find('?');
    const absl::string_view path = target.substr(0, question);
    const absl::string_view query =
        question == absl::string_view::npos ? absl::string_view() : target.substr(question + 1);
    const auto header = [this](auto f) {
      const auto it = request_.find(f);
      return it == request_.end() ? absl::string_view()
                                  : absl::string_view(it->value().data(), it->value().size());
    };
    spdlog::debug("http: {} {}", std::string(View(request_.method_string())), std::string(target));

    if (!shared_->config.token_required && !HostIsLiteral(header(http::field::host))) {
      return Respond(
          http::status::forbidden, kJson,
          ErrorJson(grpc::StatusCode::PERMISSION_DENIED,
                    absl::StrCat("Host '", header(http::field::host),
                                 "' is not served without --auth-token-file: address batchd by "
                                 "an IP address or localhost (a guard against DNS rebinding)")));
    }
    const http::verb method = request_.method();
    const bool read_only = method == http::verb::get || method == http::verb::head;
    if (path == "/healthz" || path == "/readyz" || path == "/metrics" || path == "/" ||
        path == "/index.html" || absl::StartsWith(path, "/assets/")) {
      if (!read_only) {
        return Respond(http::status::method_not_allowed, kJson,
                       ErrorJson(grpc::StatusCode::UNIMPLEMENTED,
                                 absl::StrCat(View(request_.method_string()), " ", path,
                                              " is not served: only GET and HEAD are")),
                       false, {{"Allow", "GET, HEAD"}});
      }
      if (path == "/healthz") return Respond(http::status::ok, kJson, R"({"status":"SERVING"})");
      if (path == "/readyz") {
        const bool ready = shared_->config.ready && shared_->config.ready();
        return Respond(ready ? http::status::ok : http::status::service_unavailable, kJson,
                       ready ? R"({"status":"SERVING"})" : R"({"status":"NOT_SERVING"})");
      }
      if (path == "/metrics") {
        if (!shared_->config.metrics) return NotFound(path);
        return Respond(http::status::ok, "text/plain; version=0.0.4; charset=utf-8",
                       shared_->config.metrics());
      }
      const absl::string_view name =
          absl::StartsWith(path, "/assets/") ? path.substr(8) : absl::string_view("index.html");
      return ServeAsset(name, header(http::field::if_none_match));
    }
    if (!absl::StartsWith(path, "/v1/")) return NotFound(path);

    const std::string method_name(request_.method_string());
    RouteMatch match = MatchRoute(method_name, path);
    if (match.route == nullptr) {
      if (match.allowed_methods.empty()) return NotFound(path);
      std::string allow;
      for (absl::string_view m : match.allowed_methods) {
        absl::StrAppend(&allow, allow.empty() ? "" : ", ", m);
      }
      return Respond(http::status::method_not_allowed, kJson,
                     ErrorJson(grpc::StatusCode::UNIMPLEMENTED,
                               absl::StrCat(method_name, " ", path, " is not served: use ", allow)),
                     false, {{"Allow", allow}});
    }
    if ((method == http::verb::post || method == http::verb::put) &&
        !IsJsonContentType(header(http::field::content_type))) {
      return Respond(
          http::status::unsupported_media_type, kJson,
          ErrorJson(
              grpc::StatusCode::INVALID_ARGUMENT,
              absl::StrCat(method_name, " ", path, " needs Content-Type: application/json (got '",
                           header(http::field::content_type), "'; curl: --json '{...}')")));
    }
    absl::StatusOr<std::unique_ptr<google::protobuf::Message>> rpc_request =
        BuildRequest(match, query, request_.body(), header("Last-Event-ID"));
    if (!rpc_request.ok()) {
      return Respond(http::status::bad_request, kJson,
                     ErrorJson(grpc::StatusCode::INVALID_ARGUMENT, rpc_request.status().message()));
    }
    Metadata metadata;
    if (const absl::string_view auth = header(http::field::authorization); !auth.empty()) {
      metadata.emplace_back("authorization", std::string(auth));
    }
    route_ = match.route;
    if (route_->server_streaming) {
      sse_ = absl::StrContains(header(http::field::accept), "text/event-stream");
      stream_self_ = shared_from_this();
      shared_->calls.fetch_add(1);
      call_ = shared_->bridge->Stream(*route_, *std::move(rpc_request), metadata, this);
      WatchForClose();
      return;
    }
    shared_->calls.fetch_add(1);
    shared_->bridge->Call(
        *route_, *std::move(rpc_request), metadata,
        [self = shared_from_this()](const grpc::Status& status,
                                    std::unique_ptr<google::protobuf::Message> response) {
          // Converted here, on gRPC's thread; written on the connection's strand.
          const int code = HttpStatusFor(status.error_code());
          std::string body = status.ok() ? MessageToJson(*response) : StatusToJson(status);
          net::post(self->stream_.get_executor(), [self, code, body = std::move(body)]() mutable {
            self->Respond(static_cast<http::status>(code), kJson, std::move(body));
          });
          self->shared_->calls.fetch_sub(1);
        });
  }

  void NotFound(absl::string_view path) {
    Respond(http::status::not_found, kJson,
            ErrorJson(grpc::StatusCode::NOT_FOUND,
                      absl::StrCat("no such path: ", path,
                                   " (the API is under /v1/, the dashboard at /; see the README's "
                                   "HTTP API table)")));
  }

  void ServeAsset(absl::string_view name, absl::string_view if_none_match) {
    const Asset* asset = FindAsset(name);
    if (asset == nullptr) return NotFound(absl::StrCat("/assets/", name));
    std::vector<std::pair<std::string, std::string>> headers = {
        {"ETag", std::string(asset->etag)},
        {"Cache-Control", "no-cache"},
        {"Content-Security-Policy",
         "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
         "connect-src 'self'; frame-ancestors 'none'"},
        {"X-Frame-Options", "DENY"},
        {"Referrer-Policy", "no-referrer"}};
    if (!if_none_match.empty() && if_none_match == asset->etag) {
      return Respond(http::status::not_modified, asset->content_type, "", false, headers);
    }
    Respond(http::status::ok, asset->content_type, std::string(asset->data), false, headers);
  }

  void Respond(http::status status, absl::string_view content_type, std::string body,
               bool close = false, std::vector<std::pair<std::string, std::string>> headers = {}) {
    response_ = {};
    response_.version(11);
    response_.result(status);
    response_.set(http::field::content_type, std::string(content_type));
    response_.set("X-Content-Type-Options", "nosniff");
    if (!absl::StrContains(content_type, "html") && !absl::StrContains(content_type, "script") &&
        !absl::StrContains(content_type, "css")) {
      response_.set(http::field::cache_control, "no-store");
    }
    if (status == http::status::unauthorized) {
      response_.set(http::field::www_authenticate, "Bearer realm=\"batchd\"");
    }
    for (auto& [name, value] : headers) response_.set(name, value);
    const bool head = request_.method() == http::verb::head;
    response_.body() = std::move(body);
    response_.keep_alive(keep_alive_ && !close);
    response_.prepare_payload();
    if (head) response_.body().clear();  // HEAD: GET's Content-Length, no content
    stream_.expires_after(Chrono(options().write_timeout));
    http::async_write(stream_, response_,
                      [self = shared_from_this()](beast::error_code ec, size_t) {
                        self->stream_.expires_never();
                        if (ec || !self->response_.keep_alive()) return self->Close();
                        self->ReadHeader();
                      });
  }

  // --- streams -------------------------------------------------------------------------

  // A read that only ends when the client goes away: then the call is cancelled.
  void WatchForClose() {
    stream_.socket().async_read_some(
        net::buffer(probe_), [self = shared_from_this()](beast::error_code ec, size_t) {
          if (ec) {
            if (self->call_) self->call_->Cancel();
            return;
          }
          self->WatchForClose();  // bytes after the request (pipelining) are ignored
        });
  }

  void SendStreamHeader() {
    stream_header_ = std::make_unique<http::response<http::empty_body>>();
    stream_header_->version(11);
    stream_header_->result(http::status::ok);
    stream_header_->set(http::field::content_type,
                        sse_ ? "text/event-stream; charset=utf-8" : "application/x-ndjson");
    stream_header_->set(http::field::cache_control, "no-store");
    stream_header_->set("X-Content-Type-Options", "nosniff");
    stream_header_->keep_alive(false);
    stream_header_->chunked(true);
    header_serializer_ =
        std::make_unique<http::response_serializer<http::empty_body>>(*stream_header_);
    header_sent_ = true;
  }

  void WriteFrame(std::string frame, std::function<void()> next) {
    if (failed_) {
      if (call_) call_->Cancel();
      return;  // no read follows: the call ends (CANCELLED) and EndStream cleans up
    }
    writing_ = true;
    std::string chunk = absl::StrCat(absl::Hex(frame.size()), "\r\n");
    chunk += frame;
    chunk += "\r\n";
    if (!header_sent_) {
      SendStreamHeader();
      stream_.expires_after(Chrono(options().write_timeout));
      http::async_write_header(stream_, *header_serializer_,
                               [self = shared_from_this(), chunk = std::move(chunk),
                                next = std::move(next)](beast::error_code ec, size_t) mutable {
                                 if (ec) return self->OnWriteFailed();
                                 self->WriteChunk(std::move(chunk), std::move(next));
                               });
      return;
    }
    WriteChunk(std::move(chunk), std::move(next));
  }

  void WriteChunk(std::string chunk, std::function<void()> next) {
    chunk_ = std::move(chunk);
    stream_.expires_after(Chrono(options().write_timeout));
    net::async_write(
        stream_, net::buffer(chunk_),
        [self = shared_from_this(), next = std::move(next)](beast::error_code ec, size_t) {
          self->stream_.expires_never();
          self->writing_ = false;
          if (ec) return self->OnWriteFailed();
          if (self->pending_end_) {
            const grpc::Status status = *self->pending_end_;
            self->pending_end_.reset();
            return self->EndStream(status);
          }
          next();
        });
  }

  void OnWriteFailed() {
    writing_ = false;
    failed_ = true;
    if (call_) call_->Cancel();
    if (pending_end_) {
      pending_end_.reset();
      Finish();
    }
  }

  void EndStream(const grpc::Status& status) {
    if (writing_) {
      pending_end_ = status;
      return;
    }
    if (failed_) return Finish();
    if (!header_sent_) {
      // Nothing was sent: the status can still be the HTTP status.
      Finish();
      if (status.ok()) {
        SendStreamHeader();
        http::async_write_header(stream_, *header_serializer_,
                                 [self = shared_from_this()](beast::error_code ec, size_t) {
                                   if (ec) return self->Close();
                                   self->WriteLastChunk("");
                                 });
        return;
      }
      return Respond(static_cast<http::status>(HttpStatusFor(status.error_code())), kJson,
                     StatusToJson(status), true);
    }
    std::string tail;
    if (!status.ok()) {
      const std::string error = StatusToJson(status);
      tail = sse_ ? absl::StrCat("event: error\ndata: ", error, "\n\n")
                  : absl::StrCat(R"({"error":)", error, "}\n");
    }
    Finish();
    WriteLastChunk(std::move(tail));
  }

  void WriteLastChunk(std::string tail) {
    chunk_.clear();
    if (!tail.empty()) absl::StrAppend(&chunk_, absl::Hex(tail.size()), "\r\n", tail, "\r\n");
    chunk_ += "0\r\n\r\n";
    stream_.expires_after(Chrono(options().write_timeout));
    net::async_write(stream_, net::buffer(chunk_),
                     [self = shared_from_this()](beast::error_code, size_t) { self->Close(); });
  }

  // The call is over: let go of it (and of the self-reference that kept this session alive for
  // its reader callbacks).
  void Finish() {
    call_.reset();
    net::post(stream_.get_executor(), [self = std::move(stream_self_)] {});
  }

  void Close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.close();
  }

  beast::tcp_stream stream_;
  std::shared_ptr<HttpListener::Shared> shared_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  http::request<http::string_body> request_;
  http::response<http::string_body> response_;
  bool keep_alive_ = false;
  uint64_t served_ = 0;

  const Route* route_ = nullptr;
  bool sse_ = false;
  std::shared_ptr<StreamCall> call_;
  std::shared_ptr<Session> stream_self_;
  std::unique_ptr<http::response<http::empty_body>> stream_header_;
  std::unique_ptr<http::response_serializer<http::empty_body>> header_serializer_;
  bool header_sent_ = false;
  bool writing_ = false;
  bool failed_ = false;
  std::optional<grpc::Status> pending_end_;
  std::string chunk_;
  char probe_[512];
};

}  // namespace

HttpListener::HttpListener(HttpListenerConfig config)
    : shared_(std::make_shared<Shared>(std::move(config))),
      work_(io_.get_executor()),
      acceptor_(io_) {}

absl::StatusOr<std::unique_ptr<HttpListener>> HttpListener::Bind(HttpListenerConfig config) {
  const std::string listen = config.options.listen;
  const size_t colon = listen.rfind(':');
  uint32_t port = 0;
  if (colon == std::string::npos || !absl::SimpleAtoi(listen.substr(colon + 1), &port) ||
      port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid --http-listen '", listen, "': expected host:port"));
  }
  std::string host = listen.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (host == "localhost") host = "127.0.0.1";
  beast::error_code ec;
  const net::ip::address ip = net::ip::make_address(host, ec);
  if (ec) {
    return absl::InvalidArgumentError(absl::StrCat("invalid --http-listen '", listen,
                                                   "': host must be an IP address or localhost"));
  }
  std::unique_ptr<HttpListener> listener(new HttpListener(std::move(config)));
  const tcp::endpoint endpoint(ip, static_cast<uint16_t>(port));
  listener->acceptor_.open(endpoint.protocol(), ec);
  if (!ec) listener->acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) listener->acceptor_.bind(endpoint, ec);
  if (!ec) listener->acceptor_.listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    return absl::UnavailableError(
        absl::StrCat("cannot serve HTTP on ", listen, ": ", ec.message()));
  }
  const tcp::endpoint bound = listener->acceptor_.local_endpoint();
  listener->address_ = ip.is_v6() ? absl::StrCat("[", ip.to_string(), "]:", bound.port())
                                  : absl::StrCat(ip.to_string(), ":", bound.port());
  return listener;
}

void HttpListener::Serve(std::shared_ptr<grpc::Channel> channel) {
  shared_->bridge = std::make_unique<RpcBridge>(std::move(channel));
  Accept();
  for (int i = 0; i < 2; ++i) threads_.emplace_back([this] { io_.run(); });
}

void HttpListener::StopAccepting() {
  net::post(acceptor_.get_executor(), [this] {
    beast::error_code ignored;
    acceptor_.close(ignored);
  });
}

HttpListener::~HttpListener() {
  io_.stop();
  for (std::thread& t : threads_) t.join();
  const absl::Time give_up = absl::Now() + absl::Seconds(5);
  while (shared_->calls.load() > 0 && absl::Now() < give_up) absl::SleepFor(absl::Milliseconds(5));
}

void HttpListener::Accept() {
  acceptor_.async_accept(net::make_strand(io_), [this](beast::error_code ec, tcp::socket socket) {
    if (ec) {
      if (ec == net::error::operation_aborted || !acceptor_.is_open()) return;
      spdlog::warn("http accept: {}", ec.message());
    } else {
      const uint32_t open = shared_->connections.fetch_add(1) + 1;
      auto session = std::make_shared<Session>(std::move(socket), shared_);
      if (open > shared_->config.options.max_connections) {
        session->RefuseBusy();
      } else {
        session->Run();
      }
    }
    Accept();
  });
}

}  // namespace batchd::server::http_api
