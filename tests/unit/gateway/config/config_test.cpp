#include <catch2/catch.hpp>

#include <filesystem>

#include "gateway/config/config.hpp"
#include "unit/gateway/config/parse.hpp"

using gateway::config::CommandLine;

using config_test::parse;
using config_test::write_yaml;

TEST_CASE("defaults are sane", "[config]") {
    const auto cl = parse({});
    CHECK(cl.action == CommandLine::Action::run);
    const auto& c = cl.config;
    CHECK(c.listen.port == 9000);
    CHECK(c.admin_listen.to_string() == "127.0.0.1:9100");
    CHECK(c.kafka.brokers == "127.0.0.1:9092");
    CHECK_FALSE(c.gateway_id.empty());
    CHECK(c.missing_subprotocol == ocpp::ProtocolVersion::v16);
    for (const auto mode : c.reply.modes) {
        CHECK(mode == gateway::config::ReplyMode::after_ack);
    }
    CHECK(c.kafka.delivery_timeout < std::chrono::seconds(30));
}

TEST_CASE("the upgrade admission rate follows what an upgrade costs unless given", "[config]") {
    using gateway::config::kHandshakesPerSecondPlain;
    using gateway::config::kHandshakesPerSecondTls;
    CHECK(parse({}).config.security.handshakes_per_second == kHandshakesPerSecondPlain);
    CHECK(parse({"--security-profile", "1"}).config.security.handshakes_per_second == kHandshakesPerSecondPlain);
    const auto tls = parse({"--security-profile", "2", "--tls-cert", "a.pem", "--tls-key", "a.key"}).config;
    CHECK(tls.security.handshakes_per_second == kHandshakesPerSecondTls);
    const auto offloaded = write_yaml(
        "admission-offload", "security:\n  profile: 2\ntls:\n  offload: true\n  offload_from: [10.0.0.1]\n");
    CHECK(parse({"--config", offloaded}).config.security.handshakes_per_second == kHandshakesPerSecondPlain);
    const auto given = write_yaml("admission-given", "security:\n  profile: 2\n  handshakes_per_second: 1200\n");
    CHECK(parse({"--config", given, "--tls-cert", "a.pem", "--tls-key", "a.key"}).config.security.handshakes_per_second ==
          1200);
    // 0, as the example file has it, is the default.
    const auto zero = write_yaml("admission-zero", "security:\n  handshakes_per_second: 0\n");
    CHECK(parse({"--config", zero}).config.security.handshakes_per_second == kHandshakesPerSecondPlain);
    const auto negative = write_yaml("admission-negative", "security:\n  handshakes_per_second: -1\n");
    CHECK_THROWS_WITH(parse({"--config", negative}), Catch::Contains("handshakes_per_second"));
    std::filesystem::remove(zero);
    std::filesystem::remove(negative);
    std::filesystem::remove(offloaded);
    std::filesystem::remove(given);
}

TEST_CASE("file < environment < flags", "[config]") {
    const auto file = write_yaml("precedence", R"(
gateway_id: from-file
listen: 127.0.0.2:7000
kafka:
  brokers: file:9092
  properties:
    security.protocol: SASL_SSL
reply:
  modes:
    heartbeat: immediate
stations:
  allow: [CP-One]
limits:
  max_pending_calls: 2
)");
    auto cl = parse({"--config", file});
    CHECK(cl.config.gateway_id == "from-file");
    CHECK(cl.config.listen.port == 7000);
    CHECK(cl.config.kafka.properties.at("security.protocol") == "SASL_SSL");
    CHECK(cl.config.reply.modes[static_cast<int>(ocpp::EventClass::heartbeat)] ==
          gateway::config::ReplyMode::immediate);
    CHECK(cl.config.allowed_stations.count("cp-one") == 1);
    CHECK(cl.config.limits.max_pending_calls == 2);

    cl = parse({"--config", file}, {{"OCPP_GATEWAY_ID", "from-env"},
                                    {"OCPP_GATEWAY_KAFKA_PROP_SASL_USERNAME", "user"}});
    CHECK(cl.config.gateway_id == "from-env");
    CHECK(cl.config.kafka.properties.at("sasl.username") == "user");

    cl = parse({"--config=" + file, "--gateway-id", "from-flag", "--listen", "[::1]:7001",
                "--kafka-property", "linger.ms=0"},
               {{"OCPP_GATEWAY_ID", "from-env"}});
    CHECK(cl.config.gateway_id == "from-flag");
    CHECK(cl.config.listen.host == "::1");
    CHECK(cl.config.listen.port == 7001);
    CHECK(cl.config.kafka.properties.at("linger.ms") == "0");
    std::filesystem::remove(file);
}

TEST_CASE("loopback addresses are told from the rest", "[config]") {
    using gateway::config::is_loopback;
    for (const char* host : {"127.0.0.1", "127.1.2.3", "::1", "0:0:0:0:0:0:0:1", "::ffff:127.0.0.1"}) {
        INFO(host);
        CHECK(is_loopback(host));
    }
    for (const char* host : {"0.0.0.0", "::", "10.0.0.1", "192.168.1.5", "128.0.0.1", "::2", "fe80::1",
                             "::ffff:10.0.0.1", "::ffff:0.0.0.0", "::127.0.0.1", "localhost", "", "127.0.0.1 "}) {
        INFO(host);
        CHECK_FALSE(is_loopback(host));
    }
}

