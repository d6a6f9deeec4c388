#include "tools/loadgen/options.hpp"

#include <charconv>
#include <cmath>
#include <optional>
#include <system_error>

#include <fmt/format.h>

namespace loadgen {

namespace {

constexpr std::size_t kMaxStations = 1'000'000;
constexpr unsigned kMaxThreads = 64;
constexpr unsigned kMaxProcesses = 64;
constexpr std::size_t kMaxUrls = 64;
constexpr std::size_t kMaxSourceAddresses = 65536;
// Station ids are <prefix><6+ digits>; the gateway accepts identities of up to 48 characters.
constexpr std::size_t kMaxPrefixLength = 40;

std::optional<double> to_double(std::string_view text) {
    double value = 0;
    const char* end = text.data() + text.size();
    const auto [ptr, ec] = std::from_chars(text.data(), end, value);
    if (ec != std::errc() || ptr != end || !std::isfinite(value)) {
        return std::nullopt;
    }
    return value;
}

std::optional<std::uint64_t> to_unsigned(std::string_view text) {
    std::uint64_t value = 0;
    const char* end = text.data() + text.size();
    const auto [ptr, ec] = std::from_chars(text.data(), end, value);
    if (ec != std::errc() || ptr != end || text.empty()) {
        return std::nullopt;
    }
    return value;
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
        s.remove_prefix(1);
    }
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) {
        s.remove_suffix(1);
    }
    return s;
}

bool prefix_char_ok(char c) {
    // The OCPP identifierString set, without ':' (the gateway refuses it in identities).
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) {
        return true;
    }
    switch (c) {
        case '*': case '-': case '_': case '=': case '+': case '|': case '@': case '.':
            return true;
        default:
            return false;
    }
}

std::optional<asio::ip::address> to_address(std::string_view text) {
    asio::error_code ec;
    const auto a = asio::ip::make_address(std::string(text), ec);
    if (ec) {
        return std::nullopt;
    }
    return a;
}

}  // namespace

std::string_view mix_name(Mix m) {
    switch (m) {
        case Mix::realistic:
            return "realistic";
        case Mix::authorize:
            return "authorize";
        case Mix::heartbeat:
            break;
    }
    return "heartbeat";
}

bool is_loopback(const asio::ip::address& a) {
    if (a.is_v4()) {
        return (a.to_v4().to_uint() >> 24) == 127;
    }
    return a.to_v6() == asio::ip::address_v6::loopback();
}

ocpp::Result<std::vector<asio::ip::address>, std::string> parse_source_addresses(
    std::string_view text) {
    std::vector<asio::ip::address> out;
    const auto refuse_non_loopback = [](std::string_view item) {
        return fmt::format("--source-addresses: {} is not a loopback address (only 127.0.0.0/8 "
                           "and ::1 are allowed)",
                           item);
    };
    while (true) {
        const auto comma = text.find(',');
        const std::string_view item = trim(text.substr(0, comma));
        if (item.empty()) {
            return std::string("--source-addresses: empty item in the list");
        }
        const auto dash = item.find('-');
        if (dash == std::string_view::npos) {
            const auto a = to_address(item);
            if (!a) {
                return fmt::format("--source-addresses: '{}' is not an IP address", item);
            }
            if (!is_loopback(*a)) {
                return refuse_non_loopback(item);
            }
            out.push_back(*a);
        } else {
            const std::string_view first_text = trim(item.substr(0, dash));
            const std::string_view last_text = trim(item.substr(dash + 1));
            const auto first = to_address(first_text);
            const auto last = to_address(last_text);
            if (!first || !last || !first->is_v4() || !last->is_v4()) {
                return fmt::format("--source-addresses: '{}' is not a range of IPv4 addresses "
                                   "(FIRST-LAST)",
                                   item);
            }
            if (!is_loopback(*first)) {
                return refuse_non_loopback(first_text);
            }
            if (!is_loopback(*last)) {
                return refuse_non_loopback(last_text);
            }
            const std::uint32_t lo = first->to_v4().to_uint();
            const std::uint32_t hi = last->to_v4().to_uint();
            if (lo > hi) {
                return fmt::format("--source-addresses: range '{}' ends before it starts", item);
            }
            if (hi - lo + 1 > kMaxSourceAddresses - out.size()) {
                return fmt::format("--source-addresses: more than {} addresses",
                                   kMaxSourceAddresses);
            }
            for (std::uint32_t v = lo;; ++v) {
                out.emplace_back(asio::ip::address_v4(v));
                if (v == hi) {
                    break;
                }
            }
        }
        if (out.size() > kMaxSourceAddresses) {
            return fmt::format("--source-addresses: more than {} addresses", kMaxSourceAddresses);
        }
        if (comma == std::string_view::npos) {
            break;
        }
        text.remove_prefix(comma + 1);
    }
    const bool v4 = out.front().is_v4();
    for (const auto& a : out) {
        if (a.is_v4() != v4) {
            return std::string("--source-addresses: mixes IPv4 and IPv6 addresses");
        }
    }
    return out;
}

