#pragma once

#ifndef ASIO_STANDALONE
#define ASIO_STANDALONE
#endif
#include <asio/ip/address.hpp>

#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "kafka_bridge/consumer.hpp"
#include "kafka_bridge/producer.hpp"
#include "kafka_bridge/topics.hpp"
#include "ocpp/actions.hpp"
#include "ocpp/frame.hpp"
#include "ocpp/repair.hpp"
#include "ocpp/version.hpp"

namespace gateway::config {

/// How a station event's CALLRESULT relates to the Kafka acknowledgement.
enum class ReplyMode : std::uint8_t {
    after_ack,  ///< answer once Kafka has the record (default; always for transactions)
    immediate,  ///< answer at once, publish asynchronously, count what is lost
};

std::string_view reply_mode_name(ReplyMode m);

/// A network in CIDR notation (10.0.0.0/8, 2001:db8::/32; a bare address is /32 or /128).
struct Network {
    asio::ip::address address;
    unsigned prefix = 0;
    /// IPv4-mapped IPv6 addresses count as the IPv4 address they map.
    bool contains(const asio::ip::address& a) const;
    std::string to_string() const;
};
/// Parses `text`; nullopt when it is not an address with an optional prefix length.
std::optional<Network> parse_network(std::string_view text);

struct Endpoint {
    std::string host;
    std::uint16_t port = 0;
    std::string to_string() const;
};

/// What the event-class contract promises of one topic (docs/contract.md): the gateway
/// creates the topic so, `ocpp-gateway topics plan|apply|check` compares the cluster with it.
/// Zero / unset: not part of the contract (the cluster's default stands).
struct TopicContract {
    int partitions = 0;        ///< 0: the cluster's num.partitions; apply raises, never lowers
    int replication = 0;       ///< 0: kafka.replication_factor
    int min_insync = 0;        ///< 0: kafka.min_insync_replicas
    std::optional<long long> retention_ms;     ///< -1: kept for ever
    std::optional<long long> retention_bytes;  ///< per partition; -1: no size limit
    std::string cleanup_policy;                ///< delete, compact or compact,delete
};

struct Config;
struct Tenant;

/// The contract's defaults for an EV network, by role (docs/contract.md says why).
std::map<std::string, TopicContract> default_contract();

/// Every topic role with the topic `config` gives it, in the order of topics.* (event
/// classes first).
std::vector<std::pair<std::string, std::string>> topic_roles(const Config& config);

/// What the gateway does for `tenant`: `base` with every topic named with the tenant's prefix,
/// a consumer group of its own for its commands, and its own Kafka cluster if it has one.
Config tenant_config(const Config& base, const Tenant& tenant);
/// The settings of a consumer of the gateway's: its Kafka settings without the producer-only
/// ones (librdkafka warns about them on a consumer).
kafka_bridge::ConsumerConfig consumer_config(const Config& config);

/// Checks `kafka`'s properties (named `key` in errors) against the gateway's own settings:
/// refuses one the gateway sets or relies on (bootstrap.servers, group.id, isolation.level, …)
/// and a linger with adaptive batching; message.timeout.ms / delivery.timeout.ms become
/// kafka.delivery_timeout as well, which the sessions wait by. Throws std::runtime_error.
void settle_kafka_properties(kafka_bridge::ProducerConfig& kafka, const std::string& key);

/// Whether `tenant` has a Kafka cluster of its own (tenant_kafka.brokers).
bool has_own_cluster(const Config& config, const Tenant& tenant);

/// An operator or region served by the same gateways with topics of its own (docs/contract.md
/// "Tenants"): its stations connect to `{path_prefix}/{tenant}/{stationId}`, and everything
/// written or read for them is on the topics named with its prefix.
struct Tenant {
    std::string name;              ///< 1–32 of a-z 0-9 _ -: the URL segment
    std::string topic_prefix;      ///< put before every topic name; default "NAME."
    std::size_t max_stations = 0;  ///< its stations connected to one instance; 0: no own limit
};

/// Repairs allowed for the stations a profile matches (README "Tolerance profiles"). Every
/// pattern is a case-insensitive glob (`*`, `?`); an empty one matches anything. Vendor,
/// model and firmware come from the station's BootNotification.
struct ToleranceProfile {
    std::string name;
    std::string vendor;
    std::string model;
    std::string firmware;
    std::string id;
    ocpp::RepairPolicy policy;
};

/// security.handshakes_per_second when it is not given: without TLS at the gateway, and with.
inline constexpr double kHandshakesPerSecondPlain = 2000;
inline constexpr double kHandshakesPerSecondTls = 500;

/// Everything the gateway can be told. Each limit has a default and a reason.
struct Config {
    std::string gateway_id;  ///< default: the host name
    /// Both listeners default to loopback: reaching them from the network is a decision
    /// (README "Security": what the defaults protect).
    Endpoint listen{"127.0.0.1", 9000};
    Endpoint admin_listen{"127.0.0.1", 9100};
    /// URL path before the station id: ws://host:port/ocpp/{stationId}.
    std::string path_prefix = "/ocpp";
    /// I/O threads; 0 = one per core.
    unsigned io_threads = 0;

