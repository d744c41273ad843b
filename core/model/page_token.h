// Opaque page tokens: a listing's resume position (a batch's creation sequence, a task index)
// tagged with what it lists, as URL-safe base64. Clients pass them back unchanged; anything
// else is refused. Free functions; thread-safe.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace batchd::core {

// What a token resumes: a token of one listing is refused by another.
enum class PageKind : char { kBatches = 'B', kTasks = 'T' };

std::string EncodePageToken(PageKind kind, uint64_t position);
// INVALID_ARGUMENT (without a field: the caller names it) when `token` is not one
// EncodePageToken made for `kind`.
absl::StatusOr<uint64_t> DecodePageToken(PageKind kind, absl::string_view token);

}  // namespace batchd::core
