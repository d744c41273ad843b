/* A shared object that is not a batchd plugin: it lacks batchd_plugin_entry. Tests only. */
#include "core/executors/plugin/batchd_plugin.h"

BATCHD_PLUGIN_EXPORT int not_a_batchd_plugin(void) { return 42; }