    std::vector<ocpp::ProtocolVersion> versions = {
        ocpp::ProtocolVersion::v16, ocpp::ProtocolVersion::v201, ocpp::ProtocolVersion::v21};
    /// Version assumed when a station sends no Sec-WebSocket-Protocol header (older 1.6
    /// firmware often omits it); nullopt refuses such stations with HTTP 400.
    std::optional<ocpp::ProtocolVersion> missing_subprotocol = ocpp::ProtocolVersion::v16;
    /// Operators' schema overrides (see README); empty: the official schemas only.
    std::string schema_overrides;
    /// Identities allowed to connect (case-insensitive); empty: any well-formed identity.
    std::set<std::string> allowed_stations;

    struct Limits {
        /// Largest WebSocket message: 256 KiB, see ocpp::FrameLimits.
        std::size_t max_message_bytes = 256 * 1024;
        /// Deepest JSON nesting accepted.
        std::size_t max_json_depth = 32;
        /// Open connections; a 2-core instance comfortably holds 10k idle stations.
        std::size_t max_connections = 20000;
        /// Time to complete the HTTP upgrade: slow handshakes hold a socket for nothing.
        std::chrono::milliseconds handshake_timeout{10000};
        /// Silence after which a station is pinged (WebSocket ping).
        std::chrono::seconds ping_interval{60};
        /// Time for a pong before the connection is considered dead.
        std::chrono::milliseconds pong_timeout{30000};
        /// No frame at all for this long closes the session (stations heartbeat far more often).
        std::chrono::seconds idle_timeout{900};
        /// Station CALLs answered one at a time (OCPP: one outstanding CALL); more are refused.
        std::size_t max_pending_calls = 1;
    } limits;

    struct Reply {
        std::array<ReplyMode, ocpp::kEventClassCount> modes{};  ///< all after_ack by default
        /// BootNotification interval (heartbeat period) sent to stations.
        std::chrono::seconds heartbeat_interval{300};
        /// The status of a token the id-token topic has no record of: "Invalid" (default: a
        /// network only lets in cards its operator knows), "Accepted" for open networks.
        std::string unknown_token_status = "Invalid";
        /// Ask mode: which token questions the gateway puts to the operator's systems
        /// (topics.authorization_requests → topics.authorization_decisions) before answering.
        enum class Ask : std::uint8_t {
            never,    ///< the table and the policy answer (default)
            unknown,  ///< tokens the table does not list
            always,   ///< every token; the table answers only when no decision comes in time
        };
        Ask ask = Ask::never;
        /// The event classes whose token questions are asked (authorization: Authorize;
        /// transaction: StartTransaction, StopTransaction, TransactionEvent).
        std::set<ocpp::EventClass> ask_classes = {ocpp::EventClass::authorization,
                                                  ocpp::EventClass::transaction};
        /// How long a question waits for the decision: well below the stations' own call
        /// timeout (often 10-30 s), so a slow back office still gets the station an answer.
        std::chrono::milliseconds ask_deadline{2000};
        /// BootNotification status of a station whose registry entry names none (or that has
        /// no entry): "Accepted", or "Pending" where the operator approves each station.
        std::string boot_default_status = "Accepted";
        /// Interval sent with Pending / Rejected: when the station should boot again.
        std::chrono::seconds boot_retry_interval{60};
        /// A station in Pending that the registry now accepts is sent TriggerMessage
        /// (BootNotification) at once, instead of waiting out its retry interval.
        bool boot_trigger_on_approval = true;
        /// DataTransfer status returned ("Accepted": the gateway has recorded it).
        std::string data_transfer_status = "Accepted";
    } reply;

