#pragma once

/// The official OCPP JSON schemas, embedded at build time (cmake/OcppSchemas.cmake). Each is a
/// JSON array of draft-07 schemas with `$id` "urn:<Action>.req" or "urn:<Action>.conf".
namespace ocpp::embedded {
extern const char* const ocpp16;
extern const char* const ocpp201;
extern const char* const ocpp21;
}  // namespace ocpp::embedded
