#include "server/plugin_flags.h"

#include <string>
#include <vector>

#include "absl/base/config.h"
#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "core/plugin_executor.h"

// A copy of daemon_flags.cc's macro (see there for why): dashed flag names for Abseil.
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

ABSL_FLAG(std::vector<std::string>, plugin, {},
          "Executor plugins to load: comma-separated paths of shared objects implementing "
          "core/plugin/batchd_plugin.h, e.g. --plugin=/opt/a.so,/opt/b.so. Abseil does not "
          "accumulate repeated list flags: a later --plugin replaces an earlier one");
BATCHD_DASHED_FLAG(uint32_t, plugin_threads, "plugin-threads", 4,
                   "Threads per plugin running its (possibly blocking) execute calls; attempts "
                   "beyond that wait for a thread. Also each plugin executor's listed capacity");

namespace batchd::server {

constexpr uint32_t kMaxPluginThreads = 256;

absl::Status RegisterPluginsFromFlags(core::ExecutorEnvironment& environment) {
  const std::vector<std::string> paths = absl::GetFlag(FLAGS_plugin);
  const uint32_t threads = absl::GetFlag(FLAGS_plugin_threads);
  if (threads == 0 || threads > kMaxPluginThreads) {
    return absl::InvalidArgumentError(absl::StrCat("invalid --plugin-threads ", threads,
                                                   ": must be between 1 and ",
                                                   kMaxPluginThreads));
  }
  for (const std::string& path : paths) {
    if (path.empty()) return absl::InvalidArgumentError("invalid --plugin: empty path in the list");
  }
  if (paths.empty()) return absl::OkStatus();
  return core::RegisterPlugins(paths, threads, environment);
}

}  // namespace batchd::server
