#include "tools/loadgen/ports.hpp"

#include <algorithm>
#include <fstream>

#include <fmt/format.h>

namespace loadgen {

std::optional<std::pair<unsigned, unsigned>> local_port_range() {
    std::ifstream in("/proc/sys/net/ipv4/ip_local_port_range");
    unsigned first = 0;
    unsigned last = 0;
    if (!(in >> first >> last) || first == 0 || last < first) {
        return std::nullopt;
    }
    return std::pair{first, last};
}

std::optional<std::string> crowded_ports_warning(std::size_t stations, std::size_t targets,
                                                 std::size_t sources,
                                                 std::pair<unsigned, unsigned> range) {
    const auto [first, last] = range;
    if (targets == 0 || first == 0 || last < first) {
        return std::nullopt;
    }
    const std::size_t half = (std::size_t{last} - first + 1) / 2;
    if (half == 0) {
        return std::nullopt;  // a single port: nothing to search
    }
    const std::size_t pairs = targets * (sources == 0 ? 1 : sources);
    const std::size_t per_pair = (stations + pairs - 1) / pairs;
    if (per_pair <= half) {
        return std::nullopt;
    }
    // Addresses enough for every target's share, one to spare (they start at 127.0.0.1).
    const std::size_t per_target = (stations + targets - 1) / targets;
    const std::size_t addresses = std::min<std::size_t>(254, (per_target + half - 1) / half + 1);
    return fmt::format(
        "up to {} connections from one source address to one target: more than the {} ports, "
        "half of net.ipv4.ip_local_port_range ({}-{}), that connect() tries first; past them "
        "every connect() searches the range and this generator, not the target, sets the pace "
        "(on IPv4 loopback, spread them with --source-addresses 127.0.0.1-127.0.0.{})",
        per_pair, half, first, last, addresses);
}

}  // namespace loadgen
