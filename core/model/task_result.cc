#include "core/model/task_result.h"

namespace batchd::core {

const char* TaskStateName(TaskState s) { return kTaskStateNames.Name(s); }

const char* BatchStateName(BatchState s) { return kBatchStateNames.Name(s); }

}  // namespace batchd::core
