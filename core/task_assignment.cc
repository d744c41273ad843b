#include "core/task_assignment.h"
