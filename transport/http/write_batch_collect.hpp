// The seam between WebSocket sessions and the write_batch open on a thread (server.hpp).
// Internal to transport/http.
#pragma once

#include <memory>

namespace sio::http {

class ws_session;

/// Adds `s` to the write_batch open on this thread; false when none is open (the caller
/// posts its flush itself).
bool write_batch_collect(std::shared_ptr<ws_session> s);

} // namespace sio::http
