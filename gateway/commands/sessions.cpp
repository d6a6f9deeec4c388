// What sessions tell the Router: connections opened and closed (presence records), commands
// they could not send.
#include "gateway/commands/router.hpp"

#include "gateway/log/log.hpp"
#include "gateway/session/session.hpp"
#include "kafka_bridge/envelope.hpp"

namespace gateway::commands {
namespace {

using json = nlohmann::json;
using kafka_bridge::Command;

}  // namespace

void Router::hand_back(std::vector<Command> commands, const session::Session& from) {
    for (auto& command : commands) {
        // Superseded by a connection elsewhere, `from` stays the station's entry here until
        // its close completes: given back to it, the command would go round on its thread.
        if (auto session = stations_.find_station(command.station_id); session && session.get() != &from) {
            session->deliver(std::move(command));  // the newer connection on this instance
        } else {
            redecide(std::move(command));
        }
    }
}

kafka_bridge::Presence Router::presence_of(const session::Session& session, bool connected) const {
    kafka_bridge::Presence p;
    p.station_id = session.station_id();
    p.gateway_id = config_.gateway_id;
    p.connected = connected;
    p.epoch = connected ? -1 : session.epoch();
    p.session_id = session.session_id();
    p.version = session.version();
    p.since = session.since();
    p.at = kafka_bridge::now_rfc3339();
    return p;
}

std::optional<kafka_bridge::Presence> Router::held_here(const std::string& station_id) const {
    auto session = stations_.find_station(station_id);
    if (!session) {
        return std::nullopt;
    }
    const std::int64_t epoch = session->epoch();
    // Without an epoch the Connected record, or its acknowledgement, is still on its way: the
    // connection is taken as the station's newest. Should a newer one elsewhere have been
    // recorded meanwhile, the acknowledgement supersedes this session (session_opened) and the
    // command is handed back to follow the station.
    if (epoch >= 0) {
        std::lock_guard<std::mutex> lock(mutex_);
        const auto last = presence_.last(station_id);
        if (last && last->epoch > epoch) {
            return std::nullopt;  // a newer connection (elsewhere) or its end was read already
        }
    }
    kafka_bridge::Presence p = presence_of(*session, true);
    p.epoch = epoch;
    return p;
}

void Router::session_opened(const std::shared_ptr<session::Session>& session) {
    const kafka_bridge::Presence p = presence_of(*session, true);
    std::weak_ptr<session::Session> weak = session;
    const std::string key = kafka_bridge::presence_key(p.station_id);
    auto record = kafka_bridge::Record{config_.topics.presence, key,
                                       kafka_bridge::presence_record(p),
                                       {{"content-type", "application/json"}}};
    auto result = producers_.current()->produce(record, [this, weak](const kafka_bridge::Delivery& d) {
        auto s = weak.lock();
        if (!s) {
            return;  // gone already: its Disconnected record says so
        }
        if (!d.ok()) {
            // Without it, commands for the station find it nowhere: written again while the
            // connection lasts.
            retry_later("presence of station " + s->station_id(), [this, weak] { open_again(weak); });
            return;
        }
        s->set_epoch(d.offset);
        // A connection elsewhere whose record landed after ours replaced this one already.
        std::optional<kafka_bridge::Presence> last;
        {
            std::lock_guard<std::mutex> lock(mutex_);
            last = presence_.last(s->station_id());
        }
        if (last && last->connected && last->gateway_id != config_.gateway_id &&
            last->epoch > d.offset) {
            s->supersede("replaced by a newer connection on gateway " + last->gateway_id);
        }
    });
    if (!result.ok()) {
        retry_later("presence of station " + p.station_id, [this, weak] { open_again(weak); });
    }
}

void Router::open_again(const std::weak_ptr<session::Session>& weak) {
    const auto session = weak.lock();
    if (!session) {
        return;
    }
    if (stations_.find_station(session->station_id()) != session) {
        // Closed or replaced meanwhile (the object may outlive its connection): its
        // Disconnected record, written since, would come first and this one would leave the
        // station connected for ever.
        log::info("station {}: Connected record of session {} not written again, the "
                  "connection is gone",
                  session->station_id(), session->session_id());
        return;
    }
    // A connection opened elsewhere after this one (its record read meanwhile; the opening
    // times of two hosts, kept in step by NTP) holds the station while its instance lives:
    // written now, ours would come after it and take the station back.
    std::optional<kafka_bridge::Presence> last;
    bool holder_alive = false;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        last = presence_.last(session->station_id());
        holder_alive = last && presence_.gateway_alive(last->gateway_id, now_ms());
    }
    if (last && last->connected && last->gateway_id != config_.gateway_id && holder_alive) {
        const auto theirs = kafka_bridge::parse_time_ms(last->since);
        const auto ours = kafka_bridge::parse_time_ms(session->since());
        if (theirs && ours && *theirs > *ours) {
            session->supersede("replaced by a newer connection on gateway " + last->gateway_id);
            return;
        }
    }
    session_opened(session);
}

void Router::session_closed(const std::shared_ptr<session::Session>& session, bool superseded) {
    if (superseded) {
        return;  // the newer connection's record says where the station is
    }
    write_presence(presence_of(*session, false));
}

void Router::write_presence(const kafka_bridge::Presence& p) {
    produce(config_.topics.presence, kafka_bridge::presence_key(p.station_id),
            kafka_bridge::presence_record(p), [this, p](bool ok) {
                if (!ok) {
                    retry_later("presence of station " + p.station_id, [this, p] { write_presence(p); });
                }
            });
}

std::optional<std::string> Router::known_spelling(const std::string& station_id) const {
    std::lock_guard<std::mutex> lock(mutex_);
    if (auto last = presence_.last(station_id)) {
        return last->station_id;
    }
    return std::nullopt;
}

}  // namespace gateway::commands
