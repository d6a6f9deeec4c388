#include "gateway/station/admission.hpp"

#include <algorithm>

#include "gateway/log/log.hpp"
#include "gateway/security/basic_auth.hpp"

namespace gateway::station {

using security::EventType;

Admission::Admission(const config::Config::Security& settings,
                     security::StationRegistry& registry, security::EventSink& events,
                     metrics::Metrics& metrics)
    : settings_(settings),
      registry_(registry),
      events_(events),
      metrics_(metrics),
      identity_failures_({settings.failures_per_identity, settings.failure_window,
                          std::chrono::seconds(1), settings.max_backoff, 100000}),
      address_failures_({settings.failures_per_address, settings.failure_window,
                         std::chrono::seconds(1), settings.max_backoff, 100000}),
      upgrades_(settings.handshakes_per_second, settings.handshakes_per_second * 2),
      password_checks_(settings.password_check_ms_per_second, settings.password_check_burst_ms) {}

std::optional<Refusal> Admission::take_upgrade(const std::string& ip, Clock::time_point now) {
    if (upgrades_.try_take(now)) {
        return std::nullopt;
    }
    // A reconnect storm: spread it over time instead of starving connected stations.
    if (upgrade_events_.try_take(now)) {
        events_.raise(EventType::limit_hit, "", ip,
                      fmt::format("handshake admission rate ({}/s) exceeded: refused with 503",
                                  settings_.handshakes_per_second));
    }
    return Refusal{503, "admission_rate", 1};
}

std::optional<Refusal> Admission::refuse(const Candidate& c, Clock::time_point now, int status,
                                         std::string reason, EventType type, std::string detail) {
    const std::string& station = c.handshake.station_id.get();
    const std::string identity = ocpp::ascii_lower(station);
    const bool identity_blocked = identity_failures_.failure("id:" + identity, now);
    const bool address_blocked = address_failures_.failure("ip:" + c.ip, now);
    log::info("station {} from {} refused: {}", station, c.ip, detail);
    events_.raise(type, station, c.ip, detail);
    // Each refusal period is reported once, not each attempt it refuses.
    if (identity_blocked) {
        events_.raise(EventType::auth_throttled, station, c.ip,
                      "too many failed authentications for this identity: refused with 429 for a while");
    }
    if (address_blocked) {
        events_.raise(EventType::auth_throttled, "", c.ip,
                      "too many failed authentications from this address: refused with 429 for a while");
    }
    return Refusal{status, std::move(reason), 0};
}

std::optional<Refusal> Admission::admit(const Candidate& c, Clock::time_point now) {
    const std::string& station = c.handshake.station_id.get();
    const std::string identity = ocpp::ascii_lower(station);
    if (c.connections_from_ip >= settings_.connections_per_address) {
        if (address_events_.try_take(now)) {
            events_.raise(EventType::limit_hit, station, c.ip,
                          "connections per address (" +
                              std::to_string(settings_.connections_per_address) +
                              ") reached: refused with 503");
        }
        return Refusal{503, "too_many_from_address", 10};
    }
    // Throttled keys are refused before any password work.
    const auto wait = std::max(identity_failures_.retry_after("id:" + identity, now),
                               address_failures_.retry_after("ip:" + c.ip, now));
    if (wait.count() > 0) {
        return Refusal{429, "auth_throttled", static_cast<int>(wait.count())};
    }
    if (settings_.profile >= 1 || !registry_.empty()) {
        const auto credential = registry_.find(station);
        if (!credential) {
            return refuse(c, now, 404, "unknown_station", EventType::unknown_station,
                          "identity not in the station registry");
        }
        if (!credential->enabled) {
            return refuse(c, now, 404, "unknown_station", EventType::unknown_station,
                          "identity disabled in the station registry");
        }
    }
    if (settings_.profile >= 3 && c.certificate_problem) {
        if (auto problem = c.certificate_problem()) {
            metrics_.handshake_refused("certificate_rejected");
            return refuse(c, now, 401, "certificate_mismatch", EventType::certificate_rejected,
                          *problem);
        }
    }
    if (settings_.profile == 1 || settings_.profile == 2) {
        if (c.authorization.empty()) {
            return refuse(c, now, 401, "unauthorized", EventType::auth_failed,
                          "no Authorization header");
        }
        auto credentials = security::parse_basic_authorization(c.authorization);
        if (!credentials.ok()) {
            return refuse(c, now, 401, "unauthorized", EventType::auth_failed, credentials.error());
        }
        if (ocpp::ascii_lower(credentials.value().user) != identity) {
            return refuse(c, now, 401, "unauthorized", EventType::auth_failed,
                          "Basic user differs from the URL identity");
        }
        const std::string& password = credentials.value().password;
        // PBKDF2 is bounded by a CPU budget, so that a fleet arriving with a cold cache (after
        // a restart) cannot take every core from the rest of the machine. Usually the check
        // ran before the request was read, off the I/O threads (password_check()); when it
        // could not (the cache lost the entry meanwhile), it runs here.
        if (c.precheck_over_budget) {
            return over_budget(c, now);
        }
        // A verdict reached against a credential the registry has replaced since (a password
        // rotated, a station disabled, while the check ran) is none: checked again.
        auto prechecked = c.prechecked;
        if (prechecked && !registry_.still_holds(station, *prechecked)) {
            prechecked.reset();
        }
        const bool cached = prechecked || registry_.verified_recently(station, password);
        if (!cached && !password_checks_.available(now)) {
            return over_budget(c, now);
        }
        security::StationRegistry::Verdict verdict{};
        if (prechecked) {
            verdict = prechecked->verdict;
        } else {
            const auto started = Clock::now();
            verdict = registry_.verify(station, password, c.handshake.version);
            if (!cached) {
                password_checks_.charge(Clock::now() - started, now);
            }
        }
        if (verdict != security::StationRegistry::Verdict::ok) {
            return refuse(c, now, 401, "unauthorized", EventType::auth_failed,
                          verdict == security::StationRegistry::Verdict::bad_credentials
                              ? "wrong password"
                              : "not allowed");
        }
        identity_failures_.success("id:" + identity);
    }
    return check_flapping(c, now);
}

std::optional<Refusal> Admission::over_budget(const Candidate& c, Clock::time_point now) {
    if (password_events_.try_take(now)) {
        events_.raise(EventType::limit_hit, c.handshake.station_id.get(), c.ip,
                      fmt::format("password check budget ({} ms of CPU per second) "
                                  "exhausted: refused with 503",
                                  settings_.password_check_ms_per_second.count()));
    }
    return Refusal{503, "password_budget", 1};
}

std::optional<Admission::PasswordCheck> Admission::password_check(const Handshake& handshake,
                                                                  const std::string& ip,
                                                                  const std::string& authorization,
                                                                  Clock::time_point now) {
    if ((settings_.profile != 1 && settings_.profile != 2) || authorization.empty()) {
        return std::nullopt;
    }
    const std::string& station = handshake.station_id.get();
    const std::string identity = ocpp::ascii_lower(station);
    auto credentials = security::parse_basic_authorization(authorization);
    if (!credentials.ok() || ocpp::ascii_lower(credentials.value().user) != identity) {
        return std::nullopt;
    }
    if (identity_failures_.retry_after("id:" + identity, now).count() > 0 ||
        address_failures_.retry_after("ip:" + ip, now).count() > 0) {
        return std::nullopt;
    }
    const auto credential = registry_.find(station);
    if (!credential || !credential->enabled) {
        return std::nullopt;
    }
    std::string password = std::move(credentials.value().password);
    if (registry_.verified_recently(station, password) || !password_checks_.available(now)) {
        return std::nullopt;
    }
    return PasswordCheck([this, station, password = std::move(password), version = handshake.version](
                             Clock::time_point now) -> std::optional<security::StationRegistry::Checked> {
        if (!password_checks_.available(now)) {
            return std::nullopt;  // spent by the checks that ran before this one
        }
        const auto started = Clock::now();
        auto checked = registry_.verify_for_later(station, password, version);
        password_checks_.charge(Clock::now() - started, now);
        return checked;
    });
}

std::optional<Refusal> Admission::check_flapping(const Candidate& c, Clock::time_point now) {
    // The newcomer is authenticated. Two devices taking turns with one identity?
    if (!c.identity_connected) {
        return std::nullopt;
    }
    const std::string& station = c.handshake.station_id.get();
    {
        std::lock_guard<std::mutex> lock(mutex_);
        auto& history = replacements_[ocpp::ascii_lower(station)];
        history.erase(std::remove_if(history.begin(), history.end(),
                                     [&](auto t) { return now - t > std::chrono::minutes(1); }),
                      history.end());
        if (history.size() < settings_.max_replacements_per_minute) {
            history.push_back(now);
            return std::nullopt;
        }
    }
    log::warn("station {}: connections keep replacing each other; newcomer from {} refused",
              station, c.ip);
    events_.raise(EventType::duplicate_identity_flapping, station, c.ip,
                  "more than " + std::to_string(settings_.max_replacements_per_minute) +
                      " connections of this identity replaced each other within a minute");
    return Refusal{429, "identity_flapping", 60};
}

}  // namespace gateway::station
