#include "gateway/config.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <climits>
#include <stdexcept>
#include <unistd.h>

namespace gateway {
namespace {

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
        fail(what + ": unknown OCPP version \"" + text + "\" (use ocpp1.6 or ocpp2.0.1)");
    }
    return *v;
}

void set_reply_mode(Config& config, const std::string& cls, const std::string& mode,
                    const std::string& what) {
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

void set_missing_subprotocol(Config& config, const std::string& value, const std::string& what) {
    if (value == "refuse") {
        config.missing_subprotocol = std::nullopt;
    } else {
        config.missing_subprotocol = parse_version_or_fail(value, what);
    }
}

std::pair<std::string, std::string> split_assignment(const std::string& text,
                                                     const std::string& what) {
    const auto eq = text.find('=');
    if (eq == std::string::npos || eq == 0) {
        fail(what + ": expected NAME=VALUE, got \"" + text + "\"");
    }
    return {text.substr(0, eq), text.substr(eq + 1)};
}

// --- YAML ---------------------------------------------------------------------------------

std::string scalar(const YAML::Node& node, const std::string& path) {
    if (!node.IsScalar()) {
        fail("config " + path + ": expected a single value");
    }
    return node.as<std::string>();
}

void check_keys(const YAML::Node& map, const std::string& path,
                const std::vector<std::string>& allowed) {
    if (!map.IsMap()) {
        fail("config " + path + ": expected a mapping");
    }
    for (const auto& entry : map) {
        const auto key = entry.first.template as<std::string>();
        if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
            fail("config " + (path.empty() ? "" : path + ".") + key + ": unknown setting");
        }
    }
}

template <typename F>
void with(const YAML::Node& map, const char* key, F&& apply) {
    const YAML::Node node = map[key];
    if (node && !node.IsNull()) {
        apply(node);
    }
}

std::vector<std::string> string_list(const YAML::Node& node, const std::string& path) {
    if (!node.IsSequence()) {
        fail("config " + path + ": expected a list");
    }
    std::vector<std::string> out;
    for (const auto& item : node) {
        out.push_back(scalar(item, path));
    }
    return out;
}