TEST_CASE("a listener open to the network without authentication must be acknowledged", "[config]") {
    using Catch::Contains;
    using gateway::config::AdminAccess;
    using gateway::config::admin_policy;
    using gateway::config::unauthenticated_exposures;
    using Exposures = std::vector<std::string>;

    // The defaults bind loopback: nothing to acknowledge, everything open to this machine.
    const auto defaults = parse({}).config;
    CHECK(defaults.listen.to_string() == "127.0.0.1:9000");
    CHECK(unauthenticated_exposures(defaults).empty());
    CHECK(admin_policy(defaults).commands == AdminAccess::open);
    CHECK(admin_policy(defaults).metrics == AdminAccess::open);

    // Stations: profile 0 on any other address is refused, naming the address and the ways out.
    for (const char* listen : {"0.0.0.0:9000", "[::]:9000", "10.1.2.3:9000"}) {
        INFO(listen);
        CHECK_THROWS_WITH(parse({"--listen", listen}),
                          Contains(std::string("listen ") + listen) && Contains("security.profile0_exposed: true") &&
                              Contains("--security-profile"));
    }
    const auto acknowledged = write_yaml("profile0-exposed", "listen: 0.0.0.0:9000\nsecurity:\n  profile0_exposed: true\n");
    CHECK(unauthenticated_exposures(parse({"--config", acknowledged}).config) == Exposures{"stations"});
    const auto basic = parse({"--listen", "0.0.0.0:9000", "--security-profile", "1"}).config;
    CHECK(unauthenticated_exposures(basic).empty());

    // Admin: another address needs the token; with it, /v1 and /metrics ask for it.
    CHECK_THROWS_WITH(parse({"--admin-listen", "0.0.0.0:9100"}),
                      Contains("admin_listen 0.0.0.0:9100") && Contains("admin.token") &&
                          Contains("admin.exposed_without_token: true"));
    const auto with_token =
        parse({"--admin-listen", "0.0.0.0:9100"}, {{"OCPP_GATEWAY_ADMIN_TOKEN", "s3cret"}}).config;
    CHECK(unauthenticated_exposures(with_token).empty());
    CHECK(admin_policy(with_token).commands == AdminAccess::token);
    CHECK(admin_policy(with_token).metrics == AdminAccess::token);
    const auto scrape = write_yaml("metrics-open", "admin:\n  token: s3cret\n  metrics_without_token: true\n");
    const auto scraped = parse({"--config", scrape, "--admin-listen", "0.0.0.0:9100"}).config;
    CHECK(admin_policy(scraped).commands == AdminAccess::token);
    CHECK(admin_policy(scraped).metrics == AdminAccess::open);
    // A token on loopback is asked for as well.
    CHECK(admin_policy(parse({"--config", scrape}).config).commands == AdminAccess::token);

    // The opt-out starts the listener for health and metrics; /v1 is never served tokenless.
    const auto open = write_yaml("admin-exposed", "admin:\n  exposed_without_token: true\n");
    const auto exposed = parse({"--config", open, "--admin-listen", "[::]:9100"}).config;
    CHECK(unauthenticated_exposures(exposed) == Exposures{"admin"});
    CHECK(admin_policy(exposed).commands == AdminAccess::refused);
    CHECK(admin_policy(exposed).metrics == AdminAccess::open);

    // check-config reads the configuration as a start would, exposure rules included.
    CHECK(parse({"check-config"}).action == CommandLine::Action::check_config);
    CHECK(parse({"check-config", "--config", acknowledged}).action == CommandLine::Action::check_config);
    CHECK_THROWS_WITH(parse({"check-config", "--listen", "0.0.0.0:9000"}), Contains("security.profile0_exposed"));

    // Subcommands listen on nothing: the same configuration serves them.
    CHECK(parse({"topics", "plan", "--listen", "0.0.0.0:9000", "--admin-listen", "0.0.0.0:9100"}).action ==
          CommandLine::Action::topics);
    for (const auto& f : {acknowledged, scrape, open}) {
        std::filesystem::remove(f);
    }
}

TEST_CASE("trusted proxies are networks", "[config]") {
    const auto file = write_yaml("proxies", "proxy_protocol:\n  trusted: [10.0.0.0/8, \"::1\", 192.168.7.1]\n  timeout_ms: 800\n");
    const auto c = parse({"--config", file}).config;
    REQUIRE(c.proxy_protocol.trusted.size() == 3);
    CHECK(c.proxy_protocol.trusted[0].to_string() == "10.0.0.0/8");
    CHECK(c.proxy_protocol.trusted[1].to_string() == "::1/128");
    CHECK(c.proxy_protocol.trusted[2].to_string() == "192.168.7.1/32");
    CHECK(c.proxy_protocol.timeout == std::chrono::milliseconds(800));
    CHECK(parse({}).config.proxy_protocol.trusted.empty());
    const auto bad = write_yaml("proxies-bad", "proxy_protocol:\n  trusted: [10.0.0.0/33]\n");
    CHECK_THROWS_WITH(parse({"--config", bad}), Catch::Contains("\"10.0.0.0/33\" is not an address or a network"));
    std::filesystem::remove(file);
    std::filesystem::remove(bad);
}

TEST_CASE("TLS offloaded to load balancers is a configuration of its own", "[config]") {
    using Catch::Contains;
    const auto ok = write_yaml("offload", "security:\n  profile: 3\ntls:\n  offload: true\n  offload_from: [10.0.0.0/8]\n"
                                          "  ca_file: /etc/ssl/stations.pem\nlisten: 0.0.0.0:9000\n");
    const auto c = parse({"--config", ok}).config;
    CHECK(c.tls.offload);
    REQUIRE(c.tls.offload_from.size() == 1);
    CHECK(c.tls.client_cert_header == "X-SSL-Client-Cert");
    CHECK(gateway::config::unauthenticated_exposures(c).empty());
    const std::pair<std::string, std::string> cases[] = {
        {"tls:\n  offload: true\n  offload_from: [10.0.0.1]\n", "profiles 2 and 3"},
        {"security:\n  profile: 2\ntls:\n  offload: true\n", "needs tls.offload_from"},
        {"security:\n  profile: 2\ntls:\n  offload: true\n  offload_from: [10.0.0.1]\n  certificates: [{cert: a.pem, key: a.key}]\n",
         "tls.certificates must be empty"},
        {"security:\n  profile: 3\ntls:\n  offload: true\n  offload_from: [10.0.0.1]\n  ca_file: ca.pem\n  client_cert_header: \"\"\n",
         "client_cert_header"},
        {"security:\n  profile: 3\ntls:\n  offload: true\n  offload_from: [10.0.0.1]\n", "tls.ca_file"},
        {"security:\n  profile: 2\ntls:\n  offload: true\n  offload_from: [not-an-address]\n", "is not an address"},
    };
    for (const auto& [text, message] : cases) {
        INFO(text);
        CHECK_THROWS_WITH(parse({"--config", write_yaml("offload-bad", text)}), Contains(message));
    }
    // Profile 2 behind the terminator needs no certificate of its own.
    CHECK(parse({"--config", write_yaml("offload-2", "security:\n  profile: 2\ntls:\n  offload: true\n  offload_from: [10.0.0.1]\n")})
              .config.tls.offload);
    std::filesystem::remove(ok);
}

