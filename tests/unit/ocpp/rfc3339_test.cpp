#include <catch2/catch.hpp>

#include "ocpp/rfc3339.hpp"

using ocpp::is_rfc3339_date_time;

TEST_CASE("valid RFC 3339 date-times are accepted", "[rfc3339]") {
    for (const char* text : {
             "2026-03-01T10:15:30Z",
             "2026-03-01T10:15:30.123Z",
             "2026-03-01T10:15:30.123456789Z",
             "2026-03-01T10:15:30+02:00",
             "2026-03-01T10:15:30-05:30",
             "2026-03-01T10:15:30.5+14:00",
             "2028-02-29T00:00:00Z",   // leap day
             "2000-02-29T23:59:59Z",   // divisible by 400
             "2016-12-31T23:59:60Z",   // leap second
             "2026-03-01t10:15:30z",   // lower case separators are allowed
             "0001-01-01T00:00:00Z",
         }) {
        CAPTURE(text);
        CHECK(is_rfc3339_date_time(text));
    }
}

TEST_CASE("malformed date-times are refused", "[rfc3339]") {
    for (const char* text : {
             "",
             "yesterday",
             "2026-03-01",
             "2026-03-01T10:15:30",        // no offset
             "2026-03-01 10:15:30Z",       // space separator
             "2026-13-01T10:15:30Z",       // month
             "2026-00-01T10:15:30Z",
             "2026-02-29T10:15:30Z",       // not a leap year
             "1900-02-29T10:15:30Z",       // divisible by 100
             "2026-04-31T10:15:30Z",
             "2026-03-00T10:15:30Z",
             "2026-03-01T24:00:00Z",
             "2026-03-01T10:60:00Z",
             "2026-03-01T10:15:61Z",
             "2026-03-01T10:15:30.Z",      // empty fraction
             "2026-03-01T10:15:30+2:00",   // short offset
             "2026-03-01T10:15:30+02",     // offset without minutes
             "2026-03-01T10:15:30+0200",   // offset without colon
             "2026-03-01T10:15:30+24:00",
             "2026-03-01T10:15:30+02:60",
             "2026-03-01T10:15:30Zjunk",
             "2026-03-01T10:15:30+02:00 ",
             "26-03-01T10:15:30Z",
             "2026-3-1T10:15:30Z",
             "２026-03-01T10:15:30Z",
         }) {
        CAPTURE(text);
        CHECK_FALSE(is_rfc3339_date_time(text));
    }
}
