#include "server/observability/address_announcement.h"

#include <spdlog/details/log_msg.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>

#include "absl/strings/str_cat.h"

namespace batchd::server {
namespace {

std::string TextLine(absl::string_view kind, absl::string_view address) {
  if (kind == kGrpcListener) return absl::StrCat("batchd listening on ", address);
  if (kind == kHttpListener) return absl::StrCat("batchd http listening on http://", address);
  return absl::StrCat("batchd ", kind, " listening on ", address);
}

absl::Status AddressFileError(const std::string& path, absl::string_view what) {
  return absl::UnavailableError(
      absl::StrCat("cannot write --address-file ", path, ": ", what, ": ", std::strerror(errno)));
}

}  // namespace

std::string ListenerAnnouncement(LogFormat format, absl::string_view kind,
                                 absl::string_view address,
                                 std::chrono::system_clock::time_point now) {
  const std::string text = TextLine(kind, address);
  if (format == LogFormat::kText) return text;
  // The same record the logger "batchd" writes, so shippers parse stdout and stderr alike.
  const spdlog::details::log_msg msg(now, spdlog::source_loc{}, "batchd", spdlog::level::info,
                                     spdlog::string_view_t(text.data(), text.size()));
  const std::pair<absl::string_view, absl::string_view> fields[] = {{"listener", kind},
                                                                    {"address", address}};
  return JsonLogRecord(msg, fields);
}

void AnnounceListener(LogFormat format, absl::string_view kind, absl::string_view address) {
  std::cout << ListenerAnnouncement(format, kind, address, std::chrono::system_clock::now())
            << std::endl;
}

std::string AddressFileContents(absl::Span<const BoundListener> listeners) {
  std::string out = "{";
  for (const auto& [kind, address] : listeners) {
    if (out.size() > 1) out.push_back(',');
    AppendJsonString(kind, out);
    out.push_back(':');
    AppendJsonString(address, out);
  }
  out.push_back('}');
  return out;
}

absl::Status WriteAddressFile(const std::string& path, absl::Span<const BoundListener> listeners) {
  if (path.empty()) return absl::OkStatus();
  const std::string tmp = absl::StrCat(path, ".tmp");
  {
    std::ofstream out(tmp, std::ios::trunc);
    if (!out) return AddressFileError(path, absl::StrCat("cannot create ", tmp));
    out << AddressFileContents(listeners) << "\n";
    out.close();
    if (!out) return AddressFileError(path, absl::StrCat("cannot write ", tmp));
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    const absl::Status status = AddressFileError(path, "rename");
    ::unlink(tmp.c_str());
    return status;
  }
  return absl::OkStatus();
}

void RemoveAddressFile(const std::string& path) {
  if (!path.empty()) ::unlink(path.c_str());
}

}  // namespace batchd::server
