# The official OCPP JSON schemas are a pinned build input, never copied into this repository.
# They come from the npm package below; each file is checked against its sha256 before use.
set(OCPP_SCHEMA_PACKAGE "ocpp-rpc")
set(OCPP_SCHEMA_PACKAGE_VERSION "2.2.1")
set(OCPP_SCHEMA_FILES
    "ocpp1_6.json|ocpp16|bcef6a1779d7e729d88f604b18a27084b25e3f1d94e95c5c744f1b4a23c47ae5"
    "ocpp2_0_1.json|ocpp201|bb3c94678892a15bea969666bda599cc342eb3c34b7b351ddcfa974da9765a60"
    "ocpp2_1.json|ocpp21|05ca95379552acf5de73d70566a063f44f6a1d4427072646605c5b352a05adb5")
