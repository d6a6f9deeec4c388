#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "ocpp/actions.hpp"
#include "ocpp/frame.hpp"
#include "ocpp/repair.hpp"
#include "ocpp/result.hpp"
#include "ocpp/schema_registry.hpp"

namespace ocpp {

/// A station CALL that passed every check and may be published.
struct AcceptedCall {
    Call call;
    const ActionInfo* action;  ///< never null; its event_class is set
    /// Set when a tolerance profile's repairs made the payload valid; null otherwise.
    std::shared_ptr<const Repaired> repaired{};
};

/// Why a station CALL is refused, ready to become a CALLERROR.
struct Rejection {
    Errc errc;
    std::string message_id;   ///< "-1" when the id could not be read
    CallErrorCode code;       ///< the version-correct CALLERROR code
    std::string description;  ///< cut to 255 bytes
    bool answerable = true;   ///< false for a broken CALLRESULT / CALLERROR: send nothing back
    /// OCPP 2.1: answered with a CALLRESULTERROR (type 5), about a CALLRESULT of the station.
    bool about_result = false;

    CallError to_call_error(ProtocolVersion v) const;
    /// The frame that answers it: CALLERROR, or CALLRESULTERROR when `about_result`.
    std::string answer(ProtocolVersion v) const;
};

/// Checks a CALL (or, `as` send, a 2.1 SEND) from a station: the action exists in `v`, the
/// station may initiate it, it comes as the message type the action uses, and the payload
/// matches the request schema. Returns the call or the CALLERROR to send (a SEND's rejection
/// is not answerable).
Result<AcceptedCall, Rejection> accept_station_call(ProtocolVersion v, Call call,
                                                    const SchemaRegistry& schemas,
                                                    Rpc as = Rpc::call);

/// The rejection for a frame the codec refused.
Rejection reject_frame(ProtocolVersion v, const FrameError& error);

}  // namespace ocpp
