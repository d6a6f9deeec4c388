#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "gateway/config/config.hpp"
#include "gateway/metrics/metrics.hpp"
#include "gateway/security/events.hpp"
#include "gateway/security/registry.hpp"
#include "gateway/security/throttle.hpp"
#include "gateway/station/handshake.hpp"

namespace gateway::station {

/// Who may connect, decided before any OCPP traffic (README "Security"):
///
///   take_upgrade: upgrades per second ─▶ 503 admission_rate
///   admit:        connections per address ─▶ 503 ─┐
///                 throttled identity / address ─▶ 429 (no password work)
///                 registry (unknown, disabled) ─▶ 404 ─┐
///                 client certificate (profile 3) ─▶ 401 ├─ counted as failures ─▶ throttles
///                 HTTP Basic (profiles 1, 2) ─▶ 401 ────┘
///                 identities replacing each other too often ─▶ 429
///
/// Raises the security events of each refusal (storms reported once per period, not per
/// attempt). Time is passed in. Thread-safe.
class Admission {
public:
    using Clock = std::chrono::steady_clock;

    Admission(const config::Config::Security& settings, security::StationRegistry& registry,
              security::EventSink& events, metrics::Metrics& metrics);

    /// The upgrade rate: nothing when this upgrade may proceed, else 503 (Retry-After 1).
    std::optional<Refusal> take_upgrade(const std::string& ip, Clock::time_point now);

    /// One authenticated-or-not newcomer, as the listener sees it.
    struct Candidate {
        const Handshake& handshake;
        std::string ip;
        /// The Authorization header, empty when absent.
        std::string authorization;
        /// Open connections from `ip`.
        std::size_t connections_from_ip = 0;
        /// Whether the identity has an open connection here (the newcomer would replace it).
        bool identity_connected = false;
        /// Profile 3: the client certificate's problem for this identity, or nothing.
        std::function<std::optional<std::string>()> certificate_problem;
        /// The verdict of password_check()'s check, run for this very request (station,
        /// Authorization header, version) before it was read; nothing when none ran.
        std::optional<security::StationRegistry::Checked> prechecked;
        /// That check could not run within the budget or in time: 503 password_budget.
        bool precheck_over_budget = false;
    };
    /// Nothing when `candidate` may connect, else why not.
    std::optional<Refusal> admit(const Candidate& candidate, Clock::time_point now);

    /// A password check run before admit(), off the I/O threads, given the time it starts: its
    /// verdict, or nothing when the budget was spent by then.
    using PasswordCheck = std::function<std::optional<security::StationRegistry::Checked>(Clock::time_point)>;
    /// For a request not yet decided: the PBKDF2 check admit() would run for it, or nothing
    /// when admit() needs none or decides without one (no Basic credentials to check, a
    /// throttled key, an unknown or disabled identity, a cached password, a spent budget).
    /// The check charges the budget when it runs. Its verdict goes to admit() as
    /// Candidate::prechecked.
    std::optional<PasswordCheck> password_check(const Handshake& handshake, const std::string& ip,
                                                const std::string& authorization, Clock::time_point now);

private:
    std::optional<Refusal> refuse(const Candidate& c, Clock::time_point now, int status,
                                  std::string reason, security::EventType type,
                                  std::string detail);
    std::optional<Refusal> check_flapping(const Candidate& c, Clock::time_point now);
    std::optional<Refusal> over_budget(const Candidate& c, Clock::time_point now);

    const config::Config::Security& settings_;
    security::StationRegistry& registry_;
    security::EventSink& events_;
    metrics::Metrics& metrics_;
    security::AttemptThrottle identity_failures_;
    security::AttemptThrottle address_failures_;
    security::RateLimiter upgrades_;
    security::WorkBudget password_checks_;
    /// LimitHit events: at most one per 10 s for each limit, so a storm is reported, not
    /// mirrored.
    security::RateLimiter upgrade_events_{0.1, 1};
    security::RateLimiter address_events_{0.1, 1};
    security::RateLimiter password_events_{0.1, 1};
    std::mutex mutex_;
    std::map<std::string, std::vector<Clock::time_point>> replacements_;  // under mutex_
};

}  // namespace gateway::station