    /// Operator commands (docs/commands.md).
    struct Commands {
        /// Consumer group sharing ocpp.commands among the instances.
        std::string group = "ocpp-gateway";
        /// Commands waiting per station behind the outstanding one; more are Rejected.
        std::size_t queue_limit = 32;
        /// Time the station has to answer a CALL when the command gives no timeoutMs.
        std::chrono::milliseconds default_timeout{30000};
        /// A command without expiresAt expires this long after it was written.
        std::chrono::milliseconds max_age{120000};
        /// Liveness record period of this instance on the presence topic. Unless given
        /// (heartbeat_given), lowered to a third of instance_timeout when above half of it.
        std::chrono::milliseconds heartbeat{3000};
        bool heartbeat_given = false;
        /// An instance silent this long is gone: its stations count as not connected.
        std::chrono::milliseconds instance_timeout{10000};
        /// Consumer-group session: a crashed instance's command partitions move after this.
        std::chrono::milliseconds group_session_timeout{10000};
        /// Testing only: shifts this instance's wall clock as the command router sees it, to
        /// show that a skewed host does not take live instances for gone.
        std::chrono::milliseconds test_clock_offset{0};
    } commands;
    /// Who may connect and the limits that keep abuse cheap (README "Security").
    struct Security {
        /// OCPP security profile of the station listener: 0 no authentication (identities
        /// from the registry only, when it has any), 1 HTTP Basic over ws://.
        int profile = 0;
        /// Profile 0 on a non-loopback address lets anyone who reaches the port connect as
        /// any station: the gateway starts so only when this acknowledges it.
        bool profile0_exposed = false;
        /// YAML registry of stations and password hashes; more arrive on topics.stations.
        std::string stations_file;
        /// Failed authentications before an identity / a source address is refused with 429:
        /// a station retrying a wrong password stays cheap, guessing does not pay.
        unsigned failures_per_identity = 5;
        unsigned failures_per_address = 20;
        std::chrono::seconds failure_window{60};
        /// Refusal after the limit: 1 s, doubling per further failure, up to this.
        std::chrono::seconds max_backoff{300};
        /// Upgrades admitted per second (bursts of twice that): a reconnect storm of a whole
        /// city is spread over seconds instead of starving the stations already connected.
        /// 0 (the default): what an upgrade costs decides (validate()) — 2,000 where the gateway
        /// terminates no TLS (profiles 0 and 1, or TLS at a load balancer), 500 where it does
        /// (docs/benchmarks.md, "A fleet arriving beside connected stations").
        double handshakes_per_second = 0;
        /// CPU time per second that password checks not answered from the cache (PBKDF2,
        /// ~40 ms each at 100,000 iterations) may take on the I/O threads, and how much of it
        /// a quiet instance saves up (the first wave of a cold fleet); past it, upgrades get
        /// 503 with Retry-After 1. A whole fleet arriving with a cold cache (after a restart)
        /// cannot take more than this from everything else.
        std::chrono::milliseconds password_check_ms_per_second{1000};
        std::chrono::milliseconds password_check_burst_ms{10000};
        /// Open connections from one address (depots behind one router need many).
        std::size_t connections_per_address = 1000;
        /// Station messages per second per connection, bursts of message_burst; more get a
        /// CALLERROR. Real stations send a few per minute, a backlog after an outage a few
        /// dozen per second.
        double messages_per_second = 50;
        double message_burst = 200;
        /// Connections of one identity replacing each other within a minute before the next
        /// newcomer is refused (429): two devices with one stolen identity flip-flopping.
        unsigned max_replacements_per_minute = 6;
    } security;
    /// PROXY protocol (v1 and v2) on the station listener, for load balancers in front.
    struct ProxyProtocol {
        /// Peers whose connections must start with a PROXY header (the load balancers);
        /// empty: off, nobody's bytes are read as one.
        std::vector<Network> trusted;
        /// How long a trusted peer has to send the header.
        std::chrono::milliseconds timeout{5000};
    } proxy_protocol;
    /// TLS of the station listener (profiles 2 and 3).
    struct Tls {
        struct Pair {
            std::string cert;  ///< PEM certificate chain, leaf first
            std::string key;   ///< PEM private key
        };
        /// One or more: an RSA and an ECDSA certificate may be offered side by side.
        std::vector<Pair> certificates;
        /// Profile 3: the CAs that sign station certificates (PEM bundle).
        std::string ca_file;
        /// Profile 3, optional: the organization (O) station certificates must carry.
        std::string organization;
        /// Profiles 2 and 3 with TLS terminated at a load balancer: the listener speaks ws://
        /// and takes connections only from `offload_from` (the terminators' addresses);
        /// profile 3 reads the station's certificate from `client_cert_header`, which they set.
        bool offload = false;
        std::vector<Network> offload_from;
        std::string client_cert_header = "X-SSL-Client-Cert";
    } tls;
    /// Bearer token for /v1 and /metrics on the admin listener; empty: no token needed on
    /// loopback, and a non-loopback admin listener refuses to start (admin_policy()).
    std::string admin_token;
    /// /metrics without the token (a scraper that cannot send one); /v1 still needs it.
    bool admin_metrics_without_token = false;
    /// A non-loopback admin listener without a token starts only with this, and then serves
    /// health and /metrics alone: /v1 answers 403 (the network is trusted to protect the port).
    bool admin_exposed_without_token = false;
    /// Testing only: POST /test/kafka-fatal on the admin listener injects a fatal producer
    /// error (the fault suite's producer-replacement case). Never in production.
    bool admin_test_hooks = false;

