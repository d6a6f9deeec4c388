#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <utility>

namespace loadgen {

/// net.ipv4.ip_local_port_range (first, last), if it can be read.
std::optional<std::pair<unsigned, unsigned>> local_port_range();

/// connect() on a socket without a bound port tries half of the local range first, the ports
/// of the same parity as its lower end (Linux since 4.6; the other half is left to bind()).
/// Once those towards one destination from one source address are all taken, every further
/// connect() walks the range before it finds a port: about 0.75 ms of kernel time a call on
/// the benchmark machine against 0.03 ms before, and the generator, not the target, sets the
/// pace (docs/benchmarks.md, "Reconnect storms: the generator's ports and the listen queue").
/// A warning when `stations` spread evenly over `targets` and `sources` source addresses (0:
/// the kernel picks one) come to more than that half.
std::optional<std::string> crowded_ports_warning(std::size_t stations, std::size_t targets,
                                                 std::size_t sources,
                                                 std::pair<unsigned, unsigned> range);

}  // namespace loadgen
