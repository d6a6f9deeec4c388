// ocpp-loadgen: simulated charging stations against the gateway. See tools/README.md.
#include <cstdio>
#include <exception>

#include <fmt/format.h>

#include "tools/loadgen/options.hpp"
#include "tools/loadgen/run.hpp"
#include "tools/loadgen/target.hpp"

int main(int argc, char** argv) {
    auto command_line = loadgen::parse_command_line(argc, argv);
    if (!command_line) {
        fmt::print(stderr, "ocpp-loadgen: {}\nTry 'ocpp-loadgen --help'.\n", command_line.error());
        return 2;
    }
    if (command_line->action == loadgen::CommandLine::Action::help) {
        fmt::print("{}", loadgen::help_text());
        return 0;
    }
    const loadgen::Options& options = command_line->options;
    auto target = loadgen::resolve_targets(options);
    if (!target) {
        fmt::print(stderr, "ocpp-loadgen: {}\n", target.error().message);
        return target.error().bad_option ? 2 : 1;
    }
    try {
        return options.session ? loadgen::run_session(options, target.value())
                               : loadgen::run_load(options, target.value());
    } catch (const std::exception& e) {
        fmt::print(stderr, "ocpp-loadgen: {}\n", e.what());
        return 1;
    }
}