void apply_yaml(Config& c, const YAML::Node& root) {
    check_keys(root, "", {"gateway_id", "listen", "admin_listen", "path_prefix", "io_threads",
                          "ocpp", "stations", "limits", "reply", "kafka", "topics", "commands", "admin",
                          "security", "tls",
                          "drain_timeout_s", "log_level"});
    with(root, "gateway_id", [&](auto& n) { c.gateway_id = scalar(n, "gateway_id"); });
    with(root, "listen", [&](auto& n) { c.listen = parse_endpoint(scalar(n, "listen"), "config listen"); });
    with(root, "admin_listen", [&](auto& n) {
        c.admin_listen = parse_endpoint(scalar(n, "admin_listen"), "config admin_listen");
    });
    with(root, "path_prefix", [&](auto& n) { c.path_prefix = scalar(n, "path_prefix"); });
    with(root, "io_threads", [&](auto& n) {
        c.io_threads = static_cast<unsigned>(
            parse_integer(scalar(n, "io_threads"), "config io_threads", 0, 256));
    });
    with(root, "drain_timeout_s", [&](auto& n) {
        c.drain_timeout = std::chrono::seconds(
            parse_integer(scalar(n, "drain_timeout_s"), "config drain_timeout_s", 0, 3600));
    });
    with(root, "log_level", [&](auto& n) { c.log_level = scalar(n, "log_level"); });
    with(root, "ocpp", [&](auto& o) {
        check_keys(o, "ocpp", {"versions", "missing_subprotocol", "schema_overrides"});
        with(o, "versions", [&](auto& n) {
            c.versions.clear();
            for (const auto& v : string_list(n, "ocpp.versions")) {
                c.versions.push_back(parse_version_or_fail(v, "config ocpp.versions"));
            }
        });
        with(o, "missing_subprotocol", [&](auto& n) {
            set_missing_subprotocol(c, scalar(n, "ocpp.missing_subprotocol"),
                                    "config ocpp.missing_subprotocol");
        });
        with(o, "schema_overrides",
             [&](auto& n) { c.schema_overrides = scalar(n, "ocpp.schema_overrides"); });
    });
    with(root, "stations", [&](auto& s) {
        check_keys(s, "stations", {"allow"});
        with(s, "allow", [&](auto& n) {
            for (const auto& id : string_list(n, "stations.allow")) {
                c.allowed_stations.insert(ocpp::ascii_lower(id));
            }
        });
    });
    with(root, "limits", [&](auto& l) {
        check_keys(l, "limits", {"max_message_bytes", "max_json_depth", "max_connections",
                                 "handshake_timeout_ms", "ping_interval_s", "pong_timeout_ms",
                                 "idle_timeout_s", "max_pending_calls"});
        auto num = [&](const char* key, long long min, long long max, auto&& set) {
            with(l, key, [&](auto& n) {
                set(parse_integer(scalar(n, key), std::string("config limits.") + key, min, max));
            });
        };
        num("max_message_bytes", 1024, 16LL << 20,
            [&](long long v) { c.limits.max_message_bytes = static_cast<std::size_t>(v); });
        num("max_json_depth", 4, 1000,
            [&](long long v) { c.limits.max_json_depth = static_cast<std::size_t>(v); });
        num("max_connections", 1, 10000000,
            [&](long long v) { c.limits.max_connections = static_cast<std::size_t>(v); });
        num("handshake_timeout_ms", 100, 600000,
            [&](long long v) { c.limits.handshake_timeout = std::chrono::milliseconds(v); });
        num("ping_interval_s", 0, 86400,
            [&](long long v) { c.limits.ping_interval = std::chrono::seconds(v); });
        num("pong_timeout_ms", 100, 600000,
            [&](long long v) { c.limits.pong_timeout = std::chrono::milliseconds(v); });
        num("idle_timeout_s", 0, 86400 * 7,
            [&](long long v) { c.limits.idle_timeout = std::chrono::seconds(v); });
        num("max_pending_calls", 1, 64,
            [&](long long v) { c.limits.max_pending_calls = static_cast<std::size_t>(v); });
    });
    with(root, "reply", [&](auto& r) {
        check_keys(r, "reply", {"modes", "heartbeat_interval_s", "authorize",
                                "data_transfer_status"});
        with(r, "modes", [&](auto& m) {
            if (!m.IsMap()) {
                fail("config reply.modes: expected a mapping of event class to mode");
            }
            for (const auto& entry : m) {
                set_reply_mode(c, entry.first.template as<std::string>(),
                               scalar(entry.second, "reply.modes"), "config reply.modes");
            }
        });
        with(r, "heartbeat_interval_s", [&](auto& n) {
            c.reply.heartbeat_interval = std::chrono::seconds(parse_integer(
                scalar(n, "reply.heartbeat_interval_s"), "config reply.heartbeat_interval_s", 1,
                86400));
        });
        with(r, "authorize", [&](auto& a) {
            check_keys(a, "reply.authorize", {"accept_all", "tokens"});
            with(a, "accept_all", [&](auto& n) {
                c.reply.authorize_accept_all =
                    parse_bool(scalar(n, "reply.authorize.accept_all"), "config reply.authorize.accept_all");
            });
            with(a, "tokens", [&](auto& n) {
                for (const auto& t : string_list(n, "reply.authorize.tokens")) {
                    c.reply.authorized_tokens.insert(t);
                }
            });
        });
        with(r, "data_transfer_status", [&](auto& n) {
            c.reply.data_transfer_status = scalar(n, "reply.data_transfer_status");
        });
    });
    with(root, "kafka", [&](auto& k) {
        check_keys(k, "kafka", {"brokers", "delivery_timeout_ms", "linger_ms",
                                "max_queued_messages", "create_topics", "properties"});
        with(k, "brokers", [&](auto& n) { c.kafka.brokers = scalar(n, "kafka.brokers"); });
        with(k, "delivery_timeout_ms", [&](auto& n) {
            c.kafka.delivery_timeout = std::chrono::milliseconds(parse_integer(
                scalar(n, "kafka.delivery_timeout_ms"), "config kafka.delivery_timeout_ms", 1000,
                300000));
        });
        with(k, "linger_ms", [&](auto& n) {
            c.kafka.linger = std::chrono::milliseconds(
                parse_integer(scalar(n, "kafka.linger_ms"), "config kafka.linger_ms", 0, 1000));
        });
        with(k, "max_queued_messages", [&](auto& n) {
            c.kafka.max_queued_messages = static_cast<int>(
                parse_integer(scalar(n, "kafka.max_queued_messages"),
                              "config kafka.max_queued_messages", 1, 10000000));
        });
        with(k, "create_topics", [&](auto& n) {
            c.create_topics = parse_bool(scalar(n, "kafka.create_topics"), "config kafka.create_topics");
        });
        with(k, "properties", [&](auto& p) {
            if (!p.IsMap()) {
                fail("config kafka.properties: expected a mapping of librdkafka properties");
            }
            for (const auto& entry : p) {
                c.kafka.properties[entry.first.template as<std::string>()] =
                    scalar(entry.second, "kafka.properties");
            }
        });
    });
    with(root, "topics", [&](auto& t) {
        std::vector<std::string> keys = {"connections", "dead_letter", "commands",
                                         "command_results", "presence", "transaction_ids",
                                         "command_routes", "stations"};
        for (std::size_t i = 0; i < ocpp::kEventClassCount; ++i) {
            keys.emplace_back(ocpp::event_class_name(static_cast<ocpp::EventClass>(i)));
        }
        check_keys(t, "topics", keys);
        for (std::size_t i = 0; i < ocpp::kEventClassCount; ++i) {
            const auto cls = static_cast<ocpp::EventClass>(i);
            with(t, std::string(ocpp::event_class_name(cls)).c_str(),
                 [&](auto& n) { c.topics.for_class(cls) = scalar(n, "topics"); });
        }
        with(t, "connections", [&](auto& n) { c.topics.connections = scalar(n, "topics"); });
        with(t, "dead_letter", [&](auto& n) { c.topics.dead_letter = scalar(n, "topics"); });
        with(t, "commands", [&](auto& n) { c.topics.commands = scalar(n, "topics"); });
        with(t, "command_results", [&](auto& n) { c.topics.command_results = scalar(n, "topics"); });
        with(t, "presence", [&](auto& n) { c.topics.presence = scalar(n, "topics"); });
        with(t, "transaction_ids", [&](auto& n) { c.topics.transaction_ids = scalar(n, "topics"); });
        with(t, "command_routes", [&](auto& n) { c.topics.command_routes = scalar(n, "topics"); });
        with(t, "stations", [&](auto& n) { c.topics.stations = scalar(n, "topics"); });
    });
    with(root, "admin", [&](auto& a) {
        check_keys(a, "admin", {"token"});
        with(a, "token", [&](auto& n) { c.admin_token = scalar(n, "admin.token"); });
    });
    with(root, "tls", [&](auto& t) {
        check_keys(t, "tls", {"certificates", "ca_file", "organization"});
        with(t, "certificates", [&](auto& list) {
            if (!list.IsSequence()) {
                fail("config tls.certificates: expected a list of {cert, key}");
            }
            c.tls.certificates.clear();
            for (const auto& entry : list) {
                check_keys(entry, "tls.certificates", {"cert", "key"});
                if (!entry["cert"] || !entry["key"]) {
                    fail("config tls.certificates: every entry needs cert and key");
                }
                c.tls.certificates.push_back({scalar(entry["cert"], "tls.certificates.cert"),
                                              scalar(entry["key"], "tls.certificates.key")});
            }
        });
        with(t, "ca_file", [&](auto& n) { c.tls.ca_file = scalar(n, "tls.ca_file"); });
        with(t, "organization", [&](auto& n) { c.tls.organization = scalar(n, "tls.organization"); });
    });
    with(root, "security", [&](auto& m) {
        check_keys(m, "security", {"profile", "stations_file", "failures_per_identity",
                                   "failures_per_address", "failure_window_s", "max_backoff_s",
                                   "handshakes_per_second", "connections_per_address",
                                   "messages_per_second", "message_burst",
                                   "max_replacements_per_minute"});
        auto& sec = c.security;
        auto integer = [&](const char* key, long long lo, long long hi) {
            return parse_integer(scalar(m[key], "security"), std::string("config security.") + key, lo, hi);
        };
        with(m, "profile", [&](auto&) { sec.profile = static_cast<int>(integer("profile", 0, 3)); });
        with(m, "stations_file", [&](auto& n) { sec.stations_file = scalar(n, "security.stations_file"); });
        with(m, "failures_per_identity", [&](auto&) {
            sec.failures_per_identity = static_cast<unsigned>(integer("failures_per_identity", 1, 1000000));
        });
        with(m, "failures_per_address", [&](auto&) {
            sec.failures_per_address = static_cast<unsigned>(integer("failures_per_address", 1, 1000000));
        });
        with(m, "failure_window_s", [&](auto&) { sec.failure_window = std::chrono::seconds(integer("failure_window_s", 1, 86400)); });
        with(m, "max_backoff_s", [&](auto&) { sec.max_backoff = std::chrono::seconds(integer("max_backoff_s", 1, 86400)); });
        with(m, "handshakes_per_second", [&](auto&) {
            sec.handshakes_per_second = static_cast<double>(integer("handshakes_per_second", 1, 1000000));
        });
        with(m, "connections_per_address", [&](auto&) {
            sec.connections_per_address = static_cast<std::size_t>(integer("connections_per_address", 1, 10000000));
        });
        with(m, "messages_per_second", [&](auto&) {
            sec.messages_per_second = static_cast<double>(integer("messages_per_second", 1, 1000000));
        });
        with(m, "message_burst", [&](auto&) { sec.message_burst = static_cast<double>(integer("message_burst", 1, 1000000)); });
        with(m, "max_replacements_per_minute", [&](auto&) {
            sec.max_replacements_per_minute = static_cast<unsigned>(integer("max_replacements_per_minute", 1, 100000));
        });
    });
    with(root, "commands", [&](auto& m) {
        check_keys(m, "commands", {"group", "queue_limit", "default_timeout_ms", "max_age_s",
                                   "heartbeat_ms", "instance_timeout_ms",
                                   "group_session_timeout_ms"});
        with(m, "group", [&](auto& n) { c.commands.group = scalar(n, "commands.group"); });
        with(m, "queue_limit", [&](auto& n) {
            c.commands.queue_limit = static_cast<std::size_t>(
                parse_integer(scalar(n, "commands"), "config commands.queue_limit", 1, 10000));
        });
        auto millis = [&](const char* key, std::chrono::milliseconds& out, long long lo, long long hi) {
            with(m, key, [&](auto& n) {
                out = std::chrono::milliseconds(parse_integer(
                    scalar(n, "commands"), std::string("config commands.") + key, lo, hi));
            });
        };
        millis("default_timeout_ms", c.commands.default_timeout, 1, 600000);
        millis("heartbeat_ms", c.commands.heartbeat, 100, 60000);
        millis("instance_timeout_ms", c.commands.instance_timeout, 300, 600000);
        millis("group_session_timeout_ms", c.commands.group_session_timeout, 6000, 300000);
        with(m, "max_age_s", [&](auto& n) {
            c.commands.max_age = std::chrono::seconds(
                parse_integer(scalar(n, "commands"), "config commands.max_age_s", 1, 86400));
        });
    });
}

