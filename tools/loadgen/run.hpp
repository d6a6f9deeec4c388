#pragma once

#include "tools/loadgen/options.hpp"
#include "tools/loadgen/target.hpp"

namespace loadgen {

/// Exit status of a load or idle run: 0 completed (errors are in the report), 1 no station
/// could connect and boot.
int run_load(const Options& options, const Target& target);

/// Exit status of --session: 0 every CALL got a CALLRESULT, 1 otherwise.
int run_session(const Options& options, const Target& target);

}  // namespace loadgen
