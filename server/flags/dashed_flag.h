// BATCHD_DASHED_FLAG: an Abseil flag whose command-line name contains dashes (--log-level).
// Include from .cc files that define flags; the flags are process-wide like every Abseil flag.
#pragma once

#include "absl/base/config.h"
#include "absl/flags/flag.h"

// Abseil names a flag after its C++ identifier, which cannot contain '-', and its parser does
// not map '-' to '_'. The daemon's flags are spelled with dashes (--log-level), on the command
// line and in flag files alike, so this is ABSL_FLAG_IMPL with the name given separately. It
// relies on that macro's helpers, hence the version check.
#if ABSL_LTS_RELEASE_VERSION != 20220623 || !defined(ABSL_FLAG_IMPL_DECLARE_DEF_VAL_WRAPPER)
#error "BATCHD_DASHED_FLAG mirrors ABSL_FLAG_IMPL of Abseil 20220623; re-check it"
#endif
#define BATCHD_DASHED_FLAG(Type, name, flag_name, default_value, help)        \
  extern ::absl::Flag<Type> FLAGS_##name;                                     \
  ABSL_FLAG_IMPL_DECLARE_DEF_VAL_WRAPPER(name, Type, default_value)           \
  ABSL_FLAG_IMPL_DECLARE_HELP_WRAPPER(name, help)                             \
  ABSL_CONST_INIT absl::Flag<Type> FLAGS_##name{                              \
      ABSL_FLAG_IMPL_FLAGNAME(flag_name), ABSL_FLAG_IMPL_FILENAME(),          \
      ABSL_FLAG_IMPL_HELP_ARG(name), ABSL_FLAG_IMPL_DEFAULT_ARG(Type, name)}; \
  extern absl::flags_internal::FlagRegistrarEmpty FLAGS_no##name;             \
  absl::flags_internal::FlagRegistrarEmpty FLAGS_no##name =                   \
      ABSL_FLAG_IMPL_REGISTRAR(Type, FLAGS_##name)
