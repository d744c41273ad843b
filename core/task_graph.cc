#include "core/task_graph.h"