TEST_CASE("bad configuration stops start-up with one clear message", "[config]") {
    using Catch::Contains;
    CHECK_THROWS_WITH(parse({"--listen", "9000"}), Contains("HOST:PORT"));
    CHECK_THROWS_WITH(parse({"--listen", "localhost:9000"}), Contains("\"localhost\" is not an IP address"));
    CHECK_THROWS_WITH(parse({"--admin-listen", "10.0.0.0/8:9100"}), Contains("is not an IP address"));
    CHECK(parse({"--listen", "[::1]:9000"}).config.listen.host == "::1");
    CHECK_THROWS_WITH(parse({"--listen", "127.0.0.1:70000"}), Contains("outside 1..65535"));
    CHECK_THROWS_WITH(parse({"--bogus"}), Contains("unknown option"));
    CHECK_THROWS_WITH(parse({"--gateway-id"}), Contains("needs a value"));
    CHECK_THROWS_WITH(parse({"--reply-mode", "transaction=immediate"}), Contains("always"));
    CHECK_THROWS_WITH(parse({"--reply-mode", "billing=immediate"}), Contains("unknown event class"));
    CHECK_THROWS_WITH(parse({"--missing-subprotocol", "ocpp9"}), Contains("unknown OCPP version"));
    CHECK_THROWS_WITH(parse({"--config", "/nonexistent/gw.yaml"}), Contains("cannot read"));
    // A path that names no file: refused, never read as no settings at all.
    CHECK_THROWS_WITH(parse({"--config", ""}), "--config is empty; name a YAML file (or leave it out to run on the defaults)");
    CHECK_THROWS_WITH(parse({"--config="}), Contains("--config is empty"));
    CHECK_THROWS_WITH(parse({}, {{"OCPP_GATEWAY_CONFIG", ""}}), Contains("environment OCPP_GATEWAY_CONFIG is empty"));
    CHECK_THROWS_WITH(parse({"--config", std::filesystem::temp_directory_path().string()}),
                      Contains("is a directory; name the YAML file in it"));
    CHECK_THROWS_WITH(parse({"--commands-group", ""}), Contains("config commands.group: \"\" names no consumer group"));
    CHECK_THROWS_WITH(parse({"--listen", "127.0.0.1:9100", "--admin-listen", "127.0.0.1:9100"}),
                      Contains("must differ"));
    // The same port on an address a wildcard covers, or the same address spelled otherwise.
    CHECK_THROWS_WITH(parse({"--listen", "0.0.0.0:9100", "--admin-listen", "127.0.0.1:9100"}),
                      Contains("listen (0.0.0.0:9100) and admin_listen (127.0.0.1:9100) must differ"));
    CHECK_THROWS_WITH(parse({"--listen", "[::]:9100", "--admin-listen", "127.0.0.1:9100"}), Contains("must differ"));
    CHECK_THROWS_WITH(parse({"--listen", "[::1]:9100", "--admin-listen", "[0:0:0:0:0:0:0:1]:9100"}),
                      Contains("must differ"));
    CHECK_THROWS_WITH(parse({"--listen", "[::ffff:127.0.0.1]:9100", "--admin-listen", "127.0.0.1:9100"}),
                      Contains("must differ"));
    // Apart: another port, another address, or an IPv4 wildcard beside an IPv6 address.
    const auto exposed = write_yaml("exposed-apart", "security:\n  profile0_exposed: true\n");
    CHECK_NOTHROW(parse({"--config", exposed, "--listen", "0.0.0.0:9000", "--admin-listen", "127.0.0.1:9100"}));
    CHECK_NOTHROW(parse({"--listen", "127.0.0.2:9100", "--admin-listen", "127.0.0.1:9100"}));
    CHECK_NOTHROW(parse({"--config", exposed, "--listen", "0.0.0.0:9100", "--admin-listen", "[::1]:9100"}));
    std::filesystem::remove(exposed);

    auto file = write_yaml("typo", "limits:\n  max_conections: 5\n");
    CHECK_THROWS_WITH(parse({"--config", file}), Contains("limits.max_conections: unknown setting"));
    file = write_yaml("range", "limits:\n  max_message_bytes: 10\n");
    CHECK_THROWS_WITH(parse({"--config", file}), Contains("max_message_bytes"));
    // A value left out inside a mapping: the key and its line.
    file = write_yaml("null-property", "kafka:\n  properties:\n    sasl.password:\n");
    CHECK_THROWS_WITH(parse({"--config", file}),
                      "config kafka.properties.sasl.password (line 3): expected a single value");
    file = write_yaml("broken", "listen: [unterminated\n");
    CHECK_THROWS_WITH(parse({"--config", file}), Contains("config file"));
    // Without pings, stations are heard at their heartbeats only: the idle timeout must outlast them.
    file = write_yaml("idle", "limits:\n  ping_interval_s: 0\nreply:\n  heartbeat_interval_s: 900\n");
    CHECK_THROWS_WITH(parse({"--config", file}),
                      "config limits.idle_timeout_s 900 would close stations that heartbeat as told: without pings "
                      "(ping_interval_s 0) a station is heard at its heartbeats, every reply.heartbeat_interval_s "
                      "900 s; make the idle timeout longer, or 0");
    file = write_yaml("ask-nothing", "reply:\n  authorize:\n    ask: always\n    ask_classes: []\n");
    CHECK_THROWS_WITH(parse({"--config", file}), Contains("reply.authorize.ask_classes is empty"));
    file = write_yaml("idle-ok", "limits:\n  ping_interval_s: 0\n  idle_timeout_s: 0\nreply:\n  heartbeat_interval_s: 900\n");
    CHECK(parse({"--config", file}).config.limits.idle_timeout.count() == 0);
    std::filesystem::remove(file);
}

