#pragma once

#ifndef ASIO_STANDALONE
#define ASIO_STANDALONE
#endif
#include <asio/ip/address.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "ocpp/result.hpp"

namespace loadgen {

/// Which CALLs the stations send.
enum class Mix : std::uint8_t {
    heartbeat,  ///< Heartbeat only
    realistic,  ///< MeterValues, StatusNotification, Heartbeat, Authorize (see payloads.hpp)
    authorize,  ///< Authorize only, each station its own token (payloads.hpp token_for)
};

std::string_view mix_name(Mix m);

/// Everything the command line can set.
struct Options {
    /// --url, repeatable: the stations are split into consecutive blocks, one per URL.
    std::vector<std::string> urls{"ws://127.0.0.1:9000/ocpp"};
    std::string id_prefix = "LG";
    std::size_t stations = 100;
    double v201_share = 0.5;
    Mix mix = Mix::heartbeat;
    double rate = 1000.0;
    double duration_s = 10.0;
    double warmup_s = 2.0;
    double connect_rate = 500.0;
    std::vector<asio::ip::address> source_addresses;
    std::chrono::milliseconds timeout{30000};
    /// BootNotifications sent again (1 s apart) after a CALLERROR or a timeout, as firmware
    /// does, before the station counts as not booted.
    unsigned boot_retries = 3;
    /// Failed connection attempts (TCP, TLS or HTTP refusal) tried again 1 s later, doubling
    /// up to 8 s, as firmware does, before the station counts as failed.
    unsigned connect_retries = 0;
    bool idle = false;
    /// Ramp up, drop every connection at once (no close handshake), reconnect at
    /// connect_rate, and measure the way back: time to booted and the first CALL after it.
    bool storm = false;
    // wss:// and the security profiles.
    std::string ca_file;      ///< the CA that signed the gateway's certificate
    std::string client_cert;  ///< profile 3; "{id}" stands for the station id
    std::string client_key;
    std::string password;     ///< HTTP Basic (profiles 1 and 2): user = station id
    bool tls_resume = false;  ///< offer the previous connection's TLS session on reconnect
    unsigned threads = 1;
    /// --processes: child processes, each with `threads` threads.
    unsigned processes = 1;
    /// Which of them this process is (set for each child, not an option).
    unsigned process_index = 0;
    bool json = false;
    bool session = false;
};

/// The result of reading the command line.
struct CommandLine {
    enum class Action : std::uint8_t { run, help };
    Action action = Action::run;
    Options options;
};

/// Reads the command line (`--name value` or `--name=value`). The error is one line in words.
ocpp::Result<CommandLine, std::string> parse_command_line(int argc, const char* const* argv);

/// The --help text.
std::string help_text();

/// Reads "127.0.0.1-127.0.0.20", "127.0.0.1,127.0.0.2", a mix of both, or "::1". Refuses any
/// address outside 127.0.0.0/8 and ::1.
ocpp::Result<std::vector<asio::ip::address>, std::string> parse_source_addresses(
    std::string_view text);

/// True for 127.0.0.0/8 and ::1.
bool is_loopback(const asio::ip::address& a);

}  // namespace loadgen
