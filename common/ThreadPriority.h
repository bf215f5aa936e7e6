// Scheduling of the gateway's background threads (de-identification workers, forwarders).
#pragma once

namespace common {

// Marks the calling thread as batch work (SCHED_BATCH): the scheduler then lets the threads that
// receive C-STOREs, whose senders wait for each response, run first when they wake up. Best
// effort: failures are ignored.
void background_thread_priority();

}  // namespace common