TEST_CASE("the operator's decisions are configured and checked", "[config]") {
    using Catch::Matchers::Contains;
    const auto defaults = parse({}).config;
    // A network lets in the cards its operator knows; stations join at once.
    CHECK(defaults.reply.unknown_token_status == "Invalid");
    CHECK(defaults.reply.boot_default_status == "Accepted");
    CHECK(defaults.topics.id_tokens == "ocpp.id-tokens");
    CHECK(parse({"--unknown-tokens", "Accepted"}).config.reply.unknown_token_status == "Accepted");
    CHECK_THROWS_WITH(parse({"--unknown-tokens", "yes"}), Contains("not an OCPP authorization status"));
    const auto file = write_yaml("decisions", "reply:\n  boot:\n    default_status: Pending\n    retry_interval_s: 30\n");
    const auto c = parse({"--config", file}).config;
    CHECK(c.reply.boot_default_status == "Pending");
    CHECK(c.reply.boot_retry_interval == std::chrono::seconds(30));
    const auto bad = write_yaml("decisions-bad", "reply:\n  boot:\n    default_status: Maybe\n");
    CHECK_THROWS_WITH(parse({"--config", bad}), Contains("not Accepted, Pending or Rejected"));
    // Settings of an earlier release say what replaced them.
    const auto old = write_yaml("decisions-old", "reply:\n  authorize:\n    accept_all: true\n");
    CHECK_THROWS_WITH(parse({"--config", old}), Contains("reply.authorize.unknown_tokens: Accepted"));
    std::filesystem::remove(file);
    std::filesystem::remove(bad);
    std::filesystem::remove(old);
}

TEST_CASE("help and version", "[config]") {
    CHECK(parse({"--help"}).action == CommandLine::Action::help);
    CHECK(parse({"--version"}).action == CommandLine::Action::version);
    CHECK_THAT(gateway::config::help_text(), Catch::Contains("--kafka-brokers"));
}

TEST_CASE("command settings come from the file, the environment and flags", "[config]") {
    const auto defaults = parse({}).config;
    CHECK(defaults.commands.group == "ocpp-gateway");
    CHECK(defaults.commands.queue_limit == 32);
    CHECK(defaults.commands.default_timeout == std::chrono::milliseconds(30000));
    CHECK(defaults.commands.heartbeat * 2 <= defaults.commands.instance_timeout);
    CHECK(defaults.admin_token.empty());
    CHECK(defaults.topics.command_routes == "ocpp.command-routes");

    const auto file = write_yaml("commands", R"(
commands:
  group: fleet-a
  queue_limit: 4
  default_timeout_ms: 5000
  max_age_s: 30
  heartbeat_ms: 1000
  instance_timeout_ms: 6000
admin:
  token: from-file
topics:
  command_routes: x.routes
)");
    const auto c = parse({"--config", file}).config;
    CHECK(c.commands.group == "fleet-a");
    CHECK(c.commands.queue_limit == 4);
    CHECK(c.commands.default_timeout == std::chrono::milliseconds(5000));
    CHECK(c.commands.max_age == std::chrono::seconds(30));
    CHECK(c.commands.heartbeat == std::chrono::milliseconds(1000));
    CHECK(c.commands.instance_timeout == std::chrono::milliseconds(6000));
    CHECK(c.admin_token == "from-file");
    CHECK(c.topics.command_routes == "x.routes");

    const auto e = parse({"--config", file, "--commands-group", "fleet-b"},
                         {{"OCPP_GATEWAY_ADMIN_TOKEN", "from-env"},
                          {"OCPP_GATEWAY_INSTANCE_TIMEOUT_MS", "2000"}})
                       .config;
    CHECK(e.commands.group == "fleet-b");
    CHECK(e.admin_token == "from-env");
    CHECK(e.commands.instance_timeout == std::chrono::milliseconds(2000));
    CHECK(e.commands.heartbeat == std::chrono::milliseconds(1000));
    // A heartbeat given too slow for the timeout is refused; the default is brought down to
    // a third of it.
    CHECK_THROWS_WITH(parse({"--config", file}, {{"OCPP_GATEWAY_INSTANCE_TIMEOUT_MS", "1500"}}),
                      "config commands.heartbeat_ms 1000 is more than half of commands.instance_timeout_ms "
                      "1500: one late liveness record would make this instance look gone");
    CHECK(parse({"--instance-timeout-ms", "1500"}).config.commands.heartbeat == std::chrono::milliseconds(500));
    // 0, as the example file has it, is what leaving it out gives: brought down with the timeout.
    const auto automatic = write_yaml("commands-auto", "commands:\n  heartbeat_ms: 0\n");
    CHECK(parse({"--config", automatic}).config.commands.heartbeat == defaults.commands.heartbeat);
    CHECK(parse({"--config", automatic}, {{"OCPP_GATEWAY_INSTANCE_TIMEOUT_MS", "5000"}}).config.commands.heartbeat ==
          std::chrono::milliseconds(1666));
    CHECK_THROWS_WITH(parse({"--config", write_yaml("commands-fast", "commands:\n  heartbeat_ms: 50\n")}),
                      Catch::Contains("commands.heartbeat_ms") && Catch::Contains("50 is below 100 (0: the default)"));
    CHECK_THROWS_WITH(parse({"--config", write_yaml("commands-negative", "commands:\n  heartbeat_ms: -1\n")}),
                      Catch::Contains("commands.heartbeat_ms") && Catch::Contains("outside 0..60000"));

    CHECK_THROWS_WITH(parse({"--config", write_yaml("bad-commands", "commands:\n  queue_limit: 0\n")}),
                      Catch::Contains("commands.queue_limit"));
    CHECK_THROWS_WITH(parse({"--config", write_yaml("bad-commands2", "commands:\n  queue: 3\n")}),
                      Catch::Contains("queue"));
    CHECK_THROWS_WITH(parse({"--instance-timeout-ms", "10"}), Catch::Contains("--instance-timeout-ms"));
}

