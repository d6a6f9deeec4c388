#pragma once

#include <chrono>
#include <cstddef>

#include "tools/loadgen/options.hpp"
#include "tools/loadgen/report.hpp"
#include "tools/loadgen/target.hpp"

namespace loadgen {

/// How the processes of a --processes run start each phase together (processes.cpp).
class PhaseSync {
public:
    virtual ~PhaseSync() = default;
    /// Called once the ramp-up is over; returns when every process is there, with the moment
    /// (the same in all) the next phase starts.
    virtual std::chrono::steady_clock::time_point ramped_up() = 0;
};

/// The stations of process o.process_index of o.processes: every o.processes-th from it.
std::size_t stations_of_process(const Options& o);

/// One process's part of a load, idle or storm run: its report, and in `status` 1 when no
/// station of it could connect and boot, 2 when the TLS set-up failed.
Report run_slice(const Options& options, const std::vector<Target>& targets, PhaseSync* sync, int& status);

/// --processes N: N child processes each run every N-th station and their reports are
/// merged (exact percentiles over all samples). Exit status as run_load.
int run_processes(const Options& options, const std::vector<Target>& targets);

/// Exit status of a load or idle run: 0 completed (errors are in the report), 1 no station
/// could connect and boot.
int run_load(const Options& options, const std::vector<Target>& targets);

/// Exit status of --session: 0 every CALL got a CALLRESULT, 1 otherwise.
int run_session(const Options& options, const std::vector<Target>& targets);

}  // namespace loadgen
