#pragma once

#include <string>
#include <string_view>

namespace gateway::app {

/// Tells the service manager about the gateway's state (sd_notify's protocol: one datagram of
/// `KEY=value` lines to the unix socket named by $NOTIFY_SOCKET; "@name" is an abstract
/// socket). Without $NOTIFY_SOCKET (not started by systemd with Type=notify) nothing happens.
/// Returns the problem in words when the socket is named but the message could not be sent.
std::string notify_service_manager(std::string_view state);

}  // namespace gateway::app