void validate(Config& c) {
    if (c.gateway_id.empty()) {
        char host[HOST_NAME_MAX + 1] = {};
        gethostname(host, sizeof(host) - 1);
        c.gateway_id = host[0] != '\0' ? host : "ocpp-gateway";
    }
    for (const auto& pair : c.tls.certificates) {
        if (pair.key.empty()) {
            fail("TLS certificate " + pair.cert + " has no key (--tls-key after --tls-cert)");
        }
    }
    if (c.security.profile >= 2 && c.tls.certificates.empty()) {
        fail("security profile " + std::to_string(c.security.profile) +
             " needs a TLS certificate and key (tls.certificates or --tls-cert/--tls-key)");
    }
    if (c.security.profile == 3 && c.tls.ca_file.empty()) {
        fail("security profile 3 needs the CA bundle of station certificates (tls.ca_file or --tls-ca)");
    }
    if (c.security.profile < 2 && !c.tls.certificates.empty()) {
        fail("TLS certificates are configured but security profile " +
             std::to_string(c.security.profile) + " listens without TLS (use profile 2 or 3)");
    }
    if (c.commands.heartbeat * 2 > c.commands.instance_timeout) {
        // Two missed liveness records, not one late one, make an instance gone.
        c.commands.heartbeat = c.commands.instance_timeout / 3;
    }
    if (c.versions.empty()) {
        fail("config: at least one OCPP version must be enabled");
    }
    if (c.missing_subprotocol &&
        std::find(c.versions.begin(), c.versions.end(), *c.missing_subprotocol) ==
            c.versions.end()) {
        fail("config: missing_subprotocol names a version that is not enabled");
    }
    if (c.path_prefix.empty() || c.path_prefix.front() != '/' || c.path_prefix.back() == '/') {
        fail("config path_prefix: must start with '/' and not end with one (e.g. /ocpp)");
    }
    if (c.kafka.brokers.empty()) {
        fail("config: kafka brokers must be set (--kafka-brokers HOST:PORT[,HOST:PORT...])");
    }
    if (c.listen.port == c.admin_listen.port && c.listen.host == c.admin_listen.host) {
        fail("config: listen and admin_listen must differ");
    }
    const std::set<std::string> levels = {"debug", "info", "warn", "error"};
    if (levels.count(c.log_level) == 0) {
        fail("config log_level: \"" + c.log_level + "\" is not one of debug, info, warn, error");
    }
    if (c.limits.pong_timeout >= std::chrono::duration_cast<std::chrono::milliseconds>(
                                     c.limits.ping_interval) &&
        c.limits.ping_interval.count() > 0) {
        fail("config limits: pong_timeout_ms must be shorter than ping_interval_s");
    }
}

}  // namespace

