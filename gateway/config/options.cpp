#include "gateway/config/options.hpp"

#include "gateway/decisions/token_table.hpp"

#include <algorithm>
#include <cctype>
#include <climits>
#include <map>
#include <stdexcept>

namespace gateway::config {
namespace {

using Shape = Option::Shape;
using Setter = std::function<void(Config&, const std::string&, const std::string&)>;
using Show = std::function<std::string(const Config&)>;

[[noreturn]] void fail(const std::string& message) { throw std::runtime_error(message); }

Endpoint parse_endpoint(const std::string& text, const std::string& what) {
    const auto colon = text.rfind(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 == text.size()) {
        fail(what + ": expected HOST:PORT, got \"" + text + "\"");
    }
    std::string host = text.substr(0, colon);
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
        host = host.substr(1, host.size() - 2);  // [::1]:9000
    }
    // The listeners bind an address, not a name: "localhost" would pass here and fail at
    // start-up with a misleading error (or, for a name, after Kafka's topics were made).
    if (host.find('/') != std::string::npos || !parse_network(host)) {
        fail(what + ": \"" + host + "\" is not an IP address (127.0.0.1, ::1; 0.0.0.0 or :: for every address)");
    }
    const std::string port_text = text.substr(colon + 1);
    if (!std::all_of(port_text.begin(), port_text.end(), ::isdigit) || port_text.size() > 5) {
        fail(what + ": port \"" + port_text + "\" is not a number");
    }
    const long port = std::stol(port_text);
    if (port < 1 || port > 65535) {
        fail(what + ": port " + port_text + " is outside 1..65535");
    }
    return Endpoint{host, static_cast<std::uint16_t>(port)};
}

bool parse_bool(const std::string& text, const std::string& what) {
    const std::string t = ocpp::ascii_lower(text);
    if (t == "true" || t == "yes" || t == "on" || t == "1") {
        return true;
    }
    if (t == "false" || t == "no" || t == "off" || t == "0") {
        return false;
    }
    fail(what + ": \"" + text + "\" is not a boolean");
}

ocpp::ProtocolVersion parse_version_or_fail(const std::string& text, const std::string& what) {
    const auto v = ocpp::parse_version(text);
    if (!v) {
        fail(what + ": unknown OCPP version \"" + text + "\" (use ocpp1.6, ocpp2.0.1 or ocpp2.1)");
    }
    return *v;
}

std::pair<std::string, std::string> split_assignment(const std::string& text,
                                                     const std::string& what) {
    const auto eq = text.find('=');
    if (eq == std::string::npos || eq == 0) {
        fail(what + ": expected NAME=VALUE, got \"" + text + "\"");
    }
    return {text.substr(0, eq), text.substr(eq + 1)};
}

void set_reply_mode(Config& config, const std::string& assignment, const std::string& what) {
    const auto [cls, mode] = split_assignment(assignment, what);
    const auto c = ocpp::parse_event_class(cls);
    if (!c) {
        fail(what + ": unknown event class \"" + cls + "\"");
    }
    ReplyMode m;
    if (mode == "after-ack") {
        m = ReplyMode::after_ack;
    } else if (mode == "immediate") {
        m = ReplyMode::immediate;
    } else {
        fail(what + ": reply mode \"" + mode + "\" is neither after-ack nor immediate");
    }
    if (*c == ocpp::EventClass::transaction && m != ReplyMode::after_ack) {
        fail(what + ": transaction events are always answered after the Kafka ack (billing "
                    "data must never be acknowledged before it is stored)");
    }
    config.reply.modes[static_cast<std::size_t>(*c)] = m;
}

/// One "KEY=VALUE" of contract.ROLE (docs/contract.md).
void set_contract(Config& config, const std::string& role, const std::string& assignment,
                  const std::string& what) {
    const auto [key, value] = split_assignment(assignment, what);
    const std::string where = what + "." + key;
    TopicContract& c = config.contract[role];
    if (key == "partitions") {
        c.partitions = static_cast<int>(parse_integer(value, where, 0, 100000));
        if (role == "transaction_ids" && c.partitions != 1) {
            fail(where + ": must be 1 (the topic's offsets number OCPP 1.6 transactions)");
        }
    } else if (key == "replication_factor") {
        c.replication = static_cast<int>(parse_integer(value, where, 0, 32767));
    } else if (key == "min_insync_replicas") {
        c.min_insync = static_cast<int>(parse_integer(value, where, 0, 32767));
    } else if (key == "retention_ms") {
        c.retention_ms = parse_integer(value, where, -1, LLONG_MAX);
    } else if (key == "retention_bytes") {
        c.retention_bytes = parse_integer(value, where, -1, LLONG_MAX);
    } else if (key == "freshness_budget_s") {
        const auto cls = ocpp::parse_event_class(role);
        if (!cls) {
            fail(where + ": only event classes have a freshness budget (" + role +
                 " records are the gateway's own)");
        }
        config.freshness.budgets[static_cast<std::size_t>(*cls)] =
            std::chrono::seconds(parse_integer(value, where, 0, 30LL * 86400));
    } else if (key == "cleanup_policy") {
        const std::string v = value == "delete,compact" ? "compact,delete" : value;
        if (v != "delete" && v != "compact" && v != "compact,delete") {
            fail(where + ": \"" + value + "\" is not delete, compact or compact,delete");
        }
        if ((role == "presence" || role == "stations" || role == "id_tokens") &&
            v.find("compact") == std::string::npos) {
            fail(where + ": the " + role + " topic is a table read whole at start-up; it must "
                                           "be compacted (compact or compact,delete)");
        }
        c.cleanup_policy = v;
    } else {
        fail(where + ": unknown; partitions, replication_factor, min_insync_replicas, "
                     "retention_ms, retention_bytes, cleanup_policy or freshness_budget_s");
    }
}

/// "GROUP:CLASS[,CLASS...]:BUDGET_S" of lag.groups.
Config::Lag::Group parse_lag_group(const std::string& text, const std::string& where) {
    const auto first = text.find(':');
    const auto last = text.rfind(':');
    if (first == std::string::npos || first == last || first == 0) {
        fail(where + ": expected GROUP:CLASS[,CLASS...]:BUDGET_S, got \"" + text + "\"");
    }
    Config::Lag::Group g;
    g.group = text.substr(0, first);
    const std::string classes = text.substr(first + 1, last - first - 1);
    for (std::size_t start = 0; start <= classes.size();) {
        const auto comma = std::min(classes.find(',', start), classes.size());
        const std::string name = classes.substr(start, comma - start);
        const auto cls = ocpp::parse_event_class(name);
        if (!cls) {
            fail(where + ": \"" + name + "\" is not an event class (transaction, metering, status, ...)");
        }
        g.classes.push_back(*cls);
        start = comma + 1;
    }
    g.budget = std::chrono::seconds(parse_integer(text.substr(last + 1), where + " budget", 1, 30LL * 86400));
    return g;
}

/// "NAME[:TOPIC_PREFIX[:MAX_STATIONS]]" of tenants.
Tenant parse_tenant(const std::string& text, const std::string& where) {
    Tenant t;
    const auto first = text.find(':');
    t.name = text.substr(0, first);
    const bool name_ok = !t.name.empty() && t.name.size() <= 32 &&
                         std::all_of(t.name.begin(), t.name.end(), [](char ch) {
                             return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_' || ch == '-';
                         });
    if (!name_ok) {
        fail(where + ": tenant name \"" + t.name + "\" must be 1-32 of a-z, 0-9, _ and - (it is a URL segment)");
    }
    t.topic_prefix = t.name + ".";
    if (first == std::string::npos) {
        return t;
    }
    const auto second = text.find(':', first + 1);
    t.topic_prefix = text.substr(first + 1, second == std::string::npos ? std::string::npos : second - first - 1);
    const bool prefix_ok = !t.topic_prefix.empty() && t.topic_prefix.size() <= 100 &&
                           std::all_of(t.topic_prefix.begin(), t.topic_prefix.end(), [](char ch) {
                               return std::isalnum(static_cast<unsigned char>(ch)) != 0 || ch == '.' ||
                                      ch == '_' || ch == '-';
                           });
    if (!prefix_ok) {
        fail(where + ": topic prefix \"" + t.topic_prefix + "\" of tenant " + t.name +
             " must be 1-100 of a-z, A-Z, 0-9, '.', '_' and '-' (Kafka topic characters)");
    }
    if (second != std::string::npos) {
        t.max_stations = static_cast<std::size_t>(parse_integer(text.substr(second + 1), where + " max_stations", 0, 10000000));
    }
    return t;
}

// ---- setter builders: one per kind of value ------------------------------------------------

/// A string field.
template <class Get>
Setter text(Get get) {
    return [get](Config& c, const std::string& v, const std::string&) { get(c) = v; };
}
template <class Get>
Show show_text(Get get) {
    return [get](const Config& c) { return std::string(get(const_cast<Config&>(c))); };
}

/// An integer field of type T (a number, or a std::chrono duration) within [lo, hi].
template <class T, class Get>
Setter integer(Get get, long long lo, long long hi) {
    return [get, lo, hi](Config& c, const std::string& v, const std::string& where) {
        get(c) = T(parse_integer(v, where, lo, hi));
    };
}
template <class Get>
Show show_count(Get get) {
    return [get](const Config& c) {
        const auto& v = get(const_cast<Config&>(c));
        if constexpr (std::is_arithmetic_v<std::decay_t<decltype(v)>>) {
            return std::to_string(static_cast<long long>(v));
        } else {
            return std::to_string(static_cast<long long>(v.count()));
        }
    };
}

template <class Get>
Setter boolean(Get get) {
    return [get](Config& c, const std::string& v, const std::string& where) { get(c) = parse_bool(v, where); };
}

template <class Get>
Setter endpoint(Get get) {
    return [get](Config& c, const std::string& v, const std::string& where) { get(c) = parse_endpoint(v, where); };
}
/// Appends a network (CIDR) to the list `get` names.
template <class Get>
Setter network(Get get) {
    return [get](Config& c, const std::string& v, const std::string& where) {
        auto parsed = parse_network(v);
        if (!parsed) {
            fail(where + ": \"" + v + "\" is not an address or a network (10.0.0.0/8, 2001:db8::/32)");
        }
        get(c).push_back(*parsed);
    };
}
template <class Get>
Show show_endpoint(Get get) {
    return [get](const Config& c) { return get(const_cast<Config&>(c)).to_string(); };
}

#define FIELD(expr) [](Config& c) -> auto& { return c.expr; }

std::vector<Option> build() {
    std::vector<Option> o;
    auto add = [&o](Option option) { o.push_back(std::move(option)); };
    // Flag only: where the file is.
    add({"", "OCPP_GATEWAY_CONFIG", "--config", "FILE", "YAML configuration file (see deploy/gateway.example.yaml)",
         Shape::scalar, [](Config&, const std::string&, const std::string&) {}, nullptr, nullptr});

    add({"gateway_id", "OCPP_GATEWAY_ID", "--gateway-id", "ID", "this instance's id (default: the host name)",
         Shape::scalar, text(FIELD(gateway_id)), nullptr, nullptr});
    add({"listen", "OCPP_GATEWAY_LISTEN", "--listen", "HOST:PORT", "station WebSocket listener",
         Shape::scalar, endpoint(FIELD(listen)), show_endpoint(FIELD(listen)), nullptr});
    add({"admin_listen", "OCPP_GATEWAY_ADMIN_LISTEN", "--admin-listen", "HOST:PORT", "/healthz /readyz /metrics and REST",
         Shape::scalar, endpoint(FIELD(admin_listen)), show_endpoint(FIELD(admin_listen)), nullptr});
    add({"path_prefix", "", "", "PATH", "URL path before the station id",
         Shape::scalar, text(FIELD(path_prefix)), show_text(FIELD(path_prefix)), nullptr});
    // One I/O thread per core by default; more than 256 only adds contention.
    add({"io_threads", "", "", "N", "I/O threads (each keeps its own connections), 0: one per core",
         Shape::scalar, integer<unsigned>(FIELD(io_threads), 0, 256), show_count(FIELD(io_threads)), nullptr});
    add({"drain_timeout_s", "", "", "S", "SIGTERM: time for in-flight acks and replies",
         Shape::scalar, integer<std::chrono::seconds>(FIELD(drain_timeout), 0, 3600), show_count(FIELD(drain_timeout)), nullptr});
    add({"log_level", "OCPP_GATEWAY_LOG_LEVEL", "--log-level", "LEVEL", "debug, info, warn, error",
         Shape::scalar, text(FIELD(log_level)), show_text(FIELD(log_level)), nullptr});

    add({"ocpp.versions", "", "", "VERSION", "OCPP versions offered",
         Shape::list,
         [](Config& c, const std::string& v, const std::string& where) { c.versions.push_back(parse_version_or_fail(v, where)); },
         nullptr, [](Config& c) { c.versions.clear(); }});
    add({"ocpp.missing_subprotocol", "", "--missing-subprotocol", "V", "ocpp1.6, ocpp2.0.1, ocpp2.1 or refuse, for stations that send none",
         Shape::scalar,
         [](Config& c, const std::string& v, const std::string& where) {
             c.missing_subprotocol = v == "refuse" ? std::nullopt : std::optional(parse_version_or_fail(v, where));
         },
         [](const Config& c) { return c.missing_subprotocol ? std::string(ocpp::subprotocol(*c.missing_subprotocol)) : "refuse"; },
         nullptr});
    add({"ocpp.schema_overrides", "", "", "DIR", "operators' schema overrides (README)",
         Shape::scalar, text(FIELD(schema_overrides)), nullptr, nullptr});
    add({"stations.allow", "", "--allow-station", "ID", "only these identities may connect, repeatable",
         Shape::list, [](Config& c, const std::string& v, const std::string&) { c.allowed_stations.insert(ocpp::ascii_lower(v)); },
         nullptr, nullptr});

    // Limits: README "Flow control and lifecycle" and "Limits"; the reasons are in config.hpp.
    add({"limits.max_message_bytes", "", "", "N", "largest WebSocket message (1009 beyond)", Shape::scalar,
         integer<std::size_t>(FIELD(limits.max_message_bytes), 1024, 16LL << 20), show_count(FIELD(limits.max_message_bytes)), nullptr});
    add({"limits.max_json_depth", "", "", "N", "deepest JSON nesting", Shape::scalar,
         integer<std::size_t>(FIELD(limits.max_json_depth), 4, 1000), show_count(FIELD(limits.max_json_depth)), nullptr});
    add({"limits.max_connections", "", "", "N", "open connections (503 beyond)", Shape::scalar,
         integer<std::size_t>(FIELD(limits.max_connections), 1, 10000000), show_count(FIELD(limits.max_connections)), nullptr});
    add({"limits.handshake_timeout_ms", "", "", "MS", "time to complete the HTTP upgrade", Shape::scalar,
         integer<std::chrono::milliseconds>(FIELD(limits.handshake_timeout), 100, 600000), show_count(FIELD(limits.handshake_timeout)), nullptr});
    add({"limits.ping_interval_s", "", "", "S", "WebSocket ping period, 0: none", Shape::scalar,
         integer<std::chrono::seconds>(FIELD(limits.ping_interval), 0, 86400), show_count(FIELD(limits.ping_interval)), nullptr});
    add({"limits.pong_timeout_ms", "", "", "MS", "time for a pong", Shape::scalar,
         integer<std::chrono::milliseconds>(FIELD(limits.pong_timeout), 100, 600000), show_count(FIELD(limits.pong_timeout)), nullptr});
    add({"limits.idle_timeout_s", "", "", "S", "silence that closes a session, 0: none", Shape::scalar,
         integer<std::chrono::seconds>(FIELD(limits.idle_timeout), 0, 86400 * 7), show_count(FIELD(limits.idle_timeout)), nullptr});
    add({"limits.max_pending_calls", "", "", "N", "station CALLs in flight", Shape::scalar,
         integer<std::size_t>(FIELD(limits.max_pending_calls), 1, 64), show_count(FIELD(limits.max_pending_calls)), nullptr});

    add({"reply.modes", "", "--reply-mode", "CLASS=MODE", "after-ack or immediate per event class, repeatable",
         Shape::map, [](Config& c, const std::string& v, const std::string& where) { set_reply_mode(c, v, where); }, nullptr, nullptr});
    add({"reply.heartbeat_interval_s", "", "", "S", "BootNotification interval", Shape::scalar,
         integer<std::chrono::seconds>(FIELD(reply.heartbeat_interval), 1, 86400), show_count(FIELD(reply.heartbeat_interval)), nullptr});
    add({"reply.authorize.unknown_tokens", "", "--unknown-tokens", "STATUS",
         "status of tokens the id-token topic does not list: Invalid or Accepted (open network)", Shape::scalar,
         [](Config& c, const std::string& v, const std::string& where) {
             if (!decisions::is_authorization_status(v)) {
                 fail(where + ": \"" + v + "\" is not an OCPP authorization status "
                                          "(Invalid, Accepted, Blocked, ...)");
             }
             c.reply.unknown_token_status = v;
         },
         show_text(FIELD(reply.unknown_token_status)), nullptr});
    add({"reply.authorize.ask", "", "--ask-tokens", "WHEN",
         "put token questions to the operator (ask mode): never, unknown or always", Shape::scalar,
         [](Config& c, const std::string& v, const std::string& where) {
             using Ask = Config::Reply::Ask;
             static const std::map<std::string, Ask> kWhen = {
                 {"never", Ask::never}, {"unknown", Ask::unknown}, {"always", Ask::always}};
             const auto it = kWhen.find(v);
             if (it == kWhen.end()) {
                 fail(where + ": \"" + v + "\" is not never, unknown or always");
             }
             c.reply.ask = it->second;
         },
         nullptr, nullptr});
    add({"reply.authorize.ask_classes", "", "", "CLASS", "event classes whose token questions are asked: authorization, transaction",
         Shape::list,
         [](Config& c, const std::string& v, const std::string& where) {
             if (v != "authorization" && v != "transaction") {
                 fail(where + ": \"" + v + "\" is not authorization or transaction");
             }
             c.reply.ask_classes.insert(v == "authorization" ? ocpp::EventClass::authorization
                                                             : ocpp::EventClass::transaction);
         },
         nullptr, [](Config& c) { c.reply.ask_classes.clear(); }});
    add({"reply.authorize.ask_deadline_ms", "", "", "MS", "how long a question waits for the decision", Shape::scalar,
         integer<std::chrono::milliseconds>(FIELD(reply.ask_deadline), 100, 30000), show_count(FIELD(reply.ask_deadline)), nullptr});
    add({"reply.boot.default_status", "", "", "STATUS", "BootNotification status without one in the registry: Accepted or Pending",
         Shape::scalar,
         [](Config& c, const std::string& v, const std::string& where) {
             if (v != "Accepted" && v != "Pending" && v != "Rejected") {
                 fail(where + ": \"" + v + "\" is not Accepted, Pending or Rejected");
             }
             c.reply.boot_default_status = v;
         },
         show_text(FIELD(reply.boot_default_status)), nullptr});
    add({"reply.boot.retry_interval_s", "", "", "S", "interval sent with Pending / Rejected", Shape::scalar,
         integer<std::chrono::seconds>(FIELD(reply.boot_retry_interval), 1, 86400), show_count(FIELD(reply.boot_retry_interval)), nullptr});
    add({"reply.boot.trigger_on_approval", "", "", "BOOL", "TriggerMessage(BootNotification) to a Pending station once accepted",
         Shape::scalar, boolean(FIELD(reply.boot_trigger_on_approval)), nullptr, nullptr});
    add({"reply.data_transfer_status", "", "", "STATUS",
         "DataTransfer answer: Accepted, Rejected, UnknownMessageId or UnknownVendorId", Shape::scalar,
         [](Config& c, const std::string& v, const std::string& where) {
             if (v != "Accepted" && v != "Rejected" && v != "UnknownMessageId" && v != "UnknownVendorId") {
                 fail(where + ": \"" + v + "\" is not Accepted, Rejected, UnknownMessageId or UnknownVendorId");
             }
             c.reply.data_transfer_status = v;
         },
         show_text(FIELD(reply.data_transfer_status)), nullptr});

    add({"kafka.brokers", "OCPP_GATEWAY_KAFKA_BROKERS", "--kafka-brokers", "LIST", "bootstrap servers",
         Shape::scalar, text(FIELD(kafka.brokers)), show_text(FIELD(kafka.brokers)), nullptr});
    add({"kafka.delivery_timeout_ms", "", "", "MS", "below the stations' own message timeout", Shape::scalar,
         integer<std::chrono::milliseconds>(FIELD(kafka.delivery_timeout), 1000, 300000), show_count(FIELD(kafka.delivery_timeout)), nullptr});
    add({"kafka.batching", "", "", "HOW",
         "linger (wait kafka.linger_ms to batch) or adaptive (no wait; what arrives while earlier records "
         "are in flight goes in the next request: lower latency, more broker requests)",
         Shape::scalar,
         [](Config& c, const std::string& v, const std::string& where) {
             if (v != "linger" && v != "adaptive") {
                 fail(where + ": \"" + v + "\" is neither linger nor adaptive");
             }
             c.kafka.adaptive_batching = v == "adaptive";
         },
         [](const Config& c) { return std::string(c.kafka.adaptive_batching ? "adaptive" : "linger"); }, nullptr});
    add({"kafka.linger_ms", "", "", "MS", "producer batching delay", Shape::scalar,
         integer<std::chrono::milliseconds>(FIELD(kafka.linger), 0, 1000), show_count(FIELD(kafka.linger)), nullptr});
    add({"kafka.max_queued_messages", "", "", "N", "producer queue bound (backpressure)", Shape::scalar,
         integer<int>(FIELD(kafka.max_queued_messages), 1, 10000000), show_count(FIELD(kafka.max_queued_messages)), nullptr});
    add({"kafka.create_topics", "", "", "BOOL", "create missing topics at start-up", Shape::scalar,
         boolean(FIELD(create_topics)), nullptr, nullptr});
    add({"kafka.replication_factor", "", "--kafka-replication-factor", "N",
         "replicas of the gateway's topics, 0: 3 on >= 3 brokers, else all brokers", Shape::scalar,
         integer<int>(FIELD(topic_replication), 0, 32767), show_count(FIELD(topic_replication)), nullptr});
    add({"kafka.min_insync_replicas", "", "--kafka-min-insync-replicas", "N",
         "min.insync.replicas of the gateway's topics, 0: 2 with 3+ replicas, else 1", Shape::scalar,
         integer<int>(FIELD(topic_min_insync), 0, 32767), show_count(FIELD(topic_min_insync)), nullptr});
    add({"kafka.topic_check_interval_s", "", "", "S", "how often topics are checked for deletion or recreation, 0: never",
         Shape::scalar, integer<std::chrono::seconds>(FIELD(topic_check_interval), 0, 3600), show_count(FIELD(topic_check_interval)), nullptr});
    add({"kafka.properties", "", "--kafka-property", "K=V", "any librdkafka property (SASL, SSL, ...), repeatable; "
                                                           "environment OCPP_GATEWAY_KAFKA_PROP_<NAME> (dots as _)",
         Shape::map,
         [](Config& c, const std::string& v, const std::string& where) {
             auto [k, value] = split_assignment(v, where);
             c.kafka.properties[k] = value;
         },
         nullptr, nullptr});

    for (std::size_t i = 0; i < ocpp::kEventClassCount; ++i) {
        const auto cls = static_cast<ocpp::EventClass>(i);
        add({"topics." + std::string(ocpp::event_class_name(cls)), "", "", "TOPIC", "topic of the event class", Shape::scalar,
             [cls](Config& c, const std::string& v, const std::string&) { c.topics.for_class(cls) = v; },
             nullptr, nullptr});
    }
    add({"topics.connections", "", "", "TOPIC", "connection events", Shape::scalar, text(FIELD(topics.connections)), nullptr, nullptr});
    add({"topics.dead_letter", "", "", "TOPIC", "refused frames", Shape::scalar, text(FIELD(topics.dead_letter)), nullptr, nullptr});
    add({"topics.transaction_ids", "", "", "TOPIC", "one partition: numbers 1.6 transactions", Shape::scalar, text(FIELD(topics.transaction_ids)), nullptr, nullptr});
    add({"topics.commands", "", "", "TOPIC", "operator commands", Shape::scalar, text(FIELD(topics.commands)), nullptr, nullptr});
    add({"topics.command_results", "", "", "TOPIC", "one result per command", Shape::scalar, text(FIELD(topics.command_results)), nullptr, nullptr});
    add({"topics.presence", "", "", "TOPIC", "compacted: which instance holds which station", Shape::scalar, text(FIELD(topics.presence)), nullptr, nullptr});
    add({"topics.command_routes", "", "", "TOPIC", "internal: command decisions", Shape::scalar, text(FIELD(topics.command_routes)), nullptr, nullptr});
    add({"topics.stations", "", "", "TOPIC", "compacted station registry", Shape::scalar, text(FIELD(topics.stations)), nullptr, nullptr});
    add({"topics.authorization_requests", "", "", "TOPIC", "ask mode: token questions to the operator", Shape::scalar, text(FIELD(topics.authorization_requests)), nullptr, nullptr});
    add({"topics.authorization_decisions", "", "", "TOPIC", "ask mode: the operator's decisions", Shape::scalar, text(FIELD(topics.authorization_decisions)), nullptr, nullptr});
    add({"topics.violations", "", "", "TOPIC", "schema refusals per station model (tolerance)", Shape::scalar, text(FIELD(topics.violations)), nullptr, nullptr});
    add({"topics.id_tokens", "", "", "TOPIC", "compacted token table (authorization)", Shape::scalar, text(FIELD(topics.id_tokens)), nullptr, nullptr});

    for (const auto& [role, topic] : topic_roles(Config{})) {
        add({"contract." + role, "", "", "K: V",
             "the topic's contract: partitions, replication_factor, min_insync_replicas, "
             "retention_ms, retention_bytes, cleanup_policy, freshness_budget_s (docs/contract.md)",
             Shape::map,
             [role = role](Config& c, const std::string& v, const std::string& where) { set_contract(c, role, v, where); },
             nullptr, nullptr});
    }
    add({"freshness.clock_ahead_s", "", "", "S", "station timestamps further ahead: its clock is off (counted, reported)", Shape::scalar,
         integer<std::chrono::seconds>(FIELD(freshness.clock_ahead), 1, 365LL * 86400), show_count(FIELD(freshness.clock_ahead)), nullptr});
    add({"freshness.clock_behind_s", "", "", "S", "… further behind", Shape::scalar,
         integer<std::chrono::seconds>(FIELD(freshness.clock_behind), 1, 100LL * 365 * 86400), show_count(FIELD(freshness.clock_behind)), nullptr});
    add({"tenants", "", "", "NAME[:PREFIX[:MAX]]",
         "operators or regions with topics of their own: stations at PATH/NAME/ID, topics PREFIX+topic "
         "(default NAME.), at most MAX of its stations per instance (docs/contract.md)",
         Shape::list,
         [](Config& c, const std::string& v, const std::string& where) { c.tenants.push_back(parse_tenant(v, where)); },
         nullptr, [](Config& c) { c.tenants.clear(); }});
    add({"tenant_kafka.brokers", "", "", "NAME: BROKERS",
         "a tenant on a Kafka cluster of its own: its bootstrap brokers", Shape::map,
         [](Config& c, const std::string& v, const std::string& where) {
             auto [name, brokers] = split_assignment(v, where);
             if (brokers.empty()) {
                 fail(where + "." + name + ": no brokers");
             }
             c.tenant_brokers[name] = brokers;
         },
         nullptr, nullptr});
    add({"tenant_kafka.properties", "", "", "NAME.K: V",
         "librdkafka properties of a tenant's own cluster (instead of kafka.properties), e.g. south.security.protocol: SASL_SSL",
         Shape::map,
         [](Config& c, const std::string& v, const std::string& where) {
             auto [key, value] = split_assignment(v, where);
             const auto dot = key.find('.');
             if (dot == std::string::npos || dot == 0 || dot + 1 == key.size()) {
                 fail(where + ": \"" + key + "\" is not TENANT.PROPERTY");
             }
             c.tenant_kafka_properties[key.substr(0, dot)][key.substr(dot + 1)] = value;
         },
         nullptr, nullptr});
    add({"tolerance.report_interval_s", "", "", "S", "how often refusals per station model go to topics.violations; 0: never",
         Shape::scalar, integer<std::chrono::seconds>(FIELD(tolerance_report_interval), 0, 86400),
         show_count(FIELD(tolerance_report_interval)), nullptr});
    add({"tolerance.profiles", "", "", "", "[{name, match, allow, assume_offset}]: repairs per station model",
         Shape::profiles, nullptr, nullptr, [](Config& c) { c.tolerance.clear(); }});
    add({"lag.groups", "", "", "GROUP:CLASSES:BUDGET_S",
         "downstream consumer groups and their lag budgets, e.g. billing:transaction,metering:30", Shape::list,
         [](Config& c, const std::string& v, const std::string& where) { c.lag.groups.push_back(parse_lag_group(v, where)); },
         nullptr, [](Config& c) { c.lag.groups.clear(); }});
    add({"lag.interval_s", "", "", "S", "how often consumer lag is measured", Shape::scalar,
         integer<std::chrono::seconds>(FIELD(lag.interval), 1, 3600), show_count(FIELD(lag.interval)), nullptr});
    add({"kafka.topic_drift", "", "", "WHEN", "a topic unlike its contract at start-up: warn or refuse", Shape::scalar,
         [](Config& c, const std::string& v, const std::string& where) {
             if (v != "warn" && v != "refuse") {
                 fail(where + ": \"" + v + "\" is neither warn nor refuse");
             }
             c.topic_drift = v == "warn" ? Config::Drift::warn : Config::Drift::refuse;
         },
         nullptr, nullptr});

    // Never a flag: command lines are visible to every local user.
    add({"admin.token", "OCPP_GATEWAY_ADMIN_TOKEN", "", "TOKEN", "bearer token for /v1 and /metrics", Shape::scalar,
         text(FIELD(admin_token)), nullptr, nullptr});
    add({"admin.metrics_without_token", "", "", "BOOL", "serve /metrics without admin.token (/v1 still needs it)", Shape::scalar,
         boolean(FIELD(admin_metrics_without_token)), nullptr, nullptr});
    add({"admin.exposed_without_token", "", "", "BOOL",
         "allow a non-loopback admin_listen without admin.token: health and /metrics only, /v1 answers 403", Shape::scalar,
         boolean(FIELD(admin_exposed_without_token)), nullptr, nullptr});
    add({"admin.test_hooks", "", "", "BOOL", "testing only: POST /test/kafka-fatal injects a producer fatal error", Shape::scalar,
         boolean(FIELD(admin_test_hooks)), nullptr, nullptr});

    add({"security.profile", "OCPP_GATEWAY_SECURITY_PROFILE", "--security-profile", "N",
         "0 none, 1 Basic over ws://, 2 TLS + Basic, 3 TLS + client certificates", Shape::scalar,
         integer<int>(FIELD(security.profile), 0, 3), show_count(FIELD(security.profile)), nullptr});
    add({"security.profile0_exposed", "", "", "BOOL",
         "acknowledge profile 0 on a non-loopback listen address (anyone may connect as any station)", Shape::scalar,
         boolean(FIELD(security.profile0_exposed)), nullptr, nullptr});
    add({"proxy_protocol.trusted", "", "", "CIDR",
         "load balancers whose connections start with a PROXY header (v1/v2), e.g. 10.0.0.0/8", Shape::list,
         network(FIELD(proxy_protocol.trusted)), nullptr, [](Config& c) { c.proxy_protocol.trusted.clear(); }});
    add({"proxy_protocol.timeout_ms", "", "", "MS", "time a trusted proxy has to send the PROXY header", Shape::scalar,
         integer<std::chrono::milliseconds>(FIELD(proxy_protocol.timeout), 100, 60000), show_count(FIELD(proxy_protocol.timeout)), nullptr});
    add({"security.stations_file", "OCPP_GATEWAY_STATIONS_FILE", "--stations-file", "FILE", "station registry (ids, password hashes)",
         Shape::scalar, text(FIELD(security.stations_file)), nullptr, nullptr});
    add({"security.failures_per_identity", "", "", "N", "failed authentications per identity → 429", Shape::scalar,
         integer<unsigned>(FIELD(security.failures_per_identity), 1, 1000000), show_count(FIELD(security.failures_per_identity)), nullptr});
    add({"security.failures_per_address", "", "", "N", "… per source address", Shape::scalar,
         integer<unsigned>(FIELD(security.failures_per_address), 1, 1000000), show_count(FIELD(security.failures_per_address)), nullptr});
    add({"security.failure_window_s", "", "", "S", "window of those counts", Shape::scalar,
         integer<std::chrono::seconds>(FIELD(security.failure_window), 1, 86400), show_count(FIELD(security.failure_window)), nullptr});
    add({"security.max_backoff_s", "", "", "S", "longest refusal after the limit", Shape::scalar,
         integer<std::chrono::seconds>(FIELD(security.max_backoff), 1, 86400), show_count(FIELD(security.max_backoff)), nullptr});
    add({"security.handshakes_per_second", "", "", "N", "upgrades admitted per second, bursts of twice that (0: 2000, or 500 with TLS at the gateway)", Shape::scalar,
         integer<double>(FIELD(security.handshakes_per_second), 0, 1000000), show_count(FIELD(security.handshakes_per_second)), nullptr});
    add({"security.password_check_ms_per_second", "", "", "MS", "CPU time per second for uncached password checks (PBKDF2); more → 503", Shape::scalar,
         integer<std::chrono::milliseconds>(FIELD(security.password_check_ms_per_second), 1, 1000000), show_count(FIELD(security.password_check_ms_per_second)), nullptr});
    add({"security.password_check_burst_ms", "", "", "MS", "… saved up by a quiet instance", Shape::scalar,
         integer<std::chrono::milliseconds>(FIELD(security.password_check_burst_ms), 1, 100000000), show_count(FIELD(security.password_check_burst_ms)), nullptr});
    add({"security.connections_per_address", "", "", "N", "open connections per source address", Shape::scalar,
         integer<std::size_t>(FIELD(security.connections_per_address), 1, 10000000), show_count(FIELD(security.connections_per_address)), nullptr});
    add({"security.messages_per_second", "", "", "N", "station CALLs per connection", Shape::scalar,
         integer<double>(FIELD(security.messages_per_second), 1, 1000000), show_count(FIELD(security.messages_per_second)), nullptr});
    add({"security.message_burst", "", "", "N", "burst of those", Shape::scalar,
         integer<double>(FIELD(security.message_burst), 1, 1000000), show_count(FIELD(security.message_burst)), nullptr});
    add({"security.max_replacements_per_minute", "", "", "N", "one identity's connections replacing each other → 429", Shape::scalar,
         integer<unsigned>(FIELD(security.max_replacements_per_minute), 1, 100000), show_count(FIELD(security.max_replacements_per_minute)), nullptr});

    add({"tls.certificates", "", "", "", "[{cert, key}]: RSA and ECDSA side by side", Shape::certificates, nullptr, nullptr,
         [](Config& c) { c.tls.certificates.clear(); }});
    add({"", "", "--tls-cert", "FILE", "certificate chain (repeatable, each followed by --tls-key)", Shape::scalar,
         [](Config& c, const std::string& v, const std::string&) { c.tls.certificates.push_back({v, ""}); }, nullptr, nullptr});
    add({"", "", "--tls-key", "FILE", "the key of the certificate before it", Shape::scalar,
         [](Config& c, const std::string& v, const std::string& where) {
             if (c.tls.certificates.empty() || !c.tls.certificates.back().key.empty()) {
                 fail(where + " must follow its --tls-cert");
             }
             c.tls.certificates.back().key = v;
         },
         nullptr, nullptr});
    add({"tls.ca_file", "", "--tls-ca", "FILE", "CAs of station certificates (profile 3)", Shape::scalar,
         text(FIELD(tls.ca_file)), nullptr, nullptr});
    add({"tls.organization", "", "", "O", "required O of station certificates (profile 3)", Shape::scalar,
         text(FIELD(tls.organization)), nullptr, nullptr});
    add({"tls.offload", "", "", "BOOL", "profiles 2/3 with TLS terminated at the load balancers of tls.offload_from", Shape::scalar,
         boolean(FIELD(tls.offload)), nullptr, nullptr});
    add({"tls.offload_from", "", "", "CIDR", "the load balancers that terminate TLS; other peers are refused (403)", Shape::list,
         network(FIELD(tls.offload_from)), nullptr, [](Config& c) { c.tls.offload_from.clear(); }});
    add({"tls.client_cert_header", "", "", "NAME", "profile 3 offloaded: header with the station certificate (PEM, URL-encoded PEM, base64 DER)",
         Shape::scalar, text(FIELD(tls.client_cert_header)), show_text(FIELD(tls.client_cert_header)), nullptr});

    add({"commands.group", "OCPP_GATEWAY_COMMANDS_GROUP", "--commands-group", "NAME", "consumer group reading ocpp.commands",
         Shape::scalar, text(FIELD(commands.group)), show_text(FIELD(commands.group)), nullptr});
    add({"commands.queue_limit", "", "", "N", "commands waiting per station", Shape::scalar,
         integer<std::size_t>(FIELD(commands.queue_limit), 1, 10000), show_count(FIELD(commands.queue_limit)), nullptr});
    add({"commands.default_timeout_ms", "", "", "MS", "time for the station's answer", Shape::scalar,
         integer<std::chrono::milliseconds>(FIELD(commands.default_timeout), 1, 600000), show_count(FIELD(commands.default_timeout)), nullptr});
    add({"commands.max_age_s", "", "", "S", "a command without expiresAt expires this long after it was written", Shape::scalar,
         integer<std::chrono::seconds>(FIELD(commands.max_age), 1, 86400), show_count(FIELD(commands.max_age)), nullptr});
    add({"commands.heartbeat_ms", "", "", "MS",
         "liveness record period, at most half of instance_timeout_ms (0: 3000, or a third of a shorter instance_timeout_ms)",
         Shape::scalar,
         [](Config& c, const std::string& value, const std::string& where) {
             // 0, as the example file has it: what leaving it out gives.
             const long long ms = parse_integer(value, where, 0, 60000);
             if (ms != 0 && ms < 100) {
                 fail(where + ": " + value + " is below 100 (0: the default)");
             }
             c.commands.heartbeat = ms == 0 ? Config{}.commands.heartbeat : std::chrono::milliseconds(ms);
             c.commands.heartbeat_given = ms != 0;
         },
         show_count(FIELD(commands.heartbeat)), nullptr});
    add({"commands.instance_timeout_ms", "OCPP_GATEWAY_INSTANCE_TIMEOUT_MS", "--instance-timeout-ms", "N",
         "an instance silent this long is gone", Shape::scalar,
         integer<std::chrono::milliseconds>(FIELD(commands.instance_timeout), 300, 600000), show_count(FIELD(commands.instance_timeout)), nullptr});
    add({"commands.test_clock_offset_ms", "", "", "MS", "testing only: clock skew of this instance's command router", Shape::scalar,
         integer<std::chrono::milliseconds>(FIELD(commands.test_clock_offset), -86400000, 86400000), show_count(FIELD(commands.test_clock_offset)), nullptr});
    // Kafka's group.min.session.timeout.ms is 6 s.
    add({"commands.group_session_timeout_ms", "", "", "MS", "a crashed instance's command partitions move after this", Shape::scalar,
         integer<std::chrono::milliseconds>(FIELD(commands.group_session_timeout), 6000, 300000), show_count(FIELD(commands.group_session_timeout)), nullptr});
    return o;
}

#undef FIELD

}  // namespace

long long parse_integer(const std::string& text, const std::string& what, long long min,
                        long long max) {
    try {
        std::size_t used = 0;
        const long long value = std::stoll(text, &used);
        if (used != text.size()) {
            throw std::invalid_argument(text);
        }
        if (value < min || value > max) {
            fail(what + ": " + text + " is outside " + std::to_string(min) + ".." +
                 std::to_string(max));
        }
        return value;
    } catch (const std::logic_error&) {
        fail(what + ": \"" + text + "\" is not an integer");
    }
}

const std::vector<Option>& options() {
    static const std::vector<Option> table = build();
    return table;
}

}  // namespace gateway::config
