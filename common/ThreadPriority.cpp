#include "common/ThreadPriority.h"

#include <sched.h>

namespace common {

void background_thread_priority() {
    sched_param param{};
    param.sched_priority = 0;
    ::sched_setscheduler(0, SCHED_BATCH, &param);  // 0: the calling thread
}

}  // namespace common
