// How batchd tells people and scripts where it serves: one stdout line per bound listener (text,
// or with --log-format=json one JSON log record carrying "listener" and "address"), and the
// --address-file holding every listener's address, written atomically once all are bound.
// Stateless free functions; call from the daemon's main thread (stdout is not locked).
#pragma once

#include <chrono>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "server/observability/log_setup.h"

namespace batchd::server {

// Listener kinds: the "listener" field of the JSON line and the keys of the address file.
inline constexpr char kGrpcListener[] = "grpc";
inline constexpr char kHttpListener[] = "http";

// The line without its newline. Text: "batchd listening on <address>" for gRPC,
// "batchd http listening on http://<address>" for HTTP, "batchd <kind> listening on <address>"
// otherwise. JSON: {"ts":…,"level":"info","logger":"batchd","thread":…,"msg":<the text line>,
// "listener":<kind>,"address":<address>}, the keys of JsonLogFormatter's records first.
std::string ListenerAnnouncement(LogFormat format, absl::string_view kind,
                                 absl::string_view address,
                                 std::chrono::system_clock::time_point now);

// Writes ListenerAnnouncement (now) and a newline on stdout, flushed.
void AnnounceListener(LogFormat format, absl::string_view kind, absl::string_view address);

// {"grpc":"127.0.0.1:5","http":"127.0.0.1:6"}: one key per listener, in the order given.
using BoundListener = std::pair<std::string, std::string>;  // kind, address
std::string AddressFileContents(absl::Span<const BoundListener> listeners);

// Writes AddressFileContents and a newline to `path` through "<path>.tmp" and a rename, so a
// reader sees no file or the whole file. Nothing when `path` is empty. UNAVAILABLE naming
// --address-file and the reason when it cannot.
absl::Status WriteAddressFile(const std::string& path, absl::Span<const BoundListener> listeners);
// Removes the file (at shutdown); nothing when `path` is empty or the file is gone already.
void RemoveAddressFile(const std::string& path);

}  // namespace batchd::server
