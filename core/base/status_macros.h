// Early-return macros for absl::Status / absl::StatusOr, so a function that calls several
// fallible steps reads as the steps. Header only, Abseil only; no state, usable from any thread.
#pragma once

#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

// Evaluates `expr` (an absl::Status or absl::StatusOr<T>) once; if it is not OK, returns its
// status from the enclosing function. The enclosing function returns absl::Status or any
// absl::StatusOr<U>.
//   RETURN_IF_ERROR(store->Migrate());
#define RETURN_IF_ERROR(expr)                                \
  do {                                                       \
    if (absl::Status batchd_status_macros_status =           \
            ::batchd::core::status_macros::ToStatus((expr)); \
        !batchd_status_macros_status.ok()) {                 \
      return batchd_status_macros_status;                    \
    }                                                        \
  } while (false)

// Evaluates `expr` (an absl::StatusOr<T>) once; if it is not OK, returns its status from the
// enclosing function, otherwise moves its value into `lhs`. `lhs` is a declaration
// (`auto x`, `const std::string& y`) or an existing lvalue. Expands to more than one
// statement, so it cannot be the body of an unbraced if/else.
//   ASSIGN_OR_RETURN(std::string text, ReadFile(path));
#define ASSIGN_OR_RETURN(lhs, expr)           \
  BATCHD_STATUS_MACROS_ASSIGN_OR_RETURN_IMPL( \
      BATCHD_STATUS_MACROS_CONCAT(batchd_status_macros_statusor_, __COUNTER__), lhs, expr)

#define BATCHD_STATUS_MACROS_ASSIGN_OR_RETURN_IMPL(statusor, lhs, expr) \
  auto statusor = (expr);                                               \
  if (!statusor.ok()) return std::move(statusor).status();              \
  lhs = *std::move(statusor)

#define BATCHD_STATUS_MACROS_CONCAT_INNER(a, b) a##b
#define BATCHD_STATUS_MACROS_CONCAT(a, b) BATCHD_STATUS_MACROS_CONCAT_INNER(a, b)

namespace batchd::core::status_macros {

// RETURN_IF_ERROR accepts a Status or a StatusOr; these overloads give it the Status of either.
inline absl::Status ToStatus(absl::Status status) { return status; }
template <typename T>
absl::Status ToStatus(const absl::StatusOr<T>& status_or) {
  return status_or.status();
}
template <typename T>
absl::Status ToStatus(absl::StatusOr<T>&& status_or) {
  return std::move(status_or).status();
}

}  // namespace batchd::core::status_macros