std::string_view reply_mode_name(ReplyMode m) {
    return m == ReplyMode::after_ack ? "after-ack" : "immediate";
}

std::string Endpoint::to_string() const {
    return (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" +
           std::to_string(port);
}

std::optional<std::string> identity_error(std::string_view id) {
    if (id.empty()) {
        return "station identity is empty";
    }
    if (id.size() > 48) {
        return "station identity is longer than 48 characters";
    }
    if (id == "." || id == "..") {
        return "station identity . or .. looks like a path step";  // logs, file-based tools
    }
    for (const char ch : id) {
        const auto c = static_cast<unsigned char>(ch);
        const bool ok = std::isalnum(c) != 0 || std::string_view("*-_=+|@.").find(ch) !=
                                                     std::string_view::npos;
        if (!ok) {
            return ch == ':' ? "station identity contains ':'"
                             : "station identity contains a character outside the OCPP "
                               "identifierString set";
        }
    }
    return std::nullopt;
}

std::string help_text() {
    return R"(ocpp-gateway: OCPP 1.6 / 2.0.1 central-system gateway to Kafka

Usage: ocpp-gateway [options]
       ocpp-gateway hash-password [--iterations N] < password   (prints a registry hash)

Options (flags override OCPP_GATEWAY_* environment variables, which override the file):
  --config FILE            YAML configuration file (see deploy/gateway.example.yaml)
  --listen HOST:PORT       station WebSocket listener      [0.0.0.0:9000]   OCPP_GATEWAY_LISTEN
  --admin-listen HOST:PORT /healthz /readyz /metrics       [127.0.0.1:9100] OCPP_GATEWAY_ADMIN_LISTEN
  --kafka-brokers LIST     bootstrap servers               [127.0.0.1:9092] OCPP_GATEWAY_KAFKA_BROKERS
  --gateway-id ID          this instance's id              [host name]      OCPP_GATEWAY_ID
  --kafka-property K=V     any librdkafka property (SASL, SSL, ...), repeatable
                                                            OCPP_GATEWAY_KAFKA_PROP_<NAME> (dots as _)
  --reply-mode CLASS=MODE  after-ack (default) or immediate for an event class, repeatable
  --allow-station ID       only these identities may connect, repeatable
  --missing-subprotocol V  ocpp1.6 (default), ocpp2.0.1 or refuse
  --log-level LEVEL        debug, info, warn, error        [info]           OCPP_GATEWAY_LOG_LEVEL
  --security-profile N     0 none, 1 Basic over ws://, 2 TLS + Basic, 3 TLS + client
                           certificates [0]                   OCPP_GATEWAY_SECURITY_PROFILE
  --stations-file FILE     station registry (ids, password hashes) OCPP_GATEWAY_STATIONS_FILE
  --tls-cert FILE --tls-key FILE   certificate chain and key (repeatable: RSA and ECDSA)
  --tls-ca FILE            CAs of station certificates (profile 3)
  --commands-group NAME    consumer group reading ocpp.commands [ocpp-gateway]
                                                            OCPP_GATEWAY_COMMANDS_GROUP
  --instance-timeout-ms N  an instance silent this long is gone (commands) [10000]
                                                            OCPP_GATEWAY_INSTANCE_TIMEOUT_MS
  Admin bearer token (for /v1 and /metrics): config admin.token or OCPP_GATEWAY_ADMIN_TOKEN
  (never a flag: command lines are visible to every local user).
  --help, --version

Stations connect to ws://HOST:PORT/ocpp/{stationId} with subprotocol ocpp1.6 or ocpp2.0.1.
)";
}