TEST_CASE("security and TLS settings are checked at start-up", "[config]") {
    const auto defaults = parse({}).config;
    CHECK(defaults.security.profile == 0);
    CHECK(defaults.security.failures_per_identity == 5);
    CHECK(defaults.topics.stations == "ocpp.stations");

    const auto file = write_yaml("security", R"(
security:
  profile: 3
  stations_file: /etc/ocpp/stations.yaml
  failures_per_identity: 3
  messages_per_second: 10
  message_burst: 20
tls:
  certificates:
    - {cert: /a/rsa.pem, key: /a/rsa.key}
    - {cert: /a/ec.pem, key: /a/ec.key}
  ca_file: /a/ca.pem
  organization: Operator
)");
    const auto c = parse({"--config", file}).config;
    CHECK(c.security.profile == 3);
    CHECK(c.security.stations_file == "/etc/ocpp/stations.yaml");
    CHECK(c.security.failures_per_identity == 3);
    CHECK(c.security.messages_per_second == 10);
    REQUIRE(c.tls.certificates.size() == 2);
    CHECK(c.tls.certificates[1].key == "/a/ec.key");
    CHECK(c.tls.organization == "Operator");

    const auto flags = parse({"--security-profile", "2", "--tls-cert", "c.pem", "--tls-key", "k.pem"},
                             {{"OCPP_GATEWAY_STATIONS_FILE", "s.yaml"}})
                           .config;
    CHECK(flags.security.profile == 2);
    CHECK(flags.security.stations_file == "s.yaml");
    REQUIRE(flags.tls.certificates.size() == 1);
    CHECK(flags.tls.certificates[0].cert == "c.pem");

    CHECK_THROWS_WITH(parse({"--security-profile", "2"}), Catch::Contains("needs a TLS certificate"));
    CHECK_THROWS_WITH(parse({"--security-profile", "3", "--tls-cert", "c", "--tls-key", "k"}),
                      Catch::Contains("CA bundle"));
    CHECK_THROWS_WITH(parse({"--tls-cert", "c", "--tls-key", "k"}), Catch::Contains("profile 0"));
    CHECK_THROWS_WITH(parse({"--security-profile", "2", "--tls-cert", "c"}), Catch::Contains("has no key"));
    CHECK_THROWS_WITH(parse({"--tls-key", "k"}), Catch::Contains("must follow"));
    CHECK_THROWS_WITH(parse({"--security-profile", "4"}), Catch::Contains("--security-profile"));
    CHECK_THROWS_WITH(parse({"--config", write_yaml("bad-sec", "security:\n  profil: 1\n")}),
                      Catch::Contains("profil"));
}

TEST_CASE("hash-password is a subcommand", "[config]") {
    const auto cl = parse({"hash-password", "--iterations", "5000"});
    CHECK(cl.action == CommandLine::Action::hash_password);
    CHECK(cl.iterations == 5000);
    CHECK_THROWS_WITH(parse({"hash-password", "secret"}), Catch::Contains("standard input"));
    CHECK_THROWS_WITH(parse({"hash-password", "--iterations", "10"}), Catch::Contains("--iterations"));
}

TEST_CASE("min.insync.replicas above the replication factor is refused", "[config]") {
    CHECK_THROWS_WITH(parse({"--kafka-brokers", "k:9092", "--kafka-replication-factor", "2",
                             "--kafka-min-insync-replicas", "3"}),
                      Catch::Contains("min_insync_replicas (3) must not exceed replication_factor (2)"));
    const auto ok = parse({"--kafka-brokers", "k:9092", "--kafka-replication-factor", "3",
                           "--kafka-min-insync-replicas", "2"});
    CHECK(ok.config.topic_replication == 3);
    CHECK(ok.config.topic_min_insync == 2);
}

TEST_CASE("topics is a subcommand that reads the gateway's own options", "[config][contract]") {
    const auto file = write_yaml("contract-cmd", "topics:\n  status: it.status\n");
    const auto cl = parse({"topics", "check", "--config", file, "--kafka-brokers", "k:9092"});
    CHECK(cl.action == CommandLine::Action::topics);
    CHECK(cl.verb == "check");
    CHECK(cl.config.topics.for_class(ocpp::EventClass::status) == "it.status");
    CHECK(cl.config.kafka.brokers == "k:9092");
    CHECK_THROWS_WITH(parse({"topics"}), Catch::Contains("plan, apply or check"));
    CHECK_THROWS_WITH(parse({"topics", "delete"}), Catch::Contains("plan, apply or check"));
    CHECK_THROWS_WITH(parse({"topics", "plan", "--bogus"}), Catch::Contains("unknown option"));
    std::filesystem::remove(file);
}