    kafka_bridge::ProducerConfig kafka;
    kafka_bridge::Topics topics;
    /// Empty: one operator, stations at `{path_prefix}/{stationId}` on `topics`. Otherwise
    /// every station belongs to one of these, and `topics` are only the names the prefixes
    /// go before (tenant_config()).
    std::vector<Tenant> tenants;
    /// Tenants on a Kafka cluster of their own, by name: its bootstrap brokers, and its
    /// librdkafka properties (which replace kafka.properties for it: credentials stay with
    /// their cluster).
    std::map<std::string, std::string> tenant_brokers;
    std::map<std::string, std::map<std::string, std::string>> tenant_kafka_properties;
    /// The contract of each topic by role (the topics.* key: an event class, connections,
    /// dead_letter, commands, ...); defaults and their reasons in default_contract().
    std::map<std::string, TopicContract> contract = default_contract();
    /// How late station events may reach Kafka, measured from the station's own timestamp
    /// (contract.CLASS.freshness_budget_s; docs/contract.md), and when a station's clock is
    /// taken to be off.
    struct Freshness {
        /// Per event class; 0: no budget (classes whose messages carry no timestamp).
        /// transaction, metering, status, heartbeat, authorization, security, report,
        /// data-transfer, der.
        std::array<std::chrono::seconds, ocpp::kEventClassCount> budgets = {
            std::chrono::seconds(30), std::chrono::seconds(60), std::chrono::seconds(5),
            std::chrono::seconds(0),  std::chrono::seconds(0),  std::chrono::seconds(30),
            std::chrono::seconds(60), std::chrono::seconds(0),  std::chrono::seconds(30)};
        /// A timestamp further ahead of the gateway's clock than this: the station's clock
        /// is off (counted, reported once per connection; the message is still taken).
        std::chrono::seconds clock_ahead{300};
        /// Further behind than this: off too (a reset clock at 1970 or 2000). Events queued
        /// through a long outage are late, not wrong: a week lets them through uncounted.
        std::chrono::seconds clock_behind{7 * 86400};
    } freshness;
    /// Downstream consumer groups held to a lag budget (docs/contract.md "Lag"): measured
    /// by one instance, the live one with the smallest gateway id.
    struct Lag {
        struct Group {
            std::string group;
            std::vector<ocpp::EventClass> classes;
            std::chrono::seconds budget{0};
        };
        std::vector<Group> groups;
        /// How often the lag is measured.
        std::chrono::seconds interval{15};
    } lag;
    /// Tolerance profiles, first match wins; none: every station is held to the schemas.
    std::vector<ToleranceProfile> tolerance;
    /// How often each instance writes the schema refusals per station model of the last
    /// interval to topics.violations (only models with refusals); 0: never.
    std::chrono::seconds tolerance_report_interval{60};
    /// A topic that differs from its contract at start-up: warn (log what `ocpp-gateway
    /// topics apply` would change) or refuse to start.
    enum class Drift : std::uint8_t { warn, refuse };
    Drift topic_drift = Drift::warn;
    /// Create missing topics at start-up (off where an operator manages topics).
    bool create_topics = true;
    /// Replication factor and min.insync.replicas the gateway creates its topics with and
    /// expects of them (a weaker topic is reported, never silently accepted). 0: automatic,
    /// 3 and 2 on a cluster of at least three brokers, otherwise as many as there are
    /// brokers and 1.
    int topic_replication = 0;
    int topic_min_insync = 0;
    /// How often the running gateway asks whether its topics still exist as they were (a
    /// topic deleted, recreated or repartitioned is logged and exported); 0: never.
    std::chrono::seconds topic_check_interval{30};
    /// Time allowed for draining on SIGTERM before connections are cut.
    std::chrono::seconds drain_timeout{25};
    std::string log_level = "info";
};

/// The codec limits of station frames (limits.max_message_bytes, limits.max_json_depth).
inline ocpp::FrameLimits frame_limits(const Config& c) {
    ocpp::FrameLimits limits;
    limits.max_frame_bytes = c.limits.max_message_bytes;
    limits.max_depth = c.limits.max_json_depth;
    return limits;
}

/// Whether `host` (an IP address as configured) is reachable from this machine only:
/// 127.0.0.0/8, ::1 and ::ffff:127.0.0.0/104. Unspecified addresses (0.0.0.0, ::), other
/// addresses and anything that is not an address are not.
bool is_loopback(std::string_view host);

/// Who may use a part of the admin listener (/healthz and /readyz are always open).
enum class AdminAccess : std::uint8_t {
    open,     ///< anyone who reaches the port
    token,    ///< Authorization: Bearer admin.token
    refused,  ///< nobody: 403 (no token on a non-loopback listener)
};
struct AdminPolicy {
    AdminAccess commands = AdminAccess::open;  ///< /v1 (and the test hooks)
    AdminAccess metrics = AdminAccess::open;   ///< /metrics
};
/// The admin listener's rules: with a token, /v1 needs it and so does /metrics unless
/// admin.metrics_without_token; without one, everything is open on loopback, and on any other
/// address (admin.exposed_without_token) /v1 is refused and /metrics open.
AdminPolicy admin_policy(const Config& c);

/// The listeners on a non-loopback address that authenticate nobody ("stations": security
/// profile 0; "admin": no admin.token) — each one acknowledged in the configuration, or
/// parse_command_line() refuses to run.
std::vector<std::string> unauthenticated_exposures(const Config& c);

/// Throws std::runtime_error with one message naming the ways out when a listener of `c` is
/// among unauthenticated_exposures() without its acknowledgement.
void refuse_unacknowledged_exposure(const Config& c);

/// The result of reading the command line: a config to run, or a subcommand/exit.
struct CommandLine {
    enum class Action : std::uint8_t { run, help, version, hash_password, topics, tolerance, check_config };
    Action action = Action::run;
    /// topics: plan, apply or check; tolerance: suggest.
    std::string verb;
    Config config;
    /// hash-password: PBKDF2 iterations of the hash to make.
    unsigned iterations = 100000;
    /// Given but not used, to be said as warnings: OCPP_GATEWAY_* variables that name no
    /// setting (a misspelt one would otherwise leave its default standing unnoticed).
    std::vector<std::string> warnings;
};

/// Builds the configuration: defaults, then the YAML file (--config), then environment
/// variables (OCPP_GATEWAY_*), then flags. Throws std::runtime_error with one clear message
/// for anything invalid (start-up only), including a listener exposed without authentication
/// that the configuration does not acknowledge (unauthenticated_exposures(); not for the
/// subcommands, which listen on nothing).
CommandLine parse_command_line(int argc, const char* const* argv,
                               const std::map<std::string, std::string>& env);

/// The --help text.
std::string help_text();

}  // namespace gateway::config
