#include <catch2/catch.hpp>

#include "ocpp/rpc_state.hpp"

using ocpp::MessageId;
using ocpp::RpcState;
using namespace std::chrono_literals;

TEST_CASE("incoming CALLs: duplicates in flight, retries after completion", "[rpc]") {
    RpcState rpc;
    const MessageId a("a");
    CHECK(rpc.on_incoming_call(a) == RpcState::Incoming::accepted);
    CHECK(rpc.on_incoming_call(a) == RpcState::Incoming::duplicate_in_flight);
    CHECK(rpc.incoming_in_flight() == 1);
    CHECK(rpc.complete_incoming(a));
    CHECK_FALSE(rpc.complete_incoming(a));
    CHECK(rpc.on_incoming_call(a) == RpcState::Incoming::retry);
    CHECK(rpc.complete_incoming(a));
    CHECK(rpc.incoming_in_flight() == 0);
}

TEST_CASE("incoming CALLs beyond the limit are refused", "[rpc]") {
    RpcState::Limits limits;
    limits.max_incoming_in_flight = 2;
    RpcState rpc(limits);
    CHECK(rpc.on_incoming_call(MessageId("1")) == RpcState::Incoming::accepted);
    CHECK(rpc.on_incoming_call(MessageId("2")) == RpcState::Incoming::accepted);
    CHECK(rpc.on_incoming_call(MessageId("3")) == RpcState::Incoming::too_many_in_flight);
    CHECK(rpc.complete_incoming(MessageId("1")));
    CHECK(rpc.on_incoming_call(MessageId("3")) == RpcState::Incoming::accepted);
}

TEST_CASE("remembered ids are bounded", "[rpc]") {
    RpcState::Limits limits;
    limits.remembered_ids = 2;
    RpcState rpc(limits);
    for (const char* id : {"1", "2", "3"}) {
        REQUIRE(rpc.on_incoming_call(MessageId(id)) == RpcState::Incoming::accepted);
        REQUIRE(rpc.complete_incoming(MessageId(id)));
    }
    CHECK(rpc.on_incoming_call(MessageId("1")) == RpcState::Incoming::accepted);  // forgotten
    CHECK(rpc.on_incoming_call(MessageId("2")) == RpcState::Incoming::retry);     // the two last
    CHECK(rpc.on_incoming_call(MessageId("3")) == RpcState::Incoming::retry);
}

TEST_CASE("remembered ids stay the last ones however often the oldest is replaced", "[rpc]") {
    RpcState::Limits limits;
    limits.remembered_ids = 3;
    RpcState rpc(limits);
    for (int i = 1; i <= 8; ++i) {
        const MessageId id(std::to_string(i));
        REQUIRE(rpc.on_incoming_call(id) == RpcState::Incoming::accepted);
        REQUIRE(rpc.complete_incoming(id));
    }
    // A retry is served again without being remembered twice: 6, 7 and 8 are still the three.
    REQUIRE(rpc.on_incoming_call(MessageId("7")) == RpcState::Incoming::retry);
    REQUIRE(rpc.complete_incoming(MessageId("7")));
    // Then each new id replaces the oldest remembered one: 1 replaces 6, and so on.
    for (const int i : {6, 7, 8, 1, 2, 3, 4, 5}) {
        const MessageId id(std::to_string(i));
        INFO("id " << i);
        CHECK(rpc.on_incoming_call(id) ==
              (i >= 6 ? RpcState::Incoming::retry : RpcState::Incoming::accepted));
        REQUIRE(rpc.complete_incoming(id));
    }
    CHECK(rpc.on_incoming_call(MessageId("2")) == RpcState::Incoming::accepted);  // replaced by 5
    CHECK(rpc.on_incoming_call(MessageId("5")) == RpcState::Incoming::retry);
}

TEST_CASE("one outgoing CALL at a time, matched by id", "[rpc]") {
    RpcState rpc;
    const auto t0 = RpcState::TimePoint{} + 1000s;
    CHECK(rpc.begin_outgoing(MessageId("c1"), "Reset", t0 + 30s) == RpcState::Outgoing::started);
    CHECK(rpc.begin_outgoing(MessageId("c2"), "Reset", t0 + 30s) == RpcState::Outgoing::busy);
    CHECK(rpc.outgoing_busy());
    CHECK(rpc.next_deadline() == t0 + 30s);

    CHECK(rpc.on_response(MessageId("zz")).kind == RpcState::Response::Kind::unknown);
    CHECK(rpc.outgoing_busy());  // an unknown id does not end the call
    const auto r = rpc.on_response(MessageId("c1"));
    CHECK(r.kind == RpcState::Response::Kind::matched);
    CHECK(r.action == "Reset");
    CHECK_FALSE(rpc.outgoing_busy());
    CHECK(rpc.on_response(MessageId("c1")).kind == RpcState::Response::Kind::unknown);
    CHECK(rpc.begin_outgoing(MessageId("c2"), "Reset", t0 + 30s) == RpcState::Outgoing::started);
}

TEST_CASE("an unanswered outgoing CALL times out and its late answer is recognised", "[rpc]") {
    RpcState rpc;
    const auto t0 = RpcState::TimePoint{} + 5000s;
    REQUIRE(rpc.begin_outgoing(MessageId("c1"), "GetConfiguration", t0 + 10s) ==
            RpcState::Outgoing::started);
    CHECK_FALSE(rpc.expire(t0 + 9s).has_value());
    CHECK(rpc.outgoing_busy());
    const auto expired = rpc.expire(t0 + 10s);
    REQUIRE(expired.has_value());
    CHECK(expired->first.get() == "c1");
    CHECK(expired->second == "GetConfiguration");
    CHECK_FALSE(rpc.outgoing_busy());
    CHECK_FALSE(rpc.next_deadline().has_value());
    CHECK(rpc.on_response(MessageId("c1")).kind == RpcState::Response::Kind::late);
}

TEST_CASE("both directions are independent", "[rpc]") {
    RpcState rpc;
    const auto t0 = RpcState::TimePoint{} + 1s;
    REQUIRE(rpc.begin_outgoing(MessageId("x"), "Reset", t0 + 30s) == RpcState::Outgoing::started);
    // A station CALL with the same id as ours is still its own CALL.
    CHECK(rpc.on_incoming_call(MessageId("x")) == RpcState::Incoming::accepted);
    CHECK(rpc.on_response(MessageId("x")).kind == RpcState::Response::Kind::matched);
    CHECK(rpc.complete_incoming(MessageId("x")));
}