CommandLine parse_command_line(int argc, const char* const* argv,
                               const std::map<std::string, std::string>& env) {
    CommandLine cl;
    Config& c = cl.config;
    std::vector<std::string> args(argv + 1, argv + argc);

    auto value_of = [&](std::size_t& i, const std::string& flag) -> std::string {
        const std::string& arg = args[i];
        const auto eq = arg.find('=');
        if (eq != std::string::npos && arg.compare(0, eq, flag) == 0) {
            return arg.substr(eq + 1);
        }
        if (i + 1 >= args.size()) {
            fail(flag + " needs a value");
        }
        return args[++i];
    };
    auto is_flag = [](const std::string& arg, const std::string& flag) {
        return arg == flag || arg.rfind(flag + "=", 0) == 0;
    };

    if (!args.empty() && args[0] == "hash-password") {
        cl.action = CommandLine::Action::hash_password;
        for (std::size_t i = 1; i < args.size(); ++i) {
            if (is_flag(args[i], "--iterations")) {
                cl.iterations = static_cast<unsigned>(
                    parse_integer(value_of(i, "--iterations"), "--iterations", 1000, 10000000));
            } else {
                fail("hash-password: unknown option \"" + args[i] +
                     "\" (it reads the password from standard input; --iterations N)");
            }
        }
        return cl;
    }

    // The file comes first, whatever the position of --config.
    std::string config_file;
    if (auto it = env.find("OCPP_GATEWAY_CONFIG"); it != env.end()) {
        config_file = it->second;
    }
    for (std::size_t i = 0; i < args.size(); ++i) {
        if (args[i] == "--help" || args[i] == "-h") {
            cl.action = CommandLine::Action::help;
            return cl;
        }
        if (args[i] == "--version") {
            cl.action = CommandLine::Action::version;
            return cl;
        }
        if (is_flag(args[i], "--config")) {
            config_file = value_of(i, "--config");
        }
    }
    if (!config_file.empty()) {
        YAML::Node root;
        try {
            root = YAML::LoadFile(config_file);
        } catch (const YAML::BadFile&) {
            fail("cannot read config file " + config_file);
        } catch (const YAML::Exception& e) {
            fail("config file " + config_file + ": " + e.what());
        }
        if (!root.IsNull()) {
            try {
                apply_yaml(c, root);
            } catch (const YAML::Exception& e) {
                fail("config file " + config_file + ": " + e.what());
            }
        }
    }

    for (const auto& [name, value] : env) {
        if (name == "OCPP_GATEWAY_LISTEN") {
            c.listen = parse_endpoint(value, name);
        } else if (name == "OCPP_GATEWAY_ADMIN_LISTEN") {
            c.admin_listen = parse_endpoint(value, name);
        } else if (name == "OCPP_GATEWAY_KAFKA_BROKERS") {
            c.kafka.brokers = value;
        } else if (name == "OCPP_GATEWAY_ID") {
            c.gateway_id = value;
        } else if (name == "OCPP_GATEWAY_SECURITY_PROFILE") {
            c.security.profile = static_cast<int>(parse_integer(value, name, 0, 3));
        } else if (name == "OCPP_GATEWAY_STATIONS_FILE") {
            c.security.stations_file = value;
        } else if (name == "OCPP_GATEWAY_ADMIN_TOKEN") {
            c.admin_token = value;
        } else if (name == "OCPP_GATEWAY_COMMANDS_GROUP") {
            c.commands.group = value;
        } else if (name == "OCPP_GATEWAY_INSTANCE_TIMEOUT_MS") {
            c.commands.instance_timeout =
                std::chrono::milliseconds(parse_integer(value, name, 300, 600000));
        } else if (name == "OCPP_GATEWAY_LOG_LEVEL") {
            c.log_level = value;
        } else if (name.rfind("OCPP_GATEWAY_KAFKA_PROP_", 0) == 0) {
            std::string property = ocpp::ascii_lower(name.substr(24));
            std::replace(property.begin(), property.end(), '_', '.');
            c.kafka.properties[property] = value;
        }
    }

    for (std::size_t i = 0; i < args.size(); ++i) {
        const std::string& arg = args[i];
        if (is_flag(arg, "--config")) {
            value_of(i, "--config");
        } else if (is_flag(arg, "--listen")) {
            c.listen = parse_endpoint(value_of(i, "--listen"), "--listen");
        } else if (is_flag(arg, "--admin-listen")) {
            c.admin_listen = parse_endpoint(value_of(i, "--admin-listen"), "--admin-listen");
        } else if (is_flag(arg, "--kafka-brokers")) {
            c.kafka.brokers = value_of(i, "--kafka-brokers");
        } else if (is_flag(arg, "--gateway-id")) {
            c.gateway_id = value_of(i, "--gateway-id");
        } else if (is_flag(arg, "--kafka-property")) {
            const auto [k, v] = split_assignment(value_of(i, "--kafka-property"), "--kafka-property");
            c.kafka.properties[k] = v;
        } else if (is_flag(arg, "--reply-mode")) {
            const auto [k, v] = split_assignment(value_of(i, "--reply-mode"), "--reply-mode");
            set_reply_mode(c, k, v, "--reply-mode");
        } else if (is_flag(arg, "--allow-station")) {
            c.allowed_stations.insert(ocpp::ascii_lower(value_of(i, "--allow-station")));
        } else if (is_flag(arg, "--missing-subprotocol")) {
            set_missing_subprotocol(c, value_of(i, "--missing-subprotocol"), "--missing-subprotocol");
        } else if (is_flag(arg, "--security-profile")) {
            c.security.profile = static_cast<int>(
                parse_integer(value_of(i, "--security-profile"), "--security-profile", 0, 3));
        } else if (is_flag(arg, "--tls-cert")) {
            c.tls.certificates.push_back({value_of(i, "--tls-cert"), ""});
        } else if (is_flag(arg, "--tls-key")) {
            const std::string key = value_of(i, "--tls-key");
            if (c.tls.certificates.empty() || !c.tls.certificates.back().key.empty()) {
                fail("--tls-key must follow its --tls-cert");
            }
            c.tls.certificates.back().key = key;
        } else if (is_flag(arg, "--tls-ca")) {
            c.tls.ca_file = value_of(i, "--tls-ca");
        } else if (is_flag(arg, "--stations-file")) {
            c.security.stations_file = value_of(i, "--stations-file");
        } else if (is_flag(arg, "--commands-group")) {
            c.commands.group = value_of(i, "--commands-group");
        } else if (is_flag(arg, "--instance-timeout-ms")) {
            c.commands.instance_timeout = std::chrono::milliseconds(
                parse_integer(value_of(i, "--instance-timeout-ms"), "--instance-timeout-ms", 300, 600000));
        } else if (is_flag(arg, "--log-level")) {
            c.log_level = value_of(i, "--log-level");
        } else {
            fail("unknown option \"" + arg + "\" (see --help)");
        }
    }
    validate(c);
    return cl;
}

}  // namespace gateway
