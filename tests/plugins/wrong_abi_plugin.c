/* A plugin built for a future ABI: batchd must refuse it, naming the version. Tests only. */
#include <stddef.h>

#include "core/executors/plugin/batchd_plugin.h"

static const char* const kExecutors[] = {"future", NULL};

static const batchd_plugin_v1 kPlugin = {
    .abi_version = BATCHD_PLUGIN_ABI_VERSION + 1,
    .name = "wrong_abi",
    .executors = kExecutors,
};

BATCHD_PLUGIN_EXPORT const batchd_plugin_v1* batchd_plugin_entry(void) { return &kPlugin; }