TEST_CASE("the contract has a default per topic and takes changes key by key", "[config][contract]") {
    using Catch::Contains;
    const auto defaults = parse({}).config;
    // Billing data kept longest, liveness shortest; tables compacted; one partition numbers
    // 1.6 transactions.
    CHECK(defaults.contract.at("transaction").retention_ms == 90LL * 86400000);
    CHECK(defaults.contract.at("heartbeat").retention_ms == 86400000LL);
    CHECK(*defaults.contract.at("heartbeat").retention_ms < *defaults.contract.at("metering").retention_ms);
    CHECK(defaults.contract.at("stations").cleanup_policy == "compact");
    CHECK_FALSE(defaults.contract.at("stations").retention_ms.has_value());
    CHECK(defaults.contract.at("transaction_ids").partitions == 1);
    for (const auto& [role, topic] : gateway::config::topic_roles(defaults)) {
        INFO(role);
        CHECK(defaults.contract.count(role) == 1);
    }

    const auto file = write_yaml("contract", "contract:\n  status: {partitions: 12, retention_bytes: 1073741824}\n"
                                             "  transaction: {retention_ms: -1, min_insync_replicas: 2}\n");
    const auto c = parse({"--config", file}).config;
    CHECK(c.contract.at("status").partitions == 12);
    CHECK(c.contract.at("status").retention_bytes == 1073741824LL);
    CHECK(c.contract.at("status").retention_ms == defaults.contract.at("status").retention_ms);
    CHECK(c.contract.at("transaction").retention_ms == -1);
    CHECK(c.contract.at("transaction").min_insync == 2);
    CHECK(c.contract.at("transaction").cleanup_policy == "delete");
    std::filesystem::remove(file);

    const std::vector<std::pair<std::string, std::string>> refused = {
        {"contract:\n  status: {partitons: 3}\n", "contract.status.partitons: unknown"},
        {"contract:\n  status: {partitions: many}\n", "not an integer"},
        {"contract:\n  status: {retention_ms: -5}\n", "outside -1.."},
        {"contract:\n  status: {cleanup_policy: forever}\n", "not delete, compact or compact,delete"},
        {"contract:\n  stations: {cleanup_policy: delete}\n", "must be compacted"},
        {"contract:\n  transaction_ids: {partitions: 3}\n", "must be 1"},
        {"contract:\n  billing: {partitions: 3}\n", "contract.billing: unknown setting"},
        {"topics:\n  status: ocpp.transaction-ids\n", "must be a topic of its own"},
    };
    for (const auto& [yaml, message] : refused) {
        INFO(yaml);
        const auto bad = write_yaml("contract-bad", yaml);
        CHECK_THROWS_WITH(parse({"--config", bad}), Contains(message));
        std::filesystem::remove(bad);
    }
    CHECK(defaults.freshness.budgets[static_cast<std::size_t>(ocpp::EventClass::status)] == std::chrono::seconds(5));
    CHECK(defaults.freshness.budgets[static_cast<std::size_t>(ocpp::EventClass::heartbeat)] == std::chrono::seconds(0));
    const auto budget = write_yaml("contract-budget", "contract:\n  metering: {freshness_budget_s: 15}\n");
    CHECK(parse({"--config", budget}).config.freshness.budgets[static_cast<std::size_t>(ocpp::EventClass::metering)] ==
          std::chrono::seconds(15));
    const auto budget_bad = write_yaml("contract-budget-bad", "contract:\n  commands: {freshness_budget_s: 15}\n");
    CHECK_THROWS_WITH(parse({"--config", budget_bad}), Contains("only event classes have a freshness budget"));
    std::filesystem::remove(budget);
    std::filesystem::remove(budget_bad);
    const auto drift = write_yaml("contract-drift", "kafka:\n  topic_drift: refuse\n");
    CHECK(parse({"--config", drift}).config.topic_drift == gateway::config::Config::Drift::refuse);
    const auto drift_bad = write_yaml("contract-drift-bad", "kafka:\n  topic_drift: ignore\n");
    CHECK_THROWS_WITH(parse({"--config", drift_bad}), Contains("neither warn nor refuse"));
    std::filesystem::remove(drift);
    std::filesystem::remove(drift_bad);
}

TEST_CASE("lag groups name a consumer group, its classes and a budget", "[config][contract]") {
    using Catch::Contains;
    CHECK(parse({}).config.lag.groups.empty());
    const auto file = write_yaml("lag", "lag:\n  groups: [\"billing:transaction,metering:30\", \"ops:status:5\"]\n  interval_s: 5\n");
    const auto c = parse({"--config", file}).config;
    REQUIRE(c.lag.groups.size() == 2);
    CHECK(c.lag.groups[0].group == "billing");
    CHECK(c.lag.groups[0].classes == std::vector<ocpp::EventClass>{ocpp::EventClass::transaction, ocpp::EventClass::metering});
    CHECK(c.lag.groups[0].budget == std::chrono::seconds(30));
    CHECK(c.lag.groups[1].classes == std::vector<ocpp::EventClass>{ocpp::EventClass::status});
    CHECK(c.lag.interval == std::chrono::seconds(5));
    std::filesystem::remove(file);
    for (const auto& [entry, message] : std::vector<std::pair<std::string, std::string>>{
             {"billing", "expected GROUP:CLASS"},
             {"billing:30", "expected GROUP:CLASS"},
             {"billing:sessions:30", "\"sessions\" is not an event class"},
             {"billing:transaction,:30", "\"\" is not an event class"},
             {"billing:transaction:soon", "not an integer"},
             {":transaction:30", "expected GROUP:CLASS"}}) {
        INFO(entry);
        const auto bad = write_yaml("lag-bad", "lag:\n  groups: [\"" + entry + "\"]\n");
        CHECK_THROWS_WITH(parse({"--config", bad}), Contains(message));
        std::filesystem::remove(bad);
    }
}

TEST_CASE("tenants get topics of their own and nothing that lets one in as another", "[config][contract]") {
    using Catch::Contains;
    CHECK(parse({}).config.tenants.empty());
    const auto file = write_yaml("tenants", "tenants: [\"north\", \"south:eu.south.:500\"]\n"
                                            "commands:\n  group: gw\n");
    const auto c = parse({"--config", file}).config;
    std::filesystem::remove(file);
    REQUIRE(c.tenants.size() == 2);
    CHECK(c.tenants[0].name == "north");
    CHECK(c.tenants[0].topic_prefix == "north.");
    CHECK(c.tenants[0].max_stations == 0);
    CHECK(c.tenants[1].topic_prefix == "eu.south.");
    CHECK(c.tenants[1].max_stations == 500);

    const auto north = gateway::config::tenant_config(c, c.tenants[0]);
    CHECK(north.tenants.empty());
    CHECK(north.commands.group == "gw.north");
    // Every topic the gateway has, with the prefix: none left shared.
    const auto base_roles = gateway::config::topic_roles(c);
    const auto north_roles = gateway::config::topic_roles(north);
    REQUIRE(north_roles.size() == base_roles.size());
    for (std::size_t i = 0; i < base_roles.size(); ++i) {
        CHECK(north_roles[i].second == "north." + base_roles[i].second);
    }
    CHECK(north.topics.transaction_ids == "north.ocpp.transaction-ids");

    for (const auto& [text, message] : std::vector<std::pair<std::string, std::string>>{
             {"tenants: [\"North\"]", "must be 1-32 of a-z"},
             {"tenants: [\"a/b\"]", "must be 1-32 of a-z"},
             {"tenants: [\"\"]", "must be 1-32 of a-z"},
             {"tenants: [\"north:\"]", "topic prefix \"\" of tenant north"},
             {"tenants: [\"north:a b.\"]", "topic prefix \"a b.\""},
             {"tenants: [\"north::x\"]", "topic prefix \"\""},
             {"tenants: [\"north:n.:many\"]", "not an integer"},
             {"tenants: [\"north\", \"north:other.\"]", "north is listed twice"},
             {"tenants: [\"north:x.\", \"south:x.\"]", "is also a topic of north"},
             // "a." before "b.ocpp.status" and "a.b." before "ocpp.status" name one topic.
             {"tenants: [\"a:a.\", \"b:a.b.\"]\ntopics:\n  heartbeat: b.ocpp.status\n", "is also a topic of"},
             {"tenants: [\"north\"]\nsecurity:\n  stations_file: /tmp/s.yaml\n", "stations_file cannot be used with tenants"},
             {"tenants: [\"north\"]\nstations:\n  allow: [CS1]\n", "stations.allow cannot be used with tenants"}}) {
        INFO(text);
        const auto bad = write_yaml("tenants-bad", text + "\n");
        CHECK_THROWS_WITH(parse({"--config", bad}), Contains(message));
        std::filesystem::remove(bad);
    }
}