ocpp::Result<CommandLine, std::string> parse_command_line(int argc, const char* const* argv) {
    CommandLine cl;
    Options& o = cl.options;
    bool rate_given = false;
    bool mix_given = false;
    bool url_given = false;
    for (int i = 1; i < argc; ++i) {
        std::string_view arg = argv[i];
        if (arg == "--help" || arg == "-h") {
            cl.action = CommandLine::Action::help;
            return cl;
        }
        if (arg.substr(0, 2) != "--") {
            return fmt::format("unexpected argument '{}'", arg);
        }
        std::string_view name = arg;
        std::optional<std::string_view> inline_value;
        if (const auto eq = arg.find('='); eq != std::string_view::npos) {
            name = arg.substr(0, eq);
            inline_value = arg.substr(eq + 1);
        }
        // Flags without a value.
        if (name == "--idle" || name == "--json" || name == "--session" || name == "--storm" ||
            name == "--tls-resume") {
            if (inline_value) {
                return fmt::format("{} takes no value", name);
            }
            if (name == "--idle") {
                o.idle = true;
            } else if (name == "--json") {
                o.json = true;
            } else if (name == "--storm") {
                o.storm = true;
            } else if (name == "--tls-resume") {
                o.tls_resume = true;
            } else {
                o.session = true;
            }
            continue;
        }
        static constexpr std::string_view kValued[] = {
            "--url",          "--id-prefix",  "--stations",         "--v201-share",
            "--mix",          "--rate",       "--duration",         "--warmup",
            "--connect-rate", "--threads",    "--source-addresses", "--timeout-ms",
            "--boot-retries", "--connect-retries", "--ca-file",   "--client-cert",
            "--client-key",   "--password",     "--processes"};
        bool known = false;
        for (const auto k : kValued) {
            known = known || k == name;
        }
        if (!known) {
            return fmt::format("unknown option '{}'", name);
        }
        std::string_view value;
        if (inline_value) {
            value = *inline_value;
        } else {
            if (i + 1 >= argc) {
                return fmt::format("{} needs a value", name);
            }
            value = argv[++i];
        }
        const auto positive = [&](double max) -> ocpp::Result<double, std::string> {
            const auto v = to_double(value);
            if (!v || *v <= 0 || *v > max) {
                return fmt::format("{}: expected a number above 0 and at most {}, got '{}'", name,
                                   max, value);
            }
            return *v;
        };
        if (name == "--url") {
            if (!url_given) {
                o.urls.clear();
                url_given = true;
            }
            if (o.urls.size() >= kMaxUrls) {
                return fmt::format("--url: at most {} gateways", kMaxUrls);
            }
            o.urls.emplace_back(value);
        } else if (name == "--id-prefix") {
            if (value.empty() || value.size() > kMaxPrefixLength) {
                return fmt::format("--id-prefix: expected 1 to {} characters", kMaxPrefixLength);
            }
            for (const char c : value) {
                if (!prefix_char_ok(c)) {
                    return fmt::format("--id-prefix: '{}' has a character not allowed in a "
                                       "station identity (allowed: A-Z a-z 0-9 * - _ = + | @ .)",
                                       value);
                }
            }
            o.id_prefix = std::string(value);
        } else if (name == "--stations") {
            const auto v = to_unsigned(value);
            if (!v || *v == 0 || *v > kMaxStations) {
                return fmt::format("--stations: expected a whole number from 1 to {}, got '{}'",
                                   kMaxStations, value);
            }
            o.stations = static_cast<std::size_t>(*v);
        } else if (name == "--v201-share") {
            const auto v = to_double(value);
            if (!v || *v < 0 || *v > 1) {
                return fmt::format("--v201-share: expected a fraction from 0 to 1, got '{}'",
                                   value);
            }
            o.v201_share = *v;
        } else if (name == "--mix") {
            mix_given = true;
            if (value == "heartbeat") {
                o.mix = Mix::heartbeat;
            } else if (value == "realistic") {
                o.mix = Mix::realistic;
            } else if (value == "authorize") {
                o.mix = Mix::authorize;
            } else {
                return fmt::format("--mix: expected 'heartbeat', 'realistic' or 'authorize', got '{}'", value);
            }
        } else if (name == "--rate") {
            auto v = positive(1e7);
            if (!v) {
                return std::move(v).error();
            }
            o.rate = v.value();
            rate_given = true;
        } else if (name == "--duration") {
            auto v = positive(86400);
            if (!v) {
                return std::move(v).error();
            }
            o.duration_s = v.value();
        } else if (name == "--warmup") {
            const auto v = to_double(value);
            if (!v || *v < 0 || *v > 3600) {
                return fmt::format("--warmup: expected seconds from 0 to 3600, got '{}'", value);
            }
            o.warmup_s = *v;
        } else if (name == "--connect-rate") {
            auto v = positive(1e6);
            if (!v) {
                return std::move(v).error();
            }
            o.connect_rate = v.value();
        } else if (name == "--source-addresses") {
            auto v = parse_source_addresses(value);
            if (!v) {
                return std::move(v).error();
            }
            o.source_addresses = std::move(v).value();
        } else if (name == "--timeout-ms") {
            const auto v = to_unsigned(value);
            if (!v || *v == 0 || *v > 3'600'000) {
                return fmt::format("--timeout-ms: expected milliseconds from 1 to 3600000, got "
                                   "'{}'",
                                   value);
            }
            o.timeout = std::chrono::milliseconds(*v);
        } else if (name == "--boot-retries") {
            const auto v = to_unsigned(value);
            if (!v || *v > 100) {
                return fmt::format("--boot-retries: expected a whole number from 0 to 100, got "
                                   "'{}'",
                                   value);
            }
            o.boot_retries = static_cast<unsigned>(*v);
        } else if (name == "--connect-retries") {
            const auto v = to_unsigned(value);
            if (!v || *v > 100) {
                return fmt::format("--connect-retries: expected a whole number from 0 to 100, "
                                   "got '{}'",
                                   value);
            }
            o.connect_retries = static_cast<unsigned>(*v);
        } else if (name == "--ca-file" || name == "--client-cert" || name == "--client-key") {
            if (value.empty()) {
                return fmt::format("{}: expected a file", name);
            }
            (name == "--ca-file" ? o.ca_file
                                 : name == "--client-cert" ? o.client_cert : o.client_key) =
                std::string(value);
        } else if (name == "--password") {
            if (value.empty()) {
                return std::string("--password: expected a non-empty password");
            }
            o.password = std::string(value);
        } else if (name == "--processes") {
            const auto v = to_unsigned(value);
            if (!v || *v == 0 || *v > kMaxProcesses) {
                return fmt::format("--processes: expected a whole number from 1 to {}, got '{}'",
                                   kMaxProcesses, value);
            }
            o.processes = static_cast<unsigned>(*v);
        } else if (name == "--threads") {
            const auto v = to_unsigned(value);
            if (!v || *v == 0 || *v > kMaxThreads) {
                return fmt::format("--threads: expected a whole number from 1 to {}, got '{}'",
                                   kMaxThreads, value);
            }
            o.threads = static_cast<unsigned>(*v);
        } else {
            return fmt::format("unknown option '{}'", name);
        }
    }
    if (static_cast<int>(o.idle) + static_cast<int>(o.session) + static_cast<int>(o.storm) > 1) {
        return std::string("--idle, --session and --storm cannot be combined");
    }
    if (o.storm && (rate_given || mix_given)) {
        return std::string("--rate and --mix have no meaning with --storm (each station sends "
                           "BootNotification and one StatusNotification after reconnecting)");
    }
    if (o.client_cert.empty() != o.client_key.empty()) {
        return std::string("--client-cert and --client-key go together");
    }
    if (o.idle && rate_given) {
        return std::string("--rate has no meaning with --idle (stations send nothing after "
                           "BootNotification)");
    }
    if (o.session && o.urls.size() > 1) {
        return std::string("--session runs one station: give one --url");
    }
    if (o.session && o.processes > 1) {
        return std::string("--session runs one station: --processes has no meaning");
    }
    if (std::size_t{o.threads} * o.processes > o.stations && !o.session) {
        return o.processes > 1
                   ? fmt::format("--processes {} x --threads {} is more than --stations {}",
                                 o.processes, o.threads, o.stations)
                   : fmt::format("--threads {} is more than --stations {}", o.threads, o.stations);
    }
    return cl;
}

