#pragma once

#include <atomic>
#include <functional>
#include <string>

#include "gateway/server.hpp"

namespace gateway {

/// The admin HTTP listener: /healthz, /readyz, /metrics.
class AdminServer {
public:
    /// `ready` says whether the gateway should receive stations; `metrics` renders the
    /// Prometheus page.
    AdminServer(const Config& config, asio::io_context& io, std::function<bool()> ready,
                std::function<std::string()> metrics);

    /// Opens the listener. Throws std::runtime_error when the address cannot be bound.
    void listen();
    void stop_listening();

private:
    void on_http(websocketpp::connection_hdl hdl);

    const Config& config_;
    WsServer http_;
    std::function<bool()> ready_;
    std::function<std::string()> metrics_;
};

}  // namespace gateway
