#include "server/rpc/auth_check.h"

#include <cstdint>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"

namespace batchd::server {
namespace {

constexpr absl::string_view kScheme = "bearer ";
constexpr absl::string_view kHeader = "authorization";

// Takes as long for every `candidate` of a given length: the loop runs over the whole token and
// never stops at the first difference, so timing does not reveal how much of a guess was right.
bool ConstantTimeEquals(absl::string_view candidate, absl::string_view token) {
  uint8_t diff = candidate.size() == token.size() ? 0 : 1;
  for (size_t i = 0; i < token.size(); ++i) {
    const char c = i < candidate.size() ? candidate[i] : '\0';
    diff |= static_cast<uint8_t>(c ^ token[i]);
  }
  return diff == 0;
}

}  // namespace

bool AuthCheck::Accepts(std::optional<absl::string_view> authorization) const {
  if (token_.empty()) return true;
  if (!authorization.has_value() || authorization->size() < kScheme.size()) return false;
  if (!absl::EqualsIgnoreCase(authorization->substr(0, kScheme.size()), kScheme)) return false;
  const absl::string_view candidate =
      absl::StripAsciiWhitespace(authorization->substr(kScheme.size()));
  return ConstantTimeEquals(candidate, token_);
}

grpc::Status AuthCheck::Check(const grpc::CallbackServerContext& context) const {
  if (token_.empty()) return grpc::Status::OK;
  std::optional<absl::string_view> authorization;
  // gRPC lower-cases metadata keys; a call carries at most one authorization header that counts.
  const auto& metadata = context.client_metadata();
  if (const auto it = metadata.find(grpc::string_ref(kHeader.data(), kHeader.size()));
      it != metadata.end()) {
    authorization = absl::string_view(it->second.data(), it->second.size());
  }
  if (Accepts(authorization)) return grpc::Status::OK;
  return {grpc::StatusCode::UNAUTHENTICATED, kRejectMessage};
}

}  // namespace batchd::server