std::string help_text() {
    return R"(ocpp-loadgen: load generator for the OCPP-J gateway

Simulates charging stations (WebSocket clients speaking ocpp1.6 and ocpp2.0.1), sends CALLs at
a constant total rate (open loop) and reports throughput, errors and latency percentiles.

Usage:
  ocpp-loadgen [options]                      load run
  ocpp-loadgen --idle [options]               connect, boot, hold idle (memory measurements)
  ocpp-loadgen --session [--v201-share 1]     one station, one full charging session, verbose
  ocpp-loadgen --storm [options]              connect and boot, drop every connection at once,
                                              reconnect, measure the way back

Target:
  --url URL                 gateway endpoint, ws:// or wss://; the station id is appended as
                            URL/<id> (default ws://127.0.0.1:9000/ocpp). Repeat it for several
                            gateways: the stations are split into as many equal consecutive
                            blocks, the first block connecting to the first URL
  --id-prefix P             station ids are P000001, P000002, ... (default LG)
  --source-addresses LIST   bind outgoing connections round-robin to these local addresses, so
                            more than ~28k connections to one gateway port are possible:
                            a range 127.0.0.1-127.0.0.20, a comma list, or both
                            (127.0.0.1,127.0.0.5-127.0.0.9). Loopback only: 127.0.0.0/8, ::1.

Security (the gateway's profiles 1 to 3):
  --password P              HTTP Basic authentication, user = station id, password P
                            (profiles 1 and 2)
  --ca-file F               wss://: the CA that signed the gateway's certificate; the
                            certificate must name the --url host (required with wss://)
  --client-cert F --client-key K
                            wss://: client certificate and key (profile 3); "{id}" in either
                            path stands for the station id (certs/{id}.pem), since the gateway
                            wants the station id as the certificate's CN
  --tls-resume              --storm: offer each station's previous TLS session when it
                            reconnects (the report counts the ones resumed)

Stations:
  --stations N              stations to simulate (default 100)
  --v201-share F            fraction speaking ocpp2.0.1, the rest ocpp1.6 (default 0.5);
                            the two versions are interleaved over the station ids
  --connect-rate C          new connections per second while ramping up (default 500).
                            Every station sends BootNotification as soon as it is connected;
                            the ramp-up is not measured.

Traffic:
  --mix heartbeat|realistic|authorize
                            heartbeat (default): Heartbeat only.
                            realistic: MeterValues 60 %, StatusNotification 20 %,
                            Heartbeat 15 %, Authorize 5 %, valid payloads for each version,
                            current timestamps, MeterValues with 5 sampled values.
                            authorize: Authorize only, station N with token 04A2 + N as 10
                            hex digits (the tokens an operator's table would list).
  --rate R                  CALLs per second over all stations (default 1000)
  --warmup S                seconds of traffic before measuring (default 2)
  --duration S              measured seconds (default 10); with --idle, seconds to hold
  --timeout-ms MS           a CALL unanswered after MS (from its scheduled time) is a timeout
                            (default 30000)
  --boot-retries N          a BootNotification answered with a CALLERROR or timed out is sent
                            again 1 s later, up to N times (default 3; 0: never)
  --connect-retries N       a failed connection (TCP, TLS, or an HTTP refusal such as 503
                            from the gateway's admission control) is tried again 1, 2, 4,
                            then every 8 s, up to N times (default 0)
  --idle                    connect and boot every station, print when all are connected, then
                            hold the connections idle for --duration seconds

Storm (--storm):
  After the ramp-up and --warmup seconds, every connection is reset at once (no close
  handshake, as when stations lose power or their network), and all stations connect again
  at --connect-rate. Each one sends BootNotification and, once accepted, one
  StatusNotification. Reported: time from a station's scheduled reconnection to its
  BootNotification being accepted, the BootNotification's and the StatusNotification's
  latency, failures, and when the last station was back. Use --connect-retries to retry
  refused connections as firmware does.

Run:
  --threads T               I/O threads (default 1); stations are spread over them
  --processes N             N processes, each with --threads threads and every N-th share of
                            the stations and the rate (default 1): past one process's
                            open-file limit, or to use more cores. The phases start together
                            and the reports are merged into one (exact percentiles).
  --json                    print the final report as one JSON object (default: text)
  --session                 run one charging session with one station and print every CALL
                            and answer. 1.6 (default): BootNotification, Authorize,
                            StartTransaction, MeterValues x3 (with the transactionId of the
                            StartTransaction answer), StopTransaction. 2.0.1 (--v201-share 1):
                            BootNotification, Authorize, TransactionEvent Started, Updated,
                            Ended, MeterValues. Stops at the first CALLERROR or timeout.
  -h, --help                this text

Open loop:
  A timer schedules sends every 1/R seconds and gives each to the next station in round-robin
  order. A station has at most one CALL outstanding (OCPP): if it is still waiting the next
  free station sends; if none is free the send is counted as skipped. Latency runs from the
  SCHEDULED send time to the answer, so a slow generator or gateway shows as latency instead
  of hiding as a lower send rate. Percentiles are exact (every sample is kept).

Exit status:
  0  the run completed (errors, timeouts and skips are counted in the report)
  1  no station could connect, or --session saw a CALLERROR, a timeout or a failure
  2  bad options
)";
}

}  // namespace loadgen