TEST_CASE("a tenant may have a Kafka cluster of its own, with its own credentials", "[config][contract]") {
    using Catch::Contains;
    const auto file = write_yaml("tenant-kafka", "tenants: [\"north\", \"south\"]\n"
                                                 "kafka:\n  brokers: shared:9092\n  properties: {sasl.username: gw}\n"
                                                 "tenant_kafka:\n  brokers: {south: \"eu-1:9092,eu-2:9092\"}\n"
                                                 "  properties: {south.sasl.username: south-gw, south.security.protocol: SASL_SSL}\n");
    const auto c = parse({"--config", file}).config;
    std::filesystem::remove(file);
    const auto north = gateway::config::tenant_config(c, c.tenants[0]);
    const auto south = gateway::config::tenant_config(c, c.tenants[1]);
    CHECK_FALSE(gateway::config::has_own_cluster(c, c.tenants[0]));
    CHECK(gateway::config::has_own_cluster(c, c.tenants[1]));
    CHECK(north.kafka.brokers == "shared:9092");
    CHECK(north.kafka.properties.at("sasl.username") == "gw");
    CHECK(south.kafka.brokers == "eu-1:9092,eu-2:9092");
    // The shared cluster's credentials do not follow a tenant to its own cluster.
    CHECK(south.kafka.properties == std::map<std::string, std::string>{{"sasl.username", "south-gw"},
                                                                      {"security.protocol", "SASL_SSL"}});
    for (const auto& [text, message] : std::vector<std::pair<std::string, std::string>>{
             {"tenants: [\"north\"]\ntenant_kafka:\n  brokers: {west: \"b:9092\"}\n", "west is not a tenant"},
             {"tenants: [\"north\"]\ntenant_kafka:\n  properties: {north.acks: all}\n", "north has no cluster of its own"},
             {"tenants: [\"north\"]\ntenant_kafka:\n  brokers: {north: \"b:9092\"}\n  properties: {acks: all}\n", "is not TENANT.PROPERTY"},
             {"tenant_kafka:\n  brokers: {north: \"b:9092\"}\n", "north is not a tenant"}}) {
        INFO(text);
        const auto bad = write_yaml("tenant-kafka-bad", text);
        CHECK_THROWS_WITH(parse({"--config", bad}), Contains(message));
        std::filesystem::remove(bad);
    }
}

TEST_CASE("the producer batches by linger or adaptively", "[config]") {
    using Catch::Contains;
    CHECK_FALSE(parse({}).config.kafka.adaptive_batching);
    const auto file = write_yaml("batching", "kafka:\n  batching: adaptive\n");
    CHECK(parse({"--config", file}).config.kafka.adaptive_batching);
    std::filesystem::remove(file);
    const auto bad = write_yaml("batching-bad", "kafka:\n  batching: nagle\n");
    CHECK_THROWS_WITH(parse({"--config", bad}), Contains("\"nagle\" is neither linger nor adaptive"));
    std::filesystem::remove(bad);
}

TEST_CASE("tolerance profiles name what they match and the repairs they allow", "[config][tolerance]") {
    using Catch::Contains;
    CHECK(parse({}).config.tolerance.empty());
    const auto file = write_yaml("tolerance",
                                 "tolerance:\n  profiles:\n"
                                 "    - name: growatt-local-time\n"
                                 "      match: {vendor: Growatt, model: \"*\", firmware: \"1.*\"}\n"
                                 "      allow: [timestamp-without-offset, enum-case]\n"
                                 "      assume_offset: \"+01:00\"\n"
                                 "    - name: old-depot\n"
                                 "      match: {id: \"CP-OLD-*\"}\n"
                                 "      allow: [unknown-properties]\n");
    const auto c = parse({"--config", file}).config;
    std::filesystem::remove(file);
    REQUIRE(c.tolerance.size() == 2);
    CHECK(c.tolerance[0].name == "growatt-local-time");
    CHECK(c.tolerance[0].vendor == "Growatt");
    CHECK(c.tolerance[0].firmware == "1.*");
    CHECK(c.tolerance[0].id.empty());
    CHECK(c.tolerance[0].policy.allows(ocpp::RepairRule::timestamp_without_offset));
    CHECK(c.tolerance[0].policy.allows(ocpp::RepairRule::enum_case));
    CHECK_FALSE(c.tolerance[0].policy.allows(ocpp::RepairRule::unknown_properties));
    CHECK(c.tolerance[0].policy.assume_offset_minutes == 60);
    CHECK(c.tolerance[1].id == "CP-OLD-*");
    CHECK(c.tolerance[1].policy.assume_offset_minutes == 0);
    for (const auto& [profile, message] : std::vector<std::pair<std::string, std::string>>{
             {"{match: {id: a}, allow: [enum-case]}", "every profile needs a name"},
             {"{name: p, allow: [enum-case]}", "needs match"},
             {"{name: p, match: {}, allow: [enum-case]}", "expected a mapping of vendor"},
             {"{name: p, match: {serial: x}, allow: [enum-case]}", "match.serial: unknown"},
             {"{name: p, match: {id: a}}", "needs allow"},
             {"{name: p, match: {id: a}, allow: [lenient]}", "unknown repair \"lenient\" (known: timestamp-without-offset,"},
             {"{name: p, match: {id: a}, allow: [enum-case], assume_offset: \"+01:00\"}", "only read by timestamp-without-offset"},
             {"{name: p, match: {id: a}, allow: [timestamp-without-offset], assume_offset: CET}", "\"CET\" is not a UTC offset"},
             {"{name: p, match: {id: a}, allow: [enum-case], strict: no}", "strict: unknown"}}) {
        INFO(profile);
        const auto bad = write_yaml("tolerance-bad", "tolerance:\n  profiles: [" + profile + "]\n");
        CHECK_THROWS_WITH(parse({"--config", bad}), Contains(message));
        std::filesystem::remove(bad);
    }
    const auto twice = write_yaml("tolerance-twice",
                                  "tolerance:\n  profiles: [{name: p, match: {id: a}, allow: [enum-case]},"
                                  " {name: p, match: {id: b}, allow: [enum-case]}]\n");
    CHECK_THROWS_WITH(parse({"--config", twice}), Contains("two profiles are named \"p\""));
    std::filesystem::remove(twice);
}

