// The protocol test fixture (`--app echo`), documented in docs/echo-fixture.md.
#pragma once

#include "actors/server.hpp"

namespace chat {

void mount_echo_app(sio::server& io);

} // namespace chat
