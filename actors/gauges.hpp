// The figures only a look at the server can give (actors/metrics.hpp's metrics_gauges):
// sessions by transport and protocol, Pusher connections, each namespace's sockets and
// rooms (asked of the namespace actors), the cluster's members, draining. Read by GET
// /metrics and by the console's `status`.
#pragma once

#include "actors/core.hpp"
#include "actors/metrics.hpp"

#include <caf/all.hpp>

#include <functional>
#include <memory>

namespace sio {

/// Reads the gauges; `done` runs in `self`'s context, once, when every namespace actor
/// answered (one silent for a second is left out).
void read_gauges(caf::event_based_actor* self, const std::shared_ptr<server_core>& core,
                 std::function<void(metrics_gauges)> done);

} // namespace sio