TEST_CASE("tolerance suggest is a subcommand that reads the gateway's own options", "[config][tolerance]") {
    const auto cl = parse({"tolerance", "suggest", "--kafka-brokers", "k:9092"});
    CHECK(cl.action == CommandLine::Action::tolerance);
    CHECK(cl.verb == "suggest");
    CHECK(cl.config.kafka.brokers == "k:9092");
    CHECK_THROWS_WITH(parse({"tolerance"}), Catch::Contains("tolerance: say suggest"));
    CHECK_THROWS_WITH(parse({"tolerance", "apply"}), Catch::Contains("tolerance: say suggest"));
}

TEST_CASE("topic names are Kafka's, and what the gateway reads back has a topic of its own", "[config]") {
    using Catch::Contains;
    const std::vector<std::pair<std::string, std::string>> bad = {
        {"topics:\n  status: \"\"\n", "topics.status: \"\" is not a Kafka topic name"},
        {"topics:\n  status: \"ocpp status\"\n", "is not a Kafka topic name"},
        {"topics:\n  commands: \"..\"\n", "topics.commands: \"..\" is not a Kafka topic name"},
        {"topics:\n  dead_letter: " + std::string(250, 'x') + "\n", "is not a Kafka topic name"},
        {"topics:\n  commands: ocpp.command-results\n",
         "topics.commands: ocpp.command-results is also topics.command_results; it must be a topic of its own"},
        {"topics:\n  stations: ocpp.status\n", "topics.stations: ocpp.status is also topics.status"},
    };
    for (const auto& [yaml, message] : bad) {
        INFO(yaml);
        CHECK_THROWS_WITH(parse({"--config", write_yaml("topic-names", yaml)}), Contains(message));
    }
    // Streams may share one (all of them on one topic, say); a name at Kafka's limit is one.
    const auto shared = parse({"--config", write_yaml("topic-shared", "topics:\n  status: ocpp.events\n  heartbeat: ocpp.events\n"
                                                                       "  connections: ocpp.events\n"
                                                                       "  dead_letter: " + std::string(249, 'd') + "\n")})
                            .config;
    CHECK(shared.topics.for_class(ocpp::EventClass::status) == "ocpp.events");
    CHECK(shared.topics.connections == "ocpp.events");
    // So may a tenant's (each with its prefix).
    CHECK_NOTHROW(parse({"--config", write_yaml("topic-shared-tenants", "topics:\n  status: ocpp.events\n  heartbeat: ocpp.events\n"
                                                                         "tenants: [north, south]\n")}));
}

TEST_CASE("a contract that could take no write with acks=all is refused", "[config]") {
    using Catch::Contains;
    CHECK_THROWS_WITH(
        parse({"--config", write_yaml("contract-insync", "contract:\n  transaction: {replication_factor: 2, min_insync_replicas: 3}\n")}),
        Contains("contract.transaction: min_insync_replicas 3 exceeds replication_factor 2"));
    CHECK_THROWS_WITH(
        parse({"--config", write_yaml("contract-global", "kafka:\n  min_insync_replicas: 2\ncontract:\n  status: {replication_factor: 1}\n")}),
        Contains("contract.status: min_insync_replicas 2 (kafka.min_insync_replicas) exceeds replication_factor 1"));
    // Automatic values are settled against the cluster at start-up (gateway::app::unwritable).
    CHECK_NOTHROW(parse({"--config", write_yaml("contract-auto", "contract:\n  status: {replication_factor: 1}\n")}));
}

TEST_CASE("the DataTransfer answer is one of OCPP's statuses", "[config]") {
    CHECK(parse({"--config", write_yaml("dt-ok", "reply:\n  data_transfer_status: UnknownVendorId\n")})
              .config.reply.data_transfer_status == "UnknownVendorId");
    CHECK_THROWS_WITH(parse({"--config", write_yaml("dt-bad", "reply:\n  data_transfer_status: accepted\n")}),
                      Catch::Contains("\"accepted\" is not Accepted, Rejected, UnknownMessageId or UnknownVendorId"));
}

TEST_CASE("a setting given twice or without a value is refused with its line", "[config]") {
    using Catch::Contains;
    CHECK_THROWS_WITH(parse({"--config", write_yaml("twice", "limits:\n  max_connections: 100\nlimits:\n  max_connections: 200\n")}),
                      Contains("config limits: given twice (line 3)"));
    CHECK_THROWS_WITH(parse({"--config", write_yaml("twice-flat", "kafka:\n  linger_ms: 1\n  linger_ms: 5\n")}),
                      Contains("config kafka.linger_ms: given twice (line 3)"));
    // A template's variable that expanded to nothing would leave 127.0.0.1:9092 standing.
    CHECK_THROWS_WITH(parse({"--config", write_yaml("empty-value", "kafka:\n  brokers:\n  linger_ms: 1\n")}),
                      Contains("config kafka.brokers: no value (line 2)"));
    // An empty section changes nothing.
    CHECK(parse({"--config", write_yaml("empty-section", "kafka:\nlimits:\n  max_connections: 100\n")})
              .config.limits.max_connections == 100);
}
