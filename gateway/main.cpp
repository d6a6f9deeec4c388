// ocpp-gateway: the command line; the process itself is gateway::app::App.
#include <cstdio>
#include <cstring>
#include <iostream>
#include <map>
#include <string>

#include "gateway/app/app.hpp"
#include "gateway/app/tolerance_command.hpp"
#include "gateway/app/topics_command.hpp"
#include "gateway/config/config.hpp"
#include "gateway/log/log.hpp"
#include "gateway/security/password.hpp"
#include "kafka_bridge/producer.hpp"

#ifdef OCPP_JEMALLOC
#include <jemalloc/jemalloc.h>

// jemalloc reads this when it starts (MALLOC_CONF in the environment still overrides it): pages
// freed by a burst (a fleet's handshakes, a backlog) go back to the kernel after a second
// instead of ten, so an idle gateway's RSS is what its stations hold.
extern "C" {
// NOLINTNEXTLINE(cppcoreguidelines-avoid-non-const-global-variables): the name jemalloc looks for
const char* malloc_conf = "dirty_decay_ms:1000,muzzy_decay_ms:0";
}
#endif

extern char** environ;

namespace {

constexpr const char* kVersion = "0.1.0";

std::string allocator() {
#ifdef OCPP_JEMALLOC
    const char* version = nullptr;
    std::size_t size = sizeof(version);
    if (mallctl("version", static_cast<void*>(&version), &size, nullptr, 0) == 0 && version != nullptr) {
        return std::string("jemalloc ") + version;
    }
    return "jemalloc";
#else
    return "the C library's malloc";
#endif
}

std::map<std::string, std::string> environment() {
    std::map<std::string, std::string> env;
    for (char** e = environ; *e != nullptr; ++e) {
        if (const char* eq = std::strchr(*e, '='); eq != nullptr) {
            env.emplace(std::string(*e, static_cast<std::size_t>(eq - *e)), std::string(eq + 1));
        }
    }
    return env;
}

int hash_password(unsigned iterations) {
    // One line from standard input: the password, without its line end.
    std::string password;
    std::getline(std::cin, password);
    if (!password.empty() && password.back() == '\r') {
        password.pop_back();
    }
    if (password.empty()) {
        std::fprintf(stderr, "ocpp-gateway hash-password: no password on standard input\n");
        return 2;
    }
    std::printf("%s\n", gateway::security::hash_password(password, iterations).c_str());
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    gateway::config::CommandLine cl;
    try {
        cl = gateway::config::parse_command_line(argc, argv, environment());
    } catch (const std::exception& e) {
        std::fprintf(stderr, "ocpp-gateway: %s\n", e.what());
        return 2;
    }
    using Action = gateway::config::CommandLine::Action;
    if (cl.action != Action::help && cl.action != Action::version && cl.action != Action::hash_password) {
        gateway::log::set_level(cl.config.log_level);
        for (const auto& warning : cl.warnings) {
            gateway::log::warn("{}", warning);
        }
    }
    switch (cl.action) {
        case Action::help:
            std::fputs(gateway::config::help_text().c_str(), stdout);
            return 0;
        case Action::version:
            std::printf("ocpp-gateway %s (librdkafka %s%s; %s)\n", kVersion,
                        kafka_bridge::librdkafka_version().c_str(),
                        kafka_bridge::librdkafka_fails_unknown_outcomes_on_epoch_bump()
                            ? " with the project's patches"
                            : ", without the project's patches",
                        allocator().c_str());
            return 0;
        case Action::hash_password:
            return hash_password(cl.iterations);
        case Action::topics:
            return gateway::app::run_topics_command(cl.config, cl.verb, stdout, stderr);
        case Action::tolerance:
            return gateway::app::run_tolerance_command(cl.config, cl.verb, stdout, stderr);
        case Action::check_config: {
            const auto& c = cl.config;
            if (auto problem = gateway::app::check_files(c)) {
                std::fprintf(stderr, "ocpp-gateway: %s\n", problem->c_str());
                return 2;
            }
            std::printf("configuration OK: stations on %s (security profile %d), admin on %s, Kafka at %s\n",
                        c.listen.to_string().c_str(), c.security.profile, c.admin_listen.to_string().c_str(),
                        c.kafka.brokers.c_str());
            for (const auto& listener : gateway::config::unauthenticated_exposures(c)) {
                std::printf("acknowledged: the %s listener takes connections from the network without authentication\n",
                            listener.c_str());
            }
            return 0;
        }
        case Action::run:
            break;
    }
    gateway::app::App app(std::move(cl.config));
    return app.run();
}
